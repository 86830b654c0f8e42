"""POST /v1/traces: OpenTelemetry traces (OTLP/HTTP, protobuf or JSON, gzip accepted) whose spans follow the
GenAI semantic conventions become activity events; every other span is ignored and counted.

- `gen_ai.operation.name` chat, text_completion, generate_content, embeddings -> `model_invocation`:
  model = gen_ai.response.model, else gen_ai.request.model; tokens from gen_ai.usage.input_tokens and
  output_tokens; cache tokens from gen_ai.usage.cache_read.input_tokens and
  gen_ai.usage.cache_creation.input_tokens, which the conventions count *inside* input_tokens: the event's
  inputTokens is input_tokens less both, so that each token is priced once, at its own price (when
  input_tokens is smaller than the cache tokens it cannot include them, and they are taken as reported
  beside it). Duration from the span's times, failure from its status (ERROR) or `error.type`.
- `execute_tool` -> `tool_call`: gen_ai.tool.name, success, duration.
- The agent: gen_ai.agent.id, else gen_ai.agent.name, else the resource's service.name (span attributes
  first, then the resource's), matched to a registered agent by id, then by name (case-insensitive).
- Event id = `<traceId>-<spanId>` (hex): a batch exported again is stored and counted once.

The answer follows the OTLP specification: 200 with an ExportTraceServiceResponse in the request's encoding,
its partial_success naming each rejected span and why (and counting the ignored ones); 400 for a body that
does not decode; 413 over the size or span limit; 415 for another content type; 503 with Retry-After when
storage failed for some span (the exporter retries the batch; the spans already stored are duplicates).
The decoding is the OpenTelemetry project's own (opentelemetry-proto), never hand-written.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costmetrics import periods
from costmetrics.errors import InvalidRequest, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# Decoded (decompressed) bytes of one request. API Gateway hands a Lambda at most 6 MB, base64 included.
MAX_BODY_BYTES = 5 * 1024 * 1024
# Spans of one request: the SDK's batch processor sends 512 at most (OTEL_BSP_MAX_EXPORT_BATCH_SIZE).
MAX_SPANS = 2000
RETRY_AFTER_SECONDS = 2
MODEL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
TOOL_OPERATION = "execute_tool"
_MESSAGE_REASONS = 20  # rejected spans named in the answer's message; the count covers them all
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")

# OpenAPI of the route (its bodies are OTLP messages, not models of this service).
_PARTIAL_SUCCESS = {
    "type": "object",
    "properties": {
        "partialSuccess": {
            "type": "object",
            "properties": {
                "rejectedSpans": {"type": "string", "description": "int64, as the protobuf JSON mapping"},
                "errorMessage": {"type": "string"},
            },
        }
    },
}
OPENAPI_REQUEST: dict[str, Any] = {
    "required": True,
    "description": "An OTLP ExportTraceServiceRequest (opentelemetry-proto), as protobuf or as OTLP/JSON; "
    "Content-Encoding: gzip is accepted",
    "content": {
        PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
        JSON: {
            "schema": {"type": "object", "description": "OTLP/JSON: resourceSpans[].scopeSpans[].spans[]"}
        },
    },
}
OPENAPI_OK: dict[str, Any] = {
    "description": "An ExportTraceServiceResponse in the request's encoding: empty when all went well, "
    "else partialSuccess with the rejected spans' count and, per span, why (and how many were ignored)",
    "content": {
        PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
        JSON: {"schema": _PARTIAL_SUCCESS},
    },
}


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def request_bytes(body: bytes, content_type: str | None, content_encoding: str | None) -> bytes:
    """The request body, decompressed when the client sent it gzip'd and API Gateway has not already
    (it does when deployed; `sam local` does not); 413 past MAX_BODY_BYTES, 415 for other encodings."""
    if media_type(content_type) not in (PROTOBUF, JSON):
        raise UnsupportedMediaType(
            f"send OTLP as {PROTOBUF} or {JSON}, not {content_type or 'no Content-Type'}"
        )
    coding = (content_encoding or "identity").strip().lower()
    if coding not in ("identity", "gzip", ""):
        raise UnsupportedMediaType(f"Content-Encoding {coding!r} is not supported: use gzip or none")
    if coding == "gzip" and body[:2] == b"\x1f\x8b":  # neither protobuf nor JSON can start so
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, MAX_BODY_BYTES + 1)
        except zlib.error as error:
            raise InvalidRequest(f"the body is not valid gzip: {error}") from None
        if len(body) <= MAX_BODY_BYTES and not inflater.eof:
            raise InvalidRequest("the gzip body is truncated")
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the decoded body is over {MAX_BODY_BYTES} bytes: export smaller batches")
    if not body:
        raise InvalidRequest("the request needs an OTLP ExportTraceServiceRequest body")
    return body


def _hex_ids_to_base64(node: Any) -> None:
    """OTLP/JSON writes trace and span ids as hex, where the protobuf JSON mapping expects base64."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for name, value in item.items():
                if name in _ID_FIELDS and isinstance(value, str):
                    try:
                        item[name] = base64.b64encode(bytes.fromhex(value)).decode()
                    except ValueError:
                        raise InvalidRequest(f"{name} {value[:40]!r} is not hex") from None
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def decode(body: bytes, content_type: str | None) -> ExportTraceServiceRequest:
    """The ExportTraceServiceRequest of a (decompressed) body; 400 when it does not decode."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    if media_type(content_type) == PROTOBUF:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except (DecodeError, RecursionError, ValueError) as error:
            raise InvalidRequest(
                f"the body is not an OTLP protobuf ExportTraceServiceRequest: {error}"
            ) from None
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidRequest(f"the body is not JSON: {error}") from None
    except RecursionError:
        raise InvalidRequest("the body is nested too deeply") from None
    if not isinstance(document, dict):
        raise InvalidRequest("the body must be an OTLP/JSON ExportTraceServiceRequest object")
    _hex_ids_to_base64(document)
    try:
        return json_format.ParseDict(document, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, ValueError, TypeError) as error:
        raise InvalidRequest(f"the body is not an OTLP/JSON ExportTraceServiceRequest: {error}") from None


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind in ("string_value", "bool_value", "int_value", "double_value"):
        return getattr(any_value, kind)
    return None  # arrays, maps and bytes carry nothing this mapping reads


@dataclass(frozen=True)
class Span:
    """What the mapping reads of one span, ids in hex."""

    trace_id: str
    span_id: str
    start_ns: int
    end_ns: int
    failed: bool
    attributes: dict[str, Any]
    resource: dict[str, Any]

    def attribute(self, *names: str) -> Any:
        """The first of `names` the span carries, else the first the resource carries."""
        for scope in (self.attributes, self.resource):
            for name in names:
                if scope.get(name) not in (None, ""):
                    return scope[name]
        return None


def spans_of(request: ExportTraceServiceRequest) -> Iterator[Span]:
    from opentelemetry.proto.trace.v1.trace_pb2 import Status

    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield Span(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    failed=span.status.code == Status.STATUS_CODE_ERROR,
                    attributes={kv.key: _value(kv.value) for kv in span.attributes},
                    resource=resource,
                )


class Ignored(Exception):
    """A span that is no GenAI model or tool call: counted, not stored, not an error."""


@dataclass
class Agents:
    """The workspace's registry, to match a span's agent by id, then by name."""

    ids: set[str]
    by_name: dict[str, str]

    def resolve(self, span: Span) -> str:
        for names in (("gen_ai.agent.id",), ("gen_ai.agent.name",), ("service.name",)):
            candidate = span.attribute(*names)
            if candidate is None:
                continue
            text = str(candidate)
            if text in self.ids:
                return text
            if text.strip().lower() in self.by_name:
                return self.by_name[text.strip().lower()]
            raise ValueError(
                f"agent {text[:64]!r} (from {names[0]}) is not a registered agent of this workspace: "
                "register it (PUT /api/agents/{agentId}) or set gen_ai.agent.id to an agent's id"
            )
        raise ValueError("no agent: set gen_ai.agent.id, gen_ai.agent.name or the resource's service.name")


def _count(span: Span, name: str) -> int:
    value = span.attributes.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        raise ValueError(f"{name} must be a whole number of tokens, not {value!r}")
    return int(value)


def _instant(nanos: int) -> datetime:
    seconds, rest = divmod(nanos, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


def event_of(span: Span, agents: Agents) -> dict[str, Any]:
    """The activity event of a GenAI span (the API's event format); raises Ignored for a span that is no
    model or tool call, ValueError with the reason for one that cannot be taken."""
    operation = span.attributes.get("gen_ai.operation.name")
    if operation not in MODEL_OPERATIONS and operation != TOOL_OPERATION:
        raise Ignored(str(operation))
    if (
        len(span.trace_id) != 32
        or len(span.span_id) != 16
        or not int(span.trace_id, 16)
        or not int(span.span_id, 16)
    ):
        raise ValueError("the span has no valid traceId and spanId")
    if span.start_ns <= 0 or span.end_ns < span.start_ns:
        raise ValueError("the span's start and end times are missing or out of order")
    try:
        created = _instant(span.start_ns)
    except (OverflowError, OSError, ValueError):
        raise ValueError("the span's start time is out of range") from None
    duration_ms = (Decimal(span.end_ns - span.start_ns) / 1_000_000).quantize(Decimal("0.001"))
    success = not span.failed and span.attributes.get("error.type") in (None, "")
    details: dict[str, Any] = {"source": "otlp", "operation": operation}
    if operation == TOOL_OPERATION:
        tool = span.attributes.get("gen_ai.tool.name")
        if not isinstance(tool, str) or not tool:
            raise ValueError("an execute_tool span needs gen_ai.tool.name")
        details.update(tool=tool, success=success, durationMs=duration_ms)
        event_type = "tool_call"
    else:
        model = span.attributes.get("gen_ai.response.model") or span.attributes.get("gen_ai.request.model")
        if not isinstance(model, str) or not model:
            raise ValueError("a model span needs gen_ai.response.model or gen_ai.request.model")
        reported = _count(span, "gen_ai.usage.input_tokens")
        cache_read = _count(span, "gen_ai.usage.cache_read.input_tokens")
        cache_write = _count(span, "gen_ai.usage.cache_creation.input_tokens")
        cached = cache_read + cache_write
        details.update(
            model=model,
            # Each token priced once: the conventions count cache tokens inside input_tokens.
            inputTokens=reported - cached if reported >= cached else reported,
            outputTokens=_count(span, "gen_ai.usage.output_tokens"),
            cacheReadTokens=cache_read,
            cacheWriteTokens=cache_write,
            durationMs=duration_ms,
            success=success,
        )
        provider = span.attribute("gen_ai.provider.name", "gen_ai.system")
        if isinstance(provider, str) and provider:
            details["provider"] = provider[:64]
        event_type = "model_invocation"
    error_type = span.attributes.get("error.type")
    if isinstance(error_type, str) and error_type:
        details["errorType"] = error_type[:256]
    return {
        "id": f"{span.trace_id}-{span.span_id}",
        "agentId": agents.resolve(span),
        "eventType": event_type,
        "createdAt": periods.display(created),
        "details": details,
    }


@dataclass
class TraceResult:
    """What became of the spans of one request."""

    spans: int = 0
    accepted: int = 0
    duplicates: int = 0
    ignored: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (span id, reason)

    def message(self) -> str:
        """The partial-success message: counts, then the reasons of (the first) rejected spans."""
        if not self.rejected and not self.ignored:
            return ""
        text = (
            f"{self.accepted} spans stored, {self.duplicates} already stored, {self.ignored} ignored "
            f"(no GenAI model or tool operation), {len(self.rejected)} rejected"
        )
        reasons = "; ".join(f"span {span}: {reason}" for span, reason in self.rejected[:_MESSAGE_REASONS])
        more = len(self.rejected) - _MESSAGE_REASONS
        return text + (f": {reasons}" if reasons else "") + (f"; and {more} more" if more > 0 else "")


def ingest(
    request: ExportTraceServiceRequest, *, workspace_id: str, now: datetime, retention_days: int
) -> TraceResult:
    """Stores the events of the request's GenAI spans; raises ServiceUnavailable when some could not be
    stored (the whole batch may then be sent again: event ids make that harmless)."""
    from costmetrics import ingestion
    from costmetrics.repositories import agents as agents_repo

    spans = list(spans_of(request))
    if len(spans) > MAX_SPANS:
        raise PayloadTooLarge(
            f"{len(spans)} spans in one request; the limit is {MAX_SPANS} (OTEL_BSP_MAX_EXPORT_BATCH_SIZE)"
        )
    result = TraceResult(spans=len(spans))
    registered = agents_repo.agents_of_workspace(workspace_id) if spans else []
    agents = Agents({a.id for a in registered}, {a.name.strip().lower(): a.id for a in reversed(registered)})
    events: list[dict[str, Any]] = []
    owners: list[str] = []
    for span in spans:
        try:
            events.append(event_of(span, agents))
            owners.append(span.span_id)
        except Ignored:
            result.ignored += 1
        except ValueError as reason:
            result.rejected.append((span.span_id, str(reason)))
    if events:
        stored = ingestion.ingest_events(
            events, workspace_id=workspace_id, now=now, retention_days=retention_days
        )
        if stored.storage_failures:
            raise ServiceUnavailable(
                f"{stored.storage_failures} spans could not be stored; send the batch again",
                retry_after=RETRY_AFTER_SECONDS,
            )
        result.accepted, result.duplicates = stored.accepted, stored.duplicates
        result.rejected += [(owners[r.index], r.reason) for r in stored.rejected]
    return result


def response(result: TraceResult, content_type: str | None) -> bytes | str:
    """The ExportTraceServiceResponse in the request's encoding (empty protobuf when all went well)."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTracePartialSuccess,
        ExportTraceServiceResponse,
    )

    answer = ExportTraceServiceResponse()
    if message := result.message():
        answer.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=len(result.rejected), error_message=message)
        )
    if media_type(content_type) == PROTOBUF:
        return answer.SerializeToString()
    return json_format.MessageToJson(answer, indent=None)
