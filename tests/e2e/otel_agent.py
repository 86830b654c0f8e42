"""A stand-in for an instrumented agent, run as its own process by tests/e2e/test_otlp.py: the OpenTelemetry
SDK with a BatchSpanProcessor and the OTLP/HTTP span exporter, configured only by the standard variables
(OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_PROTOCOL = http/protobuf or
http/json, OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_SERVICE_NAME). Nothing on the sending side is written here:
the spans are made with the SDK's API and the GenAI semantic conventions' attribute names, and encoded
and sent by the exporter packages.

What it records comes from the environment too: AGENT_SCENARIO (`session`: one agent session of model, tool
and other spans; `load`: AGENT_SPANS model spans), AGENT_ID, AGENT_NAME, AGENT_START_NS (the first span's
start, so that the spans fall in the local stack's clock) and AGENT_SEED (trace and span ids come from a
seeded generator and the times are fixed: a second run exports the very same spans). It prints one JSON
line: the spans ended, and the export outcome the exporter reported.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

MS = 1_000_000  # nanoseconds


class SeededIds(IdGenerator):
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128) or 1


class Outcome(SpanExporter):
    """Counts what the real exporter reports (the batch processor keeps it to itself)."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.results: list[str] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.exporter.export(spans)
        self.results.append(result.name)
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()


def exporter() -> SpanExporter:
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "http/json":
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonExporter

        return JsonExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def chat(
    tracer: Any,
    at: int,
    model: str,
    provider: str,
    usage: dict[str, int],
    agent: dict[str, str],
    **extra: Any,
) -> int:
    """A model call as the GenAI conventions describe it; returns when it ended."""
    span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, start_time=at)
    span.set_attributes(
        {
            "gen_ai.operation.name": extra.pop("operation", "chat"),
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "gen_ai.response.model": model,
            **{f"gen_ai.usage.{name}": value for name, value in usage.items()},
            **agent,
        }
    )
    if extra.pop("failed", False):
        span.set_attribute("error.type", "timeout")
        span.set_status(Status(StatusCode.ERROR, "the provider timed out"))
    end = at + extra.pop("duration_ms", 1200) * MS
    span.end(end_time=end)
    return end


def session(tracer: Any, start: int, agent_id: str, agent_name: str) -> int:
    """One agent session: the agent span (ignored), model calls of two providers with cache tokens, an
    embedding, a tool call, a failed call, an HTTP span (ignored), a call of an unknown agent (rejected)."""
    by_id = {"gen_ai.agent.id": agent_id}
    at = start
    root = tracer.start_span("invoke_agent research", start_time=at)
    root.set_attributes({"gen_ai.operation.name": "invoke_agent", **by_id})
    at = chat(
        tracer,
        at + 5 * MS,
        "claude-sonnet-4-6",
        "anthropic",
        # input_tokens includes the cache tokens (GenAI conventions)
        {
            "input_tokens": 1_200_000,
            "cache_read.input_tokens": 800_000,
            "cache_creation.input_tokens": 200_000,
            "output_tokens": 90_000,
        },
        by_id,
        duration_ms=2400,
    )
    at = chat(
        tracer,
        at + 10 * MS,
        "gpt-5.4-mini",
        "openai",
        {"input_tokens": 500_000, "cache_read.input_tokens": 400_000, "output_tokens": 30_000},
        {"gen_ai.agent.name": agent_name},  # matched to the registered agent by its name
        duration_ms=800,
    )
    at = chat(
        tracer,
        at + 10 * MS,
        "gpt-5.4-nano",
        "openai",
        {"input_tokens": 1_000_000},
        {},  # no agent attribute: the resource's service.name (OTEL_SERVICE_NAME) names it
        operation="embeddings",
        duration_ms=300,
    )
    tool = tracer.start_span("execute_tool web_search", start_time=at + 10 * MS)
    tool.set_attributes({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "web_search", **by_id})
    at = at + 860 * MS
    tool.end(end_time=at)
    at = chat(
        tracer,
        at + 10 * MS,
        "claude-haiku-4-5",
        "anthropic",
        {"input_tokens": 1000, "output_tokens": 0},
        by_id,
        failed=True,
        duration_ms=30_000,
    )
    http = tracer.start_span("GET /search", kind=SpanKind.CLIENT, start_time=at + 10 * MS)
    http.set_attributes({"http.request.method": "GET", "url.full": "https://search.example/?q=x"})
    at = at + 50 * MS
    http.end(end_time=at)
    at = chat(
        tracer,
        at + 10 * MS,
        "claude-haiku-4-5",
        "anthropic",
        {"input_tokens": 10, "output_tokens": 10},
        {"gen_ai.agent.id": "ghost-agent"},
    )
    root.end(end_time=at + 5 * MS)
    return 9


def load(tracer: Any, start: int, agent_id: str, count: int) -> int:
    for index in range(count):
        at = start + index * MS
        chat(
            tracer,
            at,
            "claude-haiku-4-5",
            "anthropic",
            {"input_tokens": 1000 + index % 100, "output_tokens": 100},
            {"gen_ai.agent.id": agent_id},
            duration_ms=1,
        )
    return count


def main() -> int:
    env = os.environ
    outcome = Outcome(exporter())
    provider = TracerProvider(
        resource=Resource.create({}),  # service.name from OTEL_SERVICE_NAME
        id_generator=SeededIds(int(env.get("AGENT_SEED", "1"))),
    )
    provider.add_span_processor(BatchSpanProcessor(outcome))
    tracer = provider.get_tracer("costmetrics.e2e.agent")
    start = int(env["AGENT_START_NS"])
    if env.get("AGENT_SCENARIO", "session") == "load":
        ended = load(tracer, start, env["AGENT_ID"], int(env.get("AGENT_SPANS", "500")))
    else:
        ended = session(tracer, start, env["AGENT_ID"], env.get("AGENT_NAME", ""))
    provider.shutdown()  # flushes the batch processor: every span is exported before we exit
    print(json.dumps({"spans": ended, "exports": outcome.results}))
    return 0 if outcome.results and set(outcome.results) == {"SUCCESS"} else 1


if __name__ == "__main__":
    sys.exit(main())
