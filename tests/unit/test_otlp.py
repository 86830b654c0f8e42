"""OTLP spans to activity events, as pure logic: spans made with the OpenTelemetry SDK and encoded by the
OTLP exporters' own encoders (protobuf and JSON) decode to the same spans; the GenAI conventions map to
events with each token priced once; what is no GenAI call is ignored, what is malformed rejected with why."""

from __future__ import annotations

import gzip
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as encode_json
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as encode_protobuf
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from costmetrics import otlp
from costmetrics.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from costmetrics.otlp import Agents, Ignored, Span, TraceResult, decode, event_of, request_bytes, spans_of

START = 1_795_597_200_000_000_000  # 2026-11-25T09:00:00Z in nanoseconds
AGENTS = Agents({"nova", "atlas"}, {"nova the researcher": "nova", "atlas": "atlas"})


def sdk_spans(*attributes: dict[str, Any], failed: bool = False, service: str = "nova") -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    for index, attrs in enumerate(attributes):
        span = tracer.start_span("chat", start_time=START + index * 1_000_000)
        span.set_attributes(attrs)
        if failed:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=START + index * 1_000_000 + 1_234_567)
    return list(exporter.get_finished_spans())


def decoded(*attributes: dict[str, Any], **kwargs: Any) -> list[Span]:
    request = decode(encode_protobuf(sdk_spans(*attributes, **kwargs)).SerializeToString(), otlp.PROTOBUF)
    return list(spans_of(request))


CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "claude-sonnet-4-6",
    "gen_ai.response.model": "claude-sonnet-4-6-20261001",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.agent.id": "nova",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.cache_read.input_tokens": 800,
    "gen_ai.usage.cache_creation.input_tokens": 200,
    "gen_ai.usage.output_tokens": 90,
}


def test_protobuf_and_json_from_the_sdk_exporters_decode_to_the_same_spans() -> None:
    spans = sdk_spans(CHAT, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"})
    from_protobuf = list(spans_of(decode(encode_protobuf(spans).SerializeToString(), otlp.PROTOBUF)))
    from_json = list(
        spans_of(decode(encode_json(spans).to_json().encode(), "application/json; charset=utf-8"))
    )
    assert from_protobuf == from_json
    assert from_protobuf[0].trace_id == format(spans[0].context.trace_id, "032x")
    assert from_protobuf[0].resource["service.name"] == "nova"


def test_a_chat_span_is_a_model_invocation_with_cache_tokens_taken_out_of_input() -> None:
    (span,) = decoded(CHAT)
    event = event_of(span, AGENTS)
    assert event["id"] == f"{span.trace_id}-{span.span_id}"
    assert (event["agentId"], event["eventType"], event["createdAt"]) == (
        "nova",
        "model_invocation",
        "2026-11-25T09:00:00Z",
    )
    assert event["details"] == {
        "source": "otlp",
        "operation": "chat",
        "model": "claude-sonnet-4-6-20261001",  # the response's model first
        "provider": "anthropic",
        "inputTokens": 200,  # 1200 reported, of which 800 read from and 200 written to the cache
        "cacheReadTokens": 800,
        "cacheWriteTokens": 200,
        "outputTokens": 90,
        "durationMs": Decimal("1.235"),
        "success": True,
    }


def test_input_tokens_smaller_than_the_cache_tokens_cannot_include_them() -> None:
    (span,) = decoded({**CHAT, "gen_ai.usage.input_tokens": 100})
    details = event_of(span, AGENTS)["details"]
    assert (details["inputTokens"], details["cacheReadTokens"], details["cacheWriteTokens"]) == (
        100,
        800,
        200,
    )


def test_fallbacks_request_model_and_gen_ai_system() -> None:
    attributes = {k: v for k, v in CHAT.items() if k not in ("gen_ai.response.model", "gen_ai.provider.name")}
    (span,) = decoded({**attributes, "gen_ai.system": "anthropic", "gen_ai.operation.name": "embeddings"})
    details = event_of(span, AGENTS)["details"]
    assert (details["model"], details["provider"], details["operation"]) == (
        "claude-sonnet-4-6",
        "anthropic",
        "embeddings",
    )


@pytest.mark.parametrize(
    ("agent", "service", "expected"),
    [
        ({"gen_ai.agent.id": "atlas", "gen_ai.agent.name": "Nova the Researcher"}, "nova", "atlas"),
        ({"gen_ai.agent.name": "Nova the Researcher"}, "atlas", "nova"),  # by name, case-insensitive
        ({}, "atlas", "atlas"),  # the resource's service.name
    ],
)
def test_the_agent_is_the_id_else_the_name_else_the_service(
    agent: dict[str, str], service: str, expected: str
) -> None:
    attributes = {k: v for k, v in CHAT.items() if k != "gen_ai.agent.id"}
    (span,) = decoded({**attributes, **agent}, service=service)
    assert event_of(span, AGENTS)["agentId"] == expected


def test_an_unknown_agent_is_rejected_with_the_reason() -> None:
    (span,) = decoded({**CHAT, "gen_ai.agent.id": "ghost"})
    with pytest.raises(ValueError, match=r"agent 'ghost' \(from gen_ai.agent.id\) is not a registered agent"):
        event_of(span, AGENTS)


def test_failure_comes_from_the_status_or_error_type() -> None:
    (failed,) = decoded(CHAT, failed=True)
    (typed,) = decoded({**CHAT, "error.type": "rate_limited"})
    assert event_of(failed, AGENTS)["details"]["success"] is False
    details = event_of(typed, AGENTS)["details"]
    assert (details["success"], details["errorType"]) == (False, "rate_limited")


def test_a_tool_span_is_a_tool_call() -> None:
    (span,) = decoded({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"})
    event = event_of(span, AGENTS)
    assert (event["eventType"], event["agentId"], event["details"]["tool"]) == ("tool_call", "nova", "search")
    assert event["details"]["durationMs"] == Decimal("1.235")


@pytest.mark.parametrize(
    "attributes",
    [{}, {"http.request.method": "GET"}, {"gen_ai.operation.name": "invoke_agent"}],
)
def test_spans_that_are_no_model_or_tool_call_are_ignored(attributes: dict[str, Any]) -> None:
    (span,) = decoded(attributes)
    with pytest.raises(Ignored):
        event_of(span, AGENTS)


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({**CHAT, "gen_ai.usage.output_tokens": -1}, "output_tokens must be a whole number"),
        ({**CHAT, "gen_ai.usage.input_tokens": 1.5}, "input_tokens must be a whole number"),
        ({**CHAT, "gen_ai.usage.input_tokens": "many"}, "input_tokens must be a whole number"),
        ({"gen_ai.operation.name": "chat", "gen_ai.agent.id": "nova"}, "needs gen_ai.response.model"),
        ({"gen_ai.operation.name": "execute_tool"}, "needs gen_ai.tool.name"),
    ],
)
def test_malformed_genai_spans_are_rejected_with_the_reason(attributes: dict[str, Any], reason: str) -> None:
    (span,) = decoded(attributes)
    with pytest.raises(ValueError, match=reason):
        event_of(span, AGENTS)


def test_a_span_without_ids_or_times_is_rejected() -> None:
    (span,) = decoded(CHAT)
    for broken in (
        Span("0" * 32, span.span_id, span.start_ns, span.end_ns, False, span.attributes, span.resource),
        Span(span.trace_id, span.span_id, 0, span.end_ns, False, span.attributes, span.resource),
        Span(span.trace_id, span.span_id, span.end_ns, span.start_ns, False, span.attributes, span.resource),
    ):
        with pytest.raises(ValueError, match="span"):
            event_of(broken, AGENTS)


def test_bodies_gzip_limits_and_media_types() -> None:
    body = encode_protobuf(sdk_spans(CHAT)).SerializeToString()
    assert request_bytes(gzip.compress(body), otlp.PROTOBUF, "gzip") == body
    assert request_bytes(body, otlp.PROTOBUF, "gzip") == body  # API Gateway decompressed it already
    with pytest.raises(UnsupportedMediaType):
        request_bytes(body, "text/plain", None)
    with pytest.raises(UnsupportedMediaType):
        request_bytes(body, otlp.PROTOBUF, "br")
    with pytest.raises(PayloadTooLarge):
        request_bytes(gzip.compress(b"\0" * (otlp.MAX_BODY_BYTES + 1)), otlp.PROTOBUF, "gzip")
    with pytest.raises(InvalidRequest, match="truncated"):
        request_bytes(gzip.compress(body)[:-12], otlp.PROTOBUF, "gzip")
    with pytest.raises(InvalidRequest):
        decode(b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "application/json")


def test_the_answer_is_empty_when_all_went_well_and_names_rejected_spans_otherwise() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    assert otlp.response(TraceResult(spans=1, accepted=1), otlp.PROTOBUF) == b""
    assert otlp.response(TraceResult(spans=1, accepted=1), "application/json") == "{}"
    result = TraceResult(spans=3, accepted=1, ignored=1, rejected=[("00000000000000aa", "why")])
    answer = ExportTraceServiceResponse.FromString(otlp.response(result, otlp.PROTOBUF))  # type: ignore[arg-type]
    assert answer.partial_success.rejected_spans == 1
    assert answer.partial_success.error_message == (
        "1 spans stored, 0 already stored, 1 ignored (no GenAI model or tool operation), 1 rejected: "
        "span 00000000000000aa: why"
    )


def test_api_gateway_s_throttling_answer_carries_retry_after_for_exporters() -> None:
    # The template's THROTTLED gateway response, as the local gateway renders it: the OTLP exporters back
    # off by Retry-After on a 429 (and on the function's 503).
    from local_stack.gateway import gateway_response

    answer = gateway_response("THROTTLED", "Too Many Requests", "r-1")
    assert (answer.status, answer.header("Retry-After")) == (429, "1")
    assert b'"error": "throttled"' in answer.body
