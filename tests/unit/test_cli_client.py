"""The CLI's HTTP client, over a scripted transport: the bearer token, retries with exponential backoff
on 429, 5xx and connection errors, one token renewal on a 401, and API errors as clear messages."""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Mapping
from typing import Any

import pytest

from costmetrics_cli.client import ApiClient, Reply
from costmetrics_cli.errors import ApiError, ConnectionFailed
from costmetrics_cli.stack import Stack

LOCAL = Stack("local", "http://127.0.0.1:3000", "us-east-1", "client", "http://127.0.0.1:5000")
DEPLOYED = Stack("cost-metrics-dev", "https://abc.execute-api.eu-west-1.amazonaws.com/dev", "eu-west-1", "c")


class Tokens:
    def __init__(self) -> None:
        self.current, self.renewals = "token-1", 0

    def token(self) -> str:
        return self.current

    def renewed(self, rejected: str) -> str:
        self.renewals += 1
        self.current = f"token-{self.renewals + 1}"
        return self.current


class Script:
    """Answers requests in order: a Reply, or an exception to raise."""

    def __init__(self, *answers: Reply | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, str, dict[str, str], bytes | None]] = []

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Reply:
        self.requests.append((method, url, dict(headers), body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def reply(status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, dict(headers or {}), json.dumps(body if body is not None else {}).encode())


def client(script: Script, stack: Stack = LOCAL, retries: int = 5) -> tuple[ApiClient, list[float]]:
    sleeps: list[float] = []
    api = ApiClient(stack, Tokens(), retries=retries, sleep=sleeps.append, transport=script)
    return api, sleeps


def test_a_request_carries_the_id_token_as_bearer_and_drops_empty_parameters() -> None:
    script = Script(reply(200, {"ok": True}))
    api, _ = client(script)
    assert api.get(
        "/api/activity", {"from": "2026-03-01T00:00:00Z", "agentId": None, "limit": 500}
    ).json() == {"ok": True}
    method, url, headers, _ = script.requests[0]
    assert (method, url) == (
        "GET",
        "http://127.0.0.1:3000/api/activity?from=2026-03-01T00%3A00%3A00Z&limit=500",
    )
    assert headers["Authorization"] == "Bearer token-1"
    assert headers["Accept"] == "application/json"


def test_429_and_5xx_are_retried_with_growing_delays() -> None:
    script = Script(reply(429), reply(503), reply(502), reply(200, {"accepted": 1}))
    api, sleeps = client(script)
    assert api.post("/api/activity", b'{"events": []}').json() == {"accepted": 1}
    assert len(script.requests) == 4
    # base 0.5 s doubling, each between half and all of its step (jitter)
    for delay, step in zip(sleeps, [0.5, 1.0, 2.0], strict=True):
        assert step / 2 <= delay <= step
    assert all(request[3] == b'{"events": []}' for request in script.requests)  # the same body each time


def test_retry_after_is_honoured() -> None:
    api, sleeps = client(Script(reply(429, headers={"Retry-After": "3"}), reply(200)))
    api.get("/api/health")
    assert sleeps == [3.0]


def test_connection_errors_are_retried_then_reported_with_what_to_do() -> None:
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    api, sleeps = client(Script(refused, refused, refused), retries=2)
    with pytest.raises(ConnectionFailed) as failure:
        api.get("/api/cost-analysis/summary")
    assert len(sleeps) == 2
    assert "cannot reach the API at http://127.0.0.1:3000" in failure.value.message
    assert "make local" in failure.value.message


def test_a_timeout_is_retried_like_a_refused_connection() -> None:
    api, _ = client(Script(TimeoutError("timed out"), reply(200, {"ok": 1})))
    assert api.get("/x").json() == {"ok": 1}


def test_a_5xx_that_persists_is_an_api_error_after_the_retries() -> None:
    body = {"error": "internal_error", "message": "internal error; the request id is in the logs"}
    api, sleeps = client(Script(*[reply(500, body)] * 3), retries=2)
    with pytest.raises(ApiError) as failure:
        api.get("/x")
    assert failure.value.status == 500
    assert len(sleeps) == 2


def test_a_4xx_is_not_retried_and_names_the_problem() -> None:
    body = {
        "error": "invalid_request",
        "message": "invalid value for: month",
        "details": [{"in": "query", "field": "month", "problem": "String should match pattern"}],
    }
    api, sleeps = client(Script(reply(400, body)))
    with pytest.raises(ApiError) as failure:
        api.get("/api/cost-analysis/summary", {"month": "2026-13"})
    assert sleeps == []
    assert failure.value.message == (
        "the API answered 400 invalid_request: invalid value for: month\n"
        "  query.month: String should match pattern"
    )


def test_api_gateways_own_error_shape_is_understood() -> None:
    api, _ = client(
        Script(reply(403, {"message": "User is not authorized to access this resource"})), DEPLOYED
    )
    with pytest.raises(ApiError, match="403: User is not authorized"):
        api.get("/x")


def test_a_401_renews_the_token_once_and_sends_again() -> None:
    script = Script(reply(401, {"message": "Unauthorized"}), reply(200, {"ok": True}))
    api, sleeps = client(script)
    assert api.get("/x").json() == {"ok": True}
    assert [r[2]["Authorization"] for r in script.requests] == ["Bearer token-1", "Bearer token-2"]
    assert sleeps == []


def test_a_second_401_says_to_log_in() -> None:
    api, _ = client(Script(reply(401, {"error": "unauthorized"}), reply(401, {"error": "unauthorized"})))
    with pytest.raises(ApiError) as failure:
        api.get("/x")
    assert failure.value.status == 401
    assert "costmetrics login" in failure.value.message


def test_a_non_json_error_body_is_shown_as_text() -> None:
    api, _ = client(Script(Reply(404, {}, b"<html>Not Found</html>")))
    with pytest.raises(ApiError, match="404: <html>Not Found</html>"):
        api.get("/x")
