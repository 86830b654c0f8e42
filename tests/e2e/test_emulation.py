"""The local stack's emulation of Lambda and API Gateway, in process and without moto: the event source
mapping's retry, bisect and on-failure semantics, and the gateway's routing and proxy-response handling.
(The e2e tests check the same through a running stack, but only one failure scenario each.)"""

from __future__ import annotations

import base64
import json
import socket
from typing import Any

import pytest

from local_stack.authorizer import InvalidToken, bearer_token, gateway_claims
from local_stack.gateway import ApiServer, Gateway, HttpRequest
from local_stack.poller import MappingConfig, StreamPoller
from local_stack.template import Route

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"


class _Reader:
    stream_arn = STREAM

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.pending = records

    def read_shards(self, limit: int = 1000) -> dict[str, list[dict[str, Any]]]:
        records, self.pending = self.pending, []
        return {"shardId-1": records} if records else {}


def _records(*sequences: int, created: int = 1_800_000_000) -> list[dict[str, Any]]:
    return [
        {
            "eventID": str(s),
            "eventName": "INSERT",
            "dynamodb": {"SequenceNumber": str(s), "ApproximateCreationDateTime": created},
        }
        for s in sequences
    ]


def _poller(
    records: list[dict[str, Any]], invoke: Any, **config: Any
) -> tuple[StreamPoller, list[dict[str, Any]]]:
    letters: list[dict[str, Any]] = []
    settings = {"batch_size": 10, "report_item_failures": True, "bisect": True, "max_retries": 3, **config}
    poller = StreamPoller(
        _Reader(records),
        "RollupFunction",
        invoke,
        MappingConfig(**settings),
        letters.append,
        retry_delay=0,
        clock=lambda: 1_800_000_010,
    )
    return poller, letters


def _sequences(event: dict[str, Any]) -> list[int]:
    return [int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]]


def test_a_reported_failure_is_retried_from_it_then_sent_to_the_dlq() -> None:
    batches: list[list[int]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        batches.append(_sequences(event))
        failed = [{"itemIdentifier": "3"}] if 3 in batches[-1] else []
        return {"batchItemFailures": failed}

    poller, letters = _poller(_records(1, 2, 3, 4, 5), invoke)
    poller.poll_once()
    # Records before the lowest failure are checkpointed; that record and all after it come again.
    assert batches == [[1, 2, 3, 4, 5], [3, 4, 5], [3, 4, 5], [3, 4, 5]]
    (letter,) = letters
    assert letter["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert letter["requestContext"]["approximateInvokeCount"] == 4
    assert "functionError" not in letter["responseContext"]
    info = letter["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("3", "5", 3)
    assert info["streamArn"] == STREAM
    assert info["shardId"] == "shardId-1"
    assert info["approximateArrivalOfFirstRecord"] == "2027-01-15T08:00:00Z"


def test_a_function_error_bisects_the_batch_until_the_bad_record_is_alone() -> None:
    batches: list[list[int]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        batches.append(_sequences(event))
        if 3 in batches[-1]:
            raise RuntimeError("poison")
        return {"batchItemFailures": []}

    poller, letters = _poller(_records(1, 2, 3, 4), invoke)
    poller.poll_once()
    # Splitting does not count as a retry; the lone record then gets its 3 retries.
    assert batches == [[1, 2, 3, 4], [1, 2], [3, 4], [3], [3], [3], [3], [4]]
    (letter,) = letters
    assert letter["responseContext"]["functionError"] == "Unhandled"
    assert letter["DDBStreamBatchInfo"]["batchSize"] == 1


def test_without_bisect_a_failing_batch_is_retried_whole() -> None:
    batches: list[list[int]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        batches.append(_sequences(event))
        raise RuntimeError("down")

    poller, letters = _poller(_records(1, 2), invoke, bisect=False, max_retries=1)
    poller.poll_once()
    assert batches == [[1, 2], [1, 2]]
    assert letters[0]["DDBStreamBatchInfo"]["batchSize"] == 2


def test_an_answer_naming_a_record_outside_the_batch_fails_the_whole_batch() -> None:
    calls: list[list[int]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        calls.append(_sequences(event))
        return {"batchItemFailures": [{"itemIdentifier": "999"}]}

    poller, letters = _poller(_records(1), invoke, max_retries=0)
    poller.poll_once()
    assert calls == [[1]]
    assert letters[0]["responseContext"]["functionError"] == "Unhandled"


def test_records_older_than_the_maximum_age_are_discarded_unseen() -> None:
    calls: list[list[int]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        calls.append(_sequences(event))
        return None

    old = _records(1, 2, created=1_800_000_010 - 7200)
    poller, letters = _poller([*old, *_records(3)], invoke, max_record_age=3600)
    poller.poll_once()
    assert calls == [[3]]
    assert letters[0]["requestContext"]["condition"] == "RecordAgeExceeded"
    assert letters[0]["DDBStreamBatchInfo"]["batchSize"] == 2


def test_a_partial_batch_waits_for_the_batching_window() -> None:
    calls: list[list[int]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        calls.append(_sequences(event))
        return None

    poller, _ = _poller(_records(1, 2), invoke, batching_window=60)
    poller.poll_once()
    assert calls == []
    full, _ = _poller(_records(*range(1, 11)), invoke, batching_window=60)
    full.poll_once()
    assert calls == [list(range(1, 11))]


def test_the_template_s_mapping_is_read_as_lambda_would() -> None:
    config = MappingConfig.from_template("RollupFunction")
    assert config.report_item_failures
    assert config.bisect
    assert config.batch_size >= 1
    assert config.max_retries >= 0
    assert config.on_failure is not None


# --- Gateway ---------------------------------------------------------------------------------------


class _Authorizer:
    def verify(self, authorization: str | None) -> dict[str, str]:
        if authorization != "Bearer good":
            raise InvalidToken("bad")
        return {"custom:workspace_id": "ws", "cognito:groups": "admin"}


def _gateway(answer: Any, calls: list[tuple[str, dict[str, Any]]] | None = None) -> Gateway:
    def invoke(function: str, event: dict[str, Any]) -> Any:
        if calls is not None:
            calls.append((function, event))
        if isinstance(answer, Exception):
            raise answer
        return answer

    gateway = Gateway(invoke, _Authorizer())  # type: ignore[arg-type]
    gateway.routes = [
        Route("GET", "/api/agents/{agentId}", "AgentsFunction", "functions.agents.app", True),
        Route("GET", "/api/agents/workforce", "WorkforceFunction", "functions.workforce.app", True),
        Route("GET", "/api/health", "HealthFunction", "functions.health.app", False),
    ]
    return gateway


def _get(gateway: Gateway, target: str, headers: list[tuple[str, str]] | None = None) -> Any:
    chosen = [("Authorization", "Bearer good")] if headers is None else headers
    return gateway.handle(HttpRequest("GET", target, chosen))


def test_a_literal_path_segment_wins_over_a_parameter() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    gateway = _gateway({"statusCode": 200, "body": "{}"}, calls)
    _get(gateway, "/api/agents/workforce")
    _get(gateway, "/api/agents/nova%20x?a=1&a=2")
    assert [function for function, _ in calls] == ["WorkforceFunction", "AgentsFunction"]
    event = calls[1][1]
    assert event["resource"] == "/api/agents/{agentId}"
    assert event["pathParameters"] == {"agentId": "nova x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["requestContext"]["authorizer"]["claims"]["custom:workspace_id"] == "ws"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/nothing"),
        ("DELETE", "/api/health"),
        ("DELETE", "/api/agents/nova"),
        ("TRACE", "/api/agents"),
        ("PATCH", "/api/cost-analysis/summary"),
        ("POST", "/api/nothing/deeper"),
        ("FETCH", "/api/activity"),
    ],
)
def test_a_path_or_method_without_route_is_the_templates_json_404(method: str, path: str) -> None:
    # API Gateway answers both with MISSING_AUTHENTICATION_TOKEN, which the template makes a 404 not_found.
    gateway = _gateway({"statusCode": 200, "body": "{}"})
    reply = gateway.handle(HttpRequest(method, path, [("Authorization", "Bearer good")]))
    assert reply.status == 404
    assert json.loads(reply.body) == {"error": "not_found", "message": "no route for this method and path"}
    assert dict(reply.headers)["Content-Type"] == "application/json"


def test_the_authorizer_runs_only_on_authorized_routes() -> None:
    gateway = _gateway({"statusCode": 200, "body": "{}"})
    assert _get(gateway, "/api/agents/nova", headers=[]).status == 401
    assert _get(gateway, "/api/agents/nova", headers=[("Authorization", "Bearer bad")]).status == 401
    assert _get(gateway, "/api/health", headers=[]).status == 200


@pytest.mark.parametrize(
    "answer",
    [RuntimeError("boom"), {"body": "no status"}, "not a dict", {"statusCode": 200, "body": {"x": 1}}],
)
def test_a_handler_error_or_malformed_answer_is_502(answer: Any) -> None:
    reply = _get(_gateway(answer), "/api/health")
    assert reply.status == 502
    assert json.loads(reply.body) == {"error": "internal_error", "message": "Internal server error"}


def test_proxy_response_headers_and_base64_bodies() -> None:
    answer = {
        "statusCode": 201,
        "headers": {"X-One": "a", "X-Both": "from-headers"},
        "multiValueHeaders": {"X-Both": ["m1", "m2"]},
        "body": base64.b64encode(b"\x00binary").decode(),
        "isBase64Encoded": True,
    }
    # A client whose first Accept value is one of the Api's BinaryMediaTypes gets the bytes...
    reply = _get(_gateway(answer), "/api/health", [("Accept", "application/x-protobuf, */*")])
    assert reply.status == 201
    assert reply.body == b"\x00binary"
    assert [value for name, value in reply.headers if name == "X-Both"] == ["m1", "m2"]
    assert reply.header("X-One") == "a"
    assert reply.header("Content-Type") == "application/json"
    # ...any other gets the base64 text, as API Gateway answers it
    assert _get(_gateway(answer), "/api/health", [("Accept", "*/*")]).body == base64.b64encode(b"\x00binary")


def test_claims_are_handed_on_as_api_gateway_does() -> None:
    claims = gateway_claims(
        {
            "exp": 1_800_000_000,
            "iat": 1_799_996_400,
            "auth_time": 1_799_996_400,
            "cognito:groups": ["admin", "viewer"],
            "email_verified": True,
            "custom:x": "y",
        }
    )
    assert claims == {
        "exp": "Fri Jan 15 08:00:00 UTC 2027",
        "iat": "Fri Jan 15 07:00:00 UTC 2027",
        "auth_time": "1799996400",
        "cognito:groups": "admin,viewer",
        "email_verified": "true",
        "custom:x": "y",
    }


@pytest.mark.parametrize(
    ("header", "token"), [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("abc", "abc")]
)
def test_bearer_token_accepts_raw_or_bearer(header: str, token: str) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   "])
def test_bearer_token_rejects_no_token(header: str | None) -> None:
    with pytest.raises(InvalidToken):
        bearer_token(header)


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "BREW", "DELETE"])
def test_the_http_server_answers_any_method_in_json_never_an_html_page(method: str) -> None:
    server = ApiServer("127.0.0.1", 0, _gateway({"statusCode": 200, "body": "{}"}))
    server.serve_in_background()
    try:
        with socket.create_connection(server.server_address[:2], timeout=10) as connection:
            connection.sendall(
                f"{method} /api/agents HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n".encode()
            )
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
    finally:
        server.stop()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 404 Not Found"
    assert b"Content-Type: application/json" in head
    assert json.loads(body) == {"error": "not_found", "message": "no route for this method and path"}
