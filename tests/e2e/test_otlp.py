"""POST /v1/traces against the local stack, with real clients: a program instrumented with the OpenTelemetry
SDK and the OTLP/HTTP exporters (tests/e2e/otel_agent.py, configured only by OTEL_EXPORTER_OTLP_*) exports an
agent session's GenAI spans with an ingest key; the costs (cache tokens priced once), token counts and
activity show in /api/cost-analysis/* and /api/activity, and exporting the same spans again changes nothing.
Both encodings, protobuf (gzip'd) and JSON; and the openai client instrumented by the OpenTelemetry
project's openai-v2 instrumentation, against a stand-in OpenAI server. Then what a client learns from the
answer (partial success naming each rejected span), hostile bodies (4xx, nothing stored), a revoked key,
and the ingest rate of OTLP batches, measured on a stack of its own."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from tests.datasets import agent_body
from tests.e2e.support import (
    ROOT,
    RunningStack,
    fresh_workspace,
    http,
    past_the_batching_window,
    wait_for,
    write_summary,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

AGENT, AGENT_NAME = "research-bot", "Research Bot"
PROTOBUF = "application/x-protobuf"
RATES: dict[str, str] = {}

# The session's model spans (tests/e2e/otel_agent.py), priced here from the published list prices
# (tests/e2e/support.py) independently of the code: gen_ai.usage.input_tokens includes the cache tokens,
# so the fresh input is what is left of it.
# model: (input_tokens, cache_read, cache_creation, output_tokens, input, cache read, cache write, output $/M)
SESSION = {
    "claude-sonnet-4-6": (1_200_000, 800_000, 200_000, 90_000, "3.00", "0.30", "3.75", "15.00"),
    "gpt-5.4-mini": (500_000, 400_000, 0, 30_000, "0.75", "0.075", "0.75", "4.50"),
    "gpt-5.4-nano": (1_000_000, 0, 0, 0, "0.20", "0.02", "0.20", "1.25"),
    "claude-haiku-4-5": (1000, 0, 0, 0, "1.00", "0.10", "1.25", "5.00"),
}


def priced_once(model: str) -> Decimal:
    tokens, read, write, out, p_in, p_read, p_write, p_out = SESSION[model]
    fresh = tokens - read - write
    return (
        fresh * Decimal(p_in) + read * Decimal(p_read) + write * Decimal(p_write) + out * Decimal(p_out)
    ) / 1_000_000


def priced_twice(model: str) -> Decimal:
    """What a service that prices input_tokens whole and the cache tokens again would charge."""
    tokens, read, write, out, p_in, p_read, p_write, p_out = SESSION[model]
    return (
        tokens * Decimal(p_in) + read * Decimal(p_read) + write * Decimal(p_write) + out * Decimal(p_out)
    ) / 1_000_000


@dataclass
class Fleet:
    workspace: str
    admin: str  # ID token
    key: str  # ingest key


def _fleet(stack: RunningStack) -> Fleet:
    workspace = fresh_workspace()
    admin = stack.new_user(workspace, "admin")
    agent = agent_body(AGENT_NAME, status="online", cost_budget_monthly=100)
    assert http("PUT", f"{stack.api}/api/agents/{AGENT}", token=admin, body=agent).status == 200
    created = http("POST", f"{stack.api}/api/ingest-keys", token=admin, body={"name": "otel fleet"})
    assert created.status == 201, created.body
    return Fleet(workspace, admin, created.body["key"])


@pytest.fixture
def fleet(stack: RunningStack) -> Fleet:
    return _fleet(stack)


def start_ns(minutes_ago: int = 10) -> int:
    """A start in the stack's clock (this process travels with it, tests/clock.py), the same month."""
    now = datetime.now(UTC)
    start = now - timedelta(minutes=minutes_ago)
    if start.month != now.month:
        start = now.replace(day=1, hour=0, minute=0, second=1, microsecond=0)
    return int(start.timestamp()) * 1_000_000_000


def run_agent(
    stack: RunningStack,
    key: str,
    *,
    protocol: str,
    compression: str = "none",
    program: str = "tests.e2e.otel_agent",
    **agent: str,
) -> dict[str, Any]:
    """tests/e2e/otel_agent.py in its own process, pointed at the stack by the standard variables only."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=stack.api,
        OTEL_EXPORTER_OTLP_HEADERS=f"Authorization={quote('Bearer ' + key)}",
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_EXPORTER_OTLP_COMPRESSION=compression,
        OTEL_SERVICE_NAME=AGENT,
        AGENT_ID=AGENT,
        AGENT_NAME=AGENT_NAME,
        AGENT_SEED=agent.pop("seed", "1"),
        AGENT_START_NS=agent.pop("start", str(start_ns())),
        **agent,
    )
    done = subprocess.run(
        [sys.executable, "-m", program],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def by_model(stack: RunningStack, token: str) -> dict[str, Any]:
    return {row["model"]: row for row in stack.get("/api/cost-analysis/by-model", token).body["models"]}


def activity(stack: RunningStack, token: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = stack.get("/api/activity?limit=500", token).body["data"]
    return data


@pytest.mark.parametrize(
    ("protocol", "compression"), [("http/protobuf", "gzip"), ("http/json", "none")], ids=["protobuf", "json"]
)
def test_sdk_spans_become_costs_priced_once_and_a_second_export_changes_nothing(
    protocol: str, compression: str, fleet: Fleet, stack: RunningStack, request: pytest.FixtureRequest
) -> None:
    # Given an agent instrumented with the SDK, exporting to the stack with an ingest key
    started = time.monotonic()
    outcome = run_agent(stack, fleet.key, protocol=protocol, compression=compression)
    exported = time.monotonic() - started
    assert outcome["spans"] == 9

    # Then its model, tool and failed calls are events (the agent span, the HTTP span and the unknown
    # agent's call are not) and the rollups price each token once
    def rolled_up() -> dict[str, Any] | None:
        rows = by_model(stack, fleet.admin)
        return rows if set(rows) == set(SESSION) else None

    rows = wait_for(rolled_up, timeout=30)
    assert rows, by_model(stack, fleet.admin)
    for model in SESSION:
        tokens, read, write, out, *_ = SESSION[model]
        row = rows[model]
        assert Decimal(str(row["totalCost"])) == priced_once(model).quantize(Decimal("0.01")), (model, row)
        assert (row["inputTokens"], row["cacheReadTokens"], row["cacheWriteTokens"], row["outputTokens"]) == (
            tokens - read - write,
            read,
            write,
            out,
        )
        assert row["totalTokens"] == tokens + out  # each token counted once
    sonnet = priced_once("claude-sonnet-4-6")
    assert sonnet == Decimal("2.94")
    assert priced_twice("claude-sonnet-4-6") == Decimal("5.94")  # what double counting would show
    total = sum((priced_once(m) for m in SESSION), Decimal(0))
    summary = stack.get("/api/cost-analysis/summary", fleet.admin).body
    assert Decimal(str(summary["totalSpend"])) == total.quantize(Decimal("0.01")) == Decimal("3.38")
    agents = {a["id"]: a for a in stack.get("/api/cost-analysis/agents", fleet.admin).body["agents"]}
    assert Decimal(str(agents[AGENT]["actualCost"])) == Decimal("3.38")

    events = activity(stack, fleet.admin)
    kinds = sorted((e["eventType"], e["details"].get("model") or e["details"].get("tool")) for e in events)
    assert kinds == [
        ("model_invocation", "claude-haiku-4-5"),
        ("model_invocation", "claude-sonnet-4-6"),
        ("model_invocation", "gpt-5.4-mini"),
        ("model_invocation", "gpt-5.4-nano"),
        ("tool_call", "web_search"),
    ]
    tool = next(e for e in events if e["eventType"] == "tool_call")
    assert (tool["details"]["success"], Decimal(str(tool["details"]["durationMs"]))) == (True, Decimal(850))
    failed = next(e for e in events if e["details"].get("model") == "claude-haiku-4-5")
    assert (failed["details"]["success"], failed["details"]["errorType"]) == (False, "timeout")
    assert all(len(e["id"]) == 49 and e["agentId"] == AGENT for e in events)  # <traceId>-<spanId>

    # When the same spans are exported again (same ids and times: a retried or re-sent batch)
    run_agent(stack, fleet.key, protocol=protocol, compression=compression)
    past_the_batching_window()  # a second count would show by now
    # Then nothing changes
    assert [e["id"] for e in activity(stack, fleet.admin)] == [e["id"] for e in events]
    assert by_model(stack, fleet.admin) == rows
    write_summary(
        request.config,
        f"OTLP {protocol}",
        [
            f"9 spans exported by the SDK in {exported:.2f} s ({protocol}, compression {compression}); "
            f"5 events; totalSpend {summary['totalSpend']}; the second export changed nothing",
            *(
                f"  {model}: totalCost {row['totalCost']}, tokens {row['totalTokens']}"
                for model, row in rows.items()
            ),
        ],
    )


def test_the_openai_instrumentation_against_a_stand_in_server_reports_its_costs(
    fleet: Fleet, stack: RunningStack
) -> None:
    # Given the official openai client, instrumented by opentelemetry-instrumentation-openai-v2, calling a
    # stand-in of the OpenAI API twice (2,000,000 prompt and 100,000 completion tokens each)
    outcome = run_agent(
        stack,
        fleet.key,
        protocol="http/protobuf",
        program="tests.e2e.openai_agent",
        AGENT_NOW=datetime.now(UTC).isoformat(),
        STANDIN_PROMPT_TOKENS="2000000",
        STANDIN_COMPLETION_TOKENS="100000",
        CALLS="2",
    )
    assert outcome == {"calls": 2, "exports": ["SUCCESS", "SUCCESS"]}
    # Then the two chat spans it made are two priced invocations of the agent named by OTEL_SERVICE_NAME
    row = wait_for(lambda: by_model(stack, fleet.admin).get("gpt-5.4-mini"), timeout=30)
    assert row, by_model(stack, fleet.admin)
    expected = 2 * (2_000_000 * Decimal("0.75") + 100_000 * Decimal("4.50")) / 1_000_000
    assert (row["invocations"], row["inputTokens"], row["outputTokens"]) == (2, 4_000_000, 200_000)
    assert Decimal(str(row["totalCost"])) == expected == Decimal("3.90")
    assert {e["agentId"] for e in activity(stack, fleet.admin)} == {AGENT}


# --- What the answer tells a client ------------------------------------------------------------------


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _span(span_id: int, attributes: dict[str, Any], start: int | None = None) -> Span:
    start = start or start_ns(5)
    return Span(
        trace_id=(0xABC).to_bytes(16, "big"),
        span_id=span_id.to_bytes(8, "big"),
        name="chat",
        start_time_unix_nano=start,
        end_time_unix_nano=start + 5_000_000,
        attributes=[_kv(k, v) for k, v in attributes.items()],
    )


def _request(*spans: Span) -> ExportTraceServiceRequest:
    """A request built with the OpenTelemetry project's own message classes (opentelemetry-proto)."""
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])]
    )


CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "claude-haiku-4-5",
    "gen_ai.usage.input_tokens": 10,
    "gen_ai.usage.output_tokens": 5,
}


def post(stack: RunningStack, authorization: str, data: bytes, **headers: str) -> Any:
    return http(
        "POST",
        f"{stack.api}/v1/traces",
        authorization=authorization,
        data=data,
        headers={"Content-Type": PROTOBUF, **headers},
    )


def test_the_answer_is_a_partial_success_naming_each_rejected_span(fleet: Fleet, stack: RunningStack) -> None:
    request = _request(
        _span(1, {**CHAT, "gen_ai.agent.id": AGENT}),
        _span(2, {**CHAT, "gen_ai.agent.id": "ghost-agent"}),
        _span(3, {**CHAT, "gen_ai.agent.id": AGENT, "gen_ai.usage.output_tokens": -4}),
        _span(4, {"http.request.method": "GET"}),
    )
    data = request.SerializeToString()
    # An exporter that accepts protobuf back (first Accept value) gets the ExportTraceServiceResponse...
    reply = post(stack, f"Bearer {fleet.key}", data, Accept=PROTOBUF)
    assert (reply.status, reply.headers["Content-Type"]) == (200, PROTOBUF)
    answer = ExportTraceServiceResponse.FromString(reply.raw)
    assert answer.partial_success.rejected_spans == 2
    message = answer.partial_success.error_message
    assert "1 spans stored" in message
    assert "1 ignored" in message
    assert (
        "span 0000000000000002: agent 'ghost-agent' (from gen_ai.agent.id) is not a registered agent"
        in message
    )
    assert "span 0000000000000003: gen_ai.usage.output_tokens must be a whole number" in message
    # ...one that accepts anything gets it base64-encoded, as API Gateway answers a binary body then
    again = post(stack, f"Bearer {fleet.key}", data, Accept="*/*")
    assert (
        ExportTraceServiceResponse.FromString(base64.b64decode(again.raw)).partial_success.rejected_spans == 2
    )
    # In OTLP/JSON (the protobuf JSON mapping, ids in hex), the same answer in JSON (an int64 is a string)
    from google.protobuf import json_format

    document = json_format.MessageToDict(request)
    for span in document["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for name in ("traceId", "spanId"):
            span[name] = base64.b64decode(span[name]).hex()
    as_json = http(
        "POST",
        f"{stack.api}/v1/traces",
        authorization=f"Bearer {fleet.key}",
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert as_json.status == 200, as_json.body
    assert as_json.body["partialSuccess"]["rejectedSpans"] == "2"
    assert [e["id"] for e in activity(stack, fleet.admin)] == [f"{0xABC:032x}-{1:016x}"]


# --- Hostile input -------------------------------------------------------------------------------------


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field. Hostile nesting is written by hand: protobuf itself refuses to
    build a message nested past its depth limit."""
    length, size = b"", len(payload)
    while True:
        length += bytes([(size & 0x7F) | (0x80 if size > 0x7F else 0)])
        size >>= 7
        if not size:
            break
    return bytes([number << 3 | 2]) + length + payload


def _deeply_nested_request(depth: int) -> bytes:
    """An ExportTraceServiceRequest whose one span has an attribute of `depth` nested key-value lists."""
    value = AnyValue(string_value="x").SerializeToString()
    for _ in range(depth):  # AnyValue.kvlist_value(6) > KeyValueList.values(1) > KeyValue{key(1), value(2)}
        value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))
    span = _field(1, b"\x01" * 16) + _field(2, b"\x02" * 8) + _field(9, _field(1, b"deep") + _field(2, value))
    return _field(1, _field(2, _field(2, span)))  # resource_spans > scope_spans > spans


def _deep_json(depth: int) -> bytes:
    return b'{"resourceSpans": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("what", "data", "headers", "status"),
    [
        ("not protobuf", b"\xff\xfe\xfd garbage", {}, 400),
        ("not JSON", b"{resourceSpans", {"Content-Type": "application/json"}, 400),
        ("JSON nested 100,000 deep", _deep_json(100_000), {"Content-Type": "application/json"}, 400),
        ("protobuf attribute nested 500 deep", _deeply_nested_request(500), {}, 400),
        ("over the function's 5 MB", b"\n" + b"\x00" * (6 * 1024 * 1024), {}, 413),
        ("over API Gateway's 10 MB", b"\x00" * (11 * 1024 * 1024), {}, 413),
        ("a gzip bomb", gzip.compress(b"\x00" * (12 * 1024 * 1024)), {"Content-Encoding": "gzip"}, 413),
        ("gzip that is not", b"not gzip at all", {"Content-Encoding": "gzip"}, 415),
        ("another media type", b"<spans/>", {"Content-Type": "application/xml"}, 415),
        ("2,001 spans", _request(*[_span(i + 1, CHAT) for i in range(2001)]).SerializeToString(), {}, 413),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None,
)
def test_a_hostile_body_is_a_4xx_and_nothing_is_stored(
    what: str, data: bytes, headers: dict[str, str], status: int, fleet: Fleet, stack: RunningStack
) -> None:
    reply = post(stack, f"Bearer {fleet.key}", data, **headers)
    assert reply.status == status, (what, reply.body)
    assert activity(stack, fleet.admin) == []


def test_a_revoked_key_stops_within_the_authorizer_cache(fleet: Fleet, stack: RunningStack) -> None:
    data = _request(_span(1, {**CHAT, "gen_ai.agent.id": AGENT})).SerializeToString()
    assert post(stack, f"Bearer {fleet.key}", data).status == 200
    key_id = fleet.key.split(".")[1]
    assert http("DELETE", f"{stack.api}/api/ingest-keys/{key_id}", token=fleet.admin).status == 200
    # The e2e stack caches the authorizer's answer 3 s (COSTMETRICS_AUTHORIZER_TTL; deployed: 300 s)
    refused = wait_for(
        lambda: post(stack, f"Bearer {fleet.key}", data).status == 401, timeout=10, interval=0.5
    )
    assert refused
    listed = http("GET", f"{stack.api}/api/ingest-keys", token=fleet.admin).body["keys"]
    assert [(k["status"], k["lastUsedAt"] is not None) for k in listed] == [("revoked", True)]


def test_another_workspace_s_key_writes_only_into_its_own_workspace(
    fleet: Fleet, stack: RunningStack
) -> None:
    other = _fleet(stack)
    data = _request(_span(7, {**CHAT, "gen_ai.agent.id": AGENT})).SerializeToString()
    assert post(stack, f"Bearer {other.key}", data).status == 200
    assert [e["id"] for e in activity(stack, other.admin)] == [f"{0xABC:032x}-{7:016x}"]
    assert activity(stack, fleet.admin) == []


# --- The ingest rate --------------------------------------------------------------------------------


def test_the_ingest_rate_of_otlp_batches(own_stack: RunningStack, request: pytest.FixtureRequest) -> None:
    fleet = _fleet(own_stack)
    spans = 2048  # four batches of the SDK's default 512
    started = time.monotonic()
    outcome = run_agent(
        own_stack,
        fleet.key,
        protocol="http/protobuf",
        AGENT_SCENARIO="load",
        AGENT_SPANS=str(spans),
        seed="7",
        # A rate is measured here, not a deadline: on a busy machine a batch of 512 may take longer than the
        # exporter's default 10 s. 120000 is 120 s read as milliseconds (the spec) or longer as seconds.
        OTEL_EXPORTER_OTLP_TIMEOUT="120000",
        OTEL_BSP_EXPORT_TIMEOUT="120000",
    )
    seconds = time.monotonic() - started
    assert outcome == {"spans": spans, "exports": ["SUCCESS"] * 4}

    # (the log's total comes from the rollups' counters, which follow the stream)
    def total() -> int:
        count: int = own_stack.get("/api/activity?limit=1", fleet.admin).body["pagination"]["total"]
        return count

    assert wait_for(lambda: total() == spans, timeout=120), total()
    rate = spans / seconds
    RATES["protobuf"] = f"{spans} spans in 4 OTLP batches of 512 in {seconds:.1f} s: {rate:.0f} spans/s"
    write_summary(request.config, "OTLP ingest rate (own local stack)", [RATES["protobuf"]])
    assert rate > 20
