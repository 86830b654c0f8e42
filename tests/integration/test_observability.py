"""What the functions write to stdout, which Lambda ships to CloudWatch: structured log lines that carry the
correlation id, the workspace and the route but never a bearer token or the cursor secret (even with
POWERTOOLS_LOGGER_LOG_EVENT=true and at DEBUG), and EMF metrics per route with a low-cardinality `route`
dimension, plus the ingestion, rollup and budget-alert metrics the dashboard and the alarms read."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from costmetrics import cursors
from costmetrics.observability import logger, metrics
from local_stack.apigw import LambdaContext, claims_for, rest_event
from tests.datasets import agent_body, iso
from tests.harness import Stream, handler_of, route_for

# What a caller sends and a server must never write down: an ID token (header.payload.signature).
ID_TOKEN = (
    "eyJraWQiOiJvYnNlcnZhYmlsaXR5LXRlc3QifQ.eyJzdWIiOiJzZWNyZXQtc3ViamVjdCJ9.c2lnbmF0dXJlLW5ldmVyLWxvZ2dlZA"
)
WORKSPACE = "ws-observed"


@dataclass
class Output:
    """stdout split into Powertools log lines and EMF metric blobs (anything else is kept as text)."""

    text: str
    logs: list[dict[str, Any]] = field(default_factory=list)
    emf: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Output:
        out = cls(text)
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "_aws" in record:
                out.emf.append(record)
            elif isinstance(record, dict) and "level" in record:
                out.logs.append(record)
        return out

    def metric_blobs(self, metric: str) -> list[dict[str, Any]]:
        return [
            blob
            for blob in self.emf
            if any(m["Name"] == metric for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"])
        ]

    @staticmethod
    def values(blob: dict[str, Any], *names: str) -> tuple[float, ...]:
        """The value of each metric in one invocation's blob (EMF holds a list of values per metric)."""
        found = []
        for name in names:
            (value,) = blob[name]
            found.append(value)
        return tuple(found)

    def route_blob(self, route: str) -> dict[str, Any]:
        (blob,) = [b for b in self.metric_blobs("Requests") if b.get("route") == route]
        return blob


class _CurrentStdout:
    """Writes to whatever sys.stdout is at the time, as `print` does (and so Lambda's stdout in AWS): the
    logger's handler keeps the stream it was built with, which is not the one capsys swaps in."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def observed(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Logs at DEBUG with event logging asked for by the environment, metrics on, all to capsys' stdout."""
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous_stream = handler.setStream(_CurrentStdout())
    previous_level = logger.log_level
    logger.setLevel("DEBUG")
    metrics.clear_metrics()
    capsys.readouterr()
    yield
    logger.setLevel(previous_level)
    handler.setStream(previous_stream)
    metrics.clear_metrics()


def call(
    method: str,
    path: str,
    *,
    groups: tuple[str, ...] = ("admin",),
    body: Any = None,
    query: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event API Gateway sends after its Cognito authorizer (the bearer token still in the headers),
    run through the route's real handler; returns (event, response)."""
    route, params = route_for(method, path)
    event = rest_event(
        method,
        path,
        resource=route.path,
        path_parameters=params or None,
        query=query,
        body=body,
        headers={"Authorization": f"Bearer {ID_TOKEN}"},
        claims=claims_for(WORKSPACE, list(groups)) if route.authorized else None,
    )
    response = handler_of(route.module)(event, LambdaContext.named(route.function))
    return event, response


def event(event_id: str, agent: str = "nova") -> dict[str, Any]:
    return {
        "id": event_id,
        "agentId": agent,
        "eventType": "model_invocation",
        "createdAt": iso(datetime.now(UTC)),
        "details": {"model": "claude-haiku-3.5", "inputTokens": 1000, "outputTokens": 10},
    }


def cursor_secret(stack: Any) -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    value: str = client.get_secret_value(SecretId=stack.outputs["CursorSecretArn"])["SecretString"]
    return value


def test_log_lines_carry_correlation_id_workspace_and_route_and_never_a_token_or_the_secret(
    stack: Any, observed: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workspace with an agent, events, and a signing key read during this test
    cursors._key.cache_clear()
    call("PUT", "/api/agents/nova", body=agent_body("Nova", cost_budget_monthly=100))
    call("POST", "/api/activity", groups=("ingest",), body={"events": [event("e-1"), event("e-2")]})
    Stream(stack).drain()

    # When the log is paged with a signed cursor, and a read fails unexpectedly
    first_event, first = call("GET", "/api/activity", groups=("viewer",), query={"limit": "1"})
    next_token = json.loads(first["body"])["pagination"]["nextToken"]
    assert next_token
    call("GET", "/api/activity", groups=("viewer",), query={"limit": "1", "nextToken": next_token})

    from costmetrics import cost_analysis

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("rollups unavailable")

    monkeypatch.setattr(cost_analysis, "summary_for", broken)
    failed_event, failed = call("GET", "/api/cost-analysis/summary", groups=("viewer",))
    assert failed["statusCode"] == 500

    # Then every request left log lines with its correlation id, workspace and route
    captured = capsys.readouterr()
    out = Output.parse(captured.out)
    by_request = {
        line.get("correlation_id"): line for line in out.logs if line["message"] == "request handled"
    }
    page = by_request[first_event["requestContext"]["requestId"]]
    assert (page["workspace_id"], page["route"], page["status"]) == (WORKSPACE, "GET /api/activity", 200)
    assert page["function_name"] == "ActivityFunction"
    (error_line,) = [line for line in out.logs if line["message"] == "unhandled error"]
    assert error_line["correlation_id"] == failed_event["requestContext"]["requestId"]
    assert (error_line["workspace_id"], error_line["route"]) == (WORKSPACE, "GET /api/cost-analysis/summary")
    assert "rollups unavailable" in error_line["exception"]
    assert len(by_request) == 5, [line["message"] for line in out.logs]

    # And nothing written anywhere holds the token, its signature, the secret, or a logged event
    everything = captured.out + captured.err
    secret = cursor_secret(stack)
    assert len(secret) >= 32
    for forbidden in (ID_TOKEN, ID_TOKEN.rsplit(".", 1)[1], "Bearer ", secret, "Authorization"):
        assert forbidden not in everything, forbidden
    assert not [line for line in out.logs if "requestContext" in json.dumps(line)]


def test_each_route_call_emits_requests_latency_and_errors_with_its_route_template(
    stack: Any, observed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    call("PUT", "/api/agents/agent-with-an-id-never-a-dimension", body=agent_body("A", cost_budget_monthly=1))
    call("GET", "/api/agents/agent-with-an-id-never-a-dimension", groups=("viewer",))
    call("PUT", "/api/agents/nova", groups=("viewer",), body=agent_body("Nova"))  # 403: viewers cannot
    call("GET", "/api/cost-analysis/summary", groups=("viewer",), query={"month": "2026-13"})  # 400

    out = Output.parse(capsys.readouterr().out)
    get_agent = out.route_blob("GET /api/agents/{agentId}")
    (definition,) = get_agent["_aws"]["CloudWatchMetrics"]
    assert definition["Namespace"] == "CostMetrics"
    assert sorted(definition["Dimensions"][0]) == ["route", "service"]
    units = {m["Name"]: m["Unit"] for m in definition["Metrics"]}
    assert units == {
        "Requests": "Count",
        "Latency": "Milliseconds",
        "ClientErrors": "Count",
        "ServerErrors": "Count",
    }
    assert Output.values(get_agent, "Requests", "ClientErrors", "ServerErrors") == (1, 0, 0)
    assert 0 <= Output.values(get_agent, "Latency")[0] < 30_000

    put_agent = [b for b in out.metric_blobs("Requests") if b["route"] == "PUT /api/agents/{agentId}"]
    assert sorted(Output.values(b, "ClientErrors", "ServerErrors") for b in put_agent) == [(0, 0), (1, 0)]
    summary = out.route_blob("GET /api/cost-analysis/summary")
    assert Output.values(summary, "ClientErrors", "ServerErrors") == (1, 0)

    # Dimensions hold route templates and the service, never an id from the path.
    dimension_values = {
        str(blob[name])
        for blob in out.emf
        for definition in blob["_aws"]["CloudWatchMetrics"]
        for names in definition["Dimensions"]
        for name in names
    }
    assert not [v for v in dimension_values if "agent-with-an-id" in v]


def test_a_server_error_counts_as_a_5xx_of_its_route(
    stack: Any, observed: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from costmetrics import workforce

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(workforce, "trends_for", broken)
    _, response = call("GET", "/api/agents/workforce/trends", groups=("viewer",))
    assert response["statusCode"] == 500
    blob = Output.parse(capsys.readouterr().out).route_blob("GET /api/agents/workforce/trends")
    assert Output.values(blob, "Requests", "ClientErrors", "ServerErrors") == (1, 0, 1)


def test_ingestion_emits_ingested_duplicate_and_rejected_counts(
    stack: Any, observed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    call("PUT", "/api/agents/nova", body=agent_body("Nova", cost_budget_monthly=100))
    call("POST", "/api/activity", groups=("ingest",), body={"events": [event("dup")]})
    capsys.readouterr()

    _, response = call(
        "POST",
        "/api/activity",
        groups=("ingest",),
        body={"events": [event("new-1"), event("new-2"), event("dup"), event("ghost-1", agent="ghost")]},
    )

    assert json.loads(response["body"])["accepted"] == 2
    blob = Output.parse(capsys.readouterr().out).route_blob("POST /api/activity")
    assert Output.values(blob, "EventsIngested", "DuplicateEvents", "RejectedEvents") == (2, 1, 1)


def test_the_rollup_function_emits_batch_size_writes_and_failed_records(
    stack: Any, observed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    call("PUT", "/api/agents/nova", body=agent_body("Nova", cost_budget_monthly=100))
    call("POST", "/api/activity", groups=("ingest",), body={"events": [event("r-1"), event("r-2")]})
    stream = Stream(stack)
    records = stream.pending()
    capsys.readouterr()

    assert stream.deliver(records) == {"batchItemFailures": []}

    out = Output.parse(capsys.readouterr().out)
    (blob,) = out.metric_blobs("BatchSize")
    assert Output.values(blob, "BatchSize") == (len(records),)
    assert Output.values(blob, "RollupEventsApplied", "BatchItemFailures") == (2, 0)
    assert min(Output.values(blob, "RollupWrites", "RollupTransactions")) >= 1
    assert "route" not in blob
    (summary,) = [line for line in out.logs if line["message"] == "batch rolled up"]
    assert summary["function_name"] == "RollupFunction"


def test_the_budget_alert_function_emits_sent_and_failed_counts(
    stack: Any, observed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule = {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}

    result = handler_of("functions.budget_alerts.app")(schedule, LambdaContext.named("BudgetAlertFunction"))

    (blob,) = Output.parse(capsys.readouterr().out).metric_blobs("AlertsSent")
    assert Output.values(blob, "AlertsSent", "AlertPublishFailures") == (result["sent"], 0)


def test_the_tracer_names_the_same_service_as_the_logs_and_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    from costmetrics import observability

    monkeypatch.setattr(observability, "SERVICE", "costmetrics-prod-stack")
    observability.tracer.cache_clear()
    try:
        assert observability.tracer().service == "costmetrics-prod-stack"
    finally:
        observability.tracer.cache_clear()
