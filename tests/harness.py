"""The in-process twin of the deployed service for tests: API calls routed by template.yaml to the real
handlers, and the events stream delivered to the real rollup handler as Lambda would."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import Any

import boto3

from local_stack.apigw import LambdaContext, claims_for, match_route, rest_event
from local_stack.provision import Stack
from local_stack.streams import StreamReader
from local_stack.template import Route, routes


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


def handler_of(module: str) -> Any:
    return importlib.import_module(module).lambda_handler


def route_for(method: str, path: str) -> tuple[Route, dict[str, str] | None]:
    """The template route API Gateway would pick for `method path`, and its path parameters."""
    for route in routes():
        params = match_route(route.path, path)
        if route.method == method and params is not None:
            return route, params
    raise AssertionError(f"no route in template.yaml for {method} {path}")


class Api:
    """Calls routes as API Gateway would after its authorizer; `claims=None` means no token at all."""

    def __init__(self, workspace_id: str = "ws-acme", groups: tuple[str, ...] = ("admin",)) -> None:
        self.claims: dict[str, str] | None = claims_for(workspace_id, list(groups))

    def as_(self, workspace_id: str, *groups: str) -> Api:
        return Api(workspace_id, groups or ("admin",))

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: str | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        claims: dict[str, str] | bool | None = True,
    ) -> Reply:
        route, params = route_for(method, path)
        used_claims = self.claims if claims is True else (claims or None)
        if route.authorized and used_claims is None:
            return Reply(
                401, {}, json.dumps({"error": "unauthorized", "message": "missing or invalid bearer token"})
            )
        event = rest_event(
            method,
            path,
            resource=route.path,
            path_parameters=params or None,
            query=query,
            body=body,
            headers=headers,
            claims=used_claims if route.authorized else None,
        )
        response = handler_of(route.module)(event, LambdaContext.named(route.function))
        headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
        headers.update(response.get("headers") or {})
        return Reply(response["statusCode"], headers, response.get("body") or "")

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.call("GET", path, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return self.call("PUT", path, body=body, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return self.call("POST", path, body=body, **kwargs)


class Stream:
    """The events table's stream, read from moto and delivered to the rollup handler."""

    def __init__(self, stack: Stack) -> None:
        client = boto3.client("dynamodbstreams", region_name="us-east-1")
        self.reader = StreamReader(client, stack.outputs["EventsStreamArn"])
        self.delivered: list[dict[str, Any]] = []

    def pending(self) -> list[dict[str, Any]]:
        return self.reader.read(limit=100_000)

    def deliver(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        handler = handler_of("functions.rollup.app")
        result: dict[str, Any] = handler({"Records": records}, LambdaContext.named("RollupFunction"))
        return result

    def drain(self, batch_size: int = 100) -> list[dict[str, Any]]:
        """Delivers every pending record in batches as Lambda would; returns the records delivered."""
        records = self.pending()
        for start in range(0, len(records), batch_size):
            result = self.deliver(records[start : start + batch_size])
            assert result == {"batchItemFailures": []}, result
        self.delivered.extend(records)
        return records
