"""API Gateway REST proxy events and Lambda contexts, as the real services build them. The one factory
behind the local API server, the tests and the events/ files."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs


def claims_for(
    workspace_id: str,
    groups: list[str],
    *,
    sub: str = "11111111-2222-3333-4444-555555555555",
    username: str = "demo@example.com",
) -> dict[str, str]:
    """ID-token claims as API Gateway's Cognito authorizer hands them on: every value a string."""
    return {
        "sub": sub,
        "cognito:username": username,
        "cognito:groups": ",".join(groups),
        "custom:workspace_id": workspace_id,
        "token_use": "id",
        "email": username,
    }


def rest_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: str | dict[str, str | list[str]] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
    stage: str = "local",
) -> dict[str, Any]:
    """A REST API (v1) proxy integration event for `method path`."""
    if isinstance(query, str):
        multi = dict(parse_qs(query, keep_blank_values=True).items())
    else:
        multi = {k: (v if isinstance(v, list) else [v]) for k, v in (query or {}).items()}
    all_headers = {"Accept": "application/json", "Host": "localhost", **(headers or {})}
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
        all_headers.setdefault("Content-Type", "application/json")
    now = datetime.now(UTC)
    authorizer: dict[str, Any] = {"claims": claims} if claims is not None else {}
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "protocol": "HTTP/1.1",
            "accountId": "123456789012",
            "apiId": "localapi01",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": all_headers.get("User-Agent", "local")},
            "authorizer": authorizer,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def match_route(template_path: str, path: str) -> dict[str, str] | None:
    """Path parameters if `path` matches a template path such as /api/agents/{agentId}, else None."""
    pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template_path)) + "$"
    found = re.match(pattern, path)
    return found.groupdict() if found else None


@dataclass
class LambdaContext:
    """The attributes of a Lambda context object that Powertools reads."""

    function_name: str = "local-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:local-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local-function"
    log_stream_name: str = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000

    @classmethod
    def named(cls, function_name: str) -> LambdaContext:
        return cls(
            function_name=function_name,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
        )
