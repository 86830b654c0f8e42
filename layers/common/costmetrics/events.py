"""Activity events (docs/data-model.md): the one input. Validation of incoming events, one at a time.
The events table's item format (keys, index keys, attributes) is costmetrics.repositories.events'."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

from costmetrics import periods
from costmetrics.numbers import JsonDecimal
from costmetrics.pricing import MODEL_ID
from costmetrics.writes import problems

EventType = Literal[
    "model_invocation",
    "task_completed",
    "tool_call",
    "session_start",
    "session_end",
    "cron_execution",
    "config_change",
    "error",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

# Task types the recommendation rule table knows (costmetrics.recommendations); others count as "other".
TASK_TYPES: tuple[str, ...] = (
    "classification",
    "summarization",
    "extraction",
    "research",
    "writing",
    "coding",
    "planning",
)
OTHER_TASK_TYPE = "other"
UNSPECIFIED_TASK_TYPE = "unspecified"

MAX_EVENTS_PER_REQUEST = 100
MAX_DETAILS_BYTES = 16 * 1024
MAX_DETAILS_DEPTH = 32
MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_TOKENS = 10**12

AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

TokenCount = Annotated[StrictInt, Field(ge=0, le=MAX_TOKENS)]
Duration = Annotated[JsonDecimal, Field(ge=0, le=86_400_000)]


def aware_datetime(value: Any) -> datetime:
    """An ISO 8601 string with a time zone as an aware UTC datetime (a ValueError names what is wrong)."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; add Z or an offset such as +02:00")
    return periods.to_utc(parsed)


AwareTimestamp = Annotated[datetime, BeforeValidator(aware_datetime)]


class _Details(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ModelInvocationDetails(_Details):
    model: str = Field(pattern=MODEL_ID.pattern)
    input_tokens: TokenCount = Field(alias="inputTokens")
    output_tokens: TokenCount = Field(alias="outputTokens")
    cache_read_tokens: TokenCount = Field(default=0, alias="cacheReadTokens")
    cache_write_tokens: TokenCount = Field(default=0, alias="cacheWriteTokens")
    duration_ms: Duration | None = Field(default=None, alias="durationMs")
    success: StrictBool = True


class TaskCompletedDetails(_Details):
    task_type: str | None = Field(default=None, alias="taskType", min_length=1, max_length=64)


class ToolCallDetails(_Details):
    tool: str = Field(min_length=1, max_length=256)
    success: StrictBool
    duration_ms: Duration = Field(alias="durationMs")


class ErrorDetails(_Details):
    message: str = Field(min_length=1, max_length=4096)
    code: str | StrictInt | None = None


_DETAILS_MODELS: dict[str, type[_Details]] = {
    "model_invocation": ModelInvocationDetails,
    "task_completed": TaskCompletedDetails,
    "tool_call": ToolCallDetails,
    "error": ErrorDetails,
}


class IncomingEvent(BaseModel):
    """One event as a client sends it to POST /api/activity."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    agentId: str = Field(pattern=AGENT_ID.pattern)
    eventType: EventType
    createdAt: AwareTimestamp
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _printable_id(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        if "\ufffd" in value:  # what bytes that are not UTF-8 become: distinct ids would collide as one
            raise ValueError("must be valid UTF-8 (it holds U+FFFD, the mark of bytes that were not)")
        if value != value.strip():
            raise ValueError("must not start or end with whitespace")
        return value


class StoredEvent(BaseModel):
    """An event as stored in the events table, normalized to UTC and owned by one workspace."""

    model_config = ConfigDict(frozen=True)

    workspace_id: str
    id: str
    agent_id: str
    event_type: EventType
    created_at: datetime
    details: dict[str, Any]
    ingested_at: datetime

    @property
    def month(self) -> str:
        return periods.month_of(self.created_at)

    def same_content(self, other: StoredEvent) -> bool:
        """Whether a re-sent event is the same event (a duplicate) or a different one (a conflict)."""
        return (self.agent_id, self.event_type, self.created_at, self.details) == (
            other.agent_id,
            other.event_type,
            other.created_at,
            other.details,
        )

    def expires_at(self, retention_days: int) -> int:
        """Epoch seconds at which the events table's TTL removes the item."""
        return int((self.created_at + timedelta(days=retention_days)).timestamp())

    @property
    def day(self) -> str:
        return periods.day_of(self.created_at)


def canonical_json(value: Any) -> str:
    return json.dumps(
        value,
        separators=(",", ":"),
        ensure_ascii=False,
        sort_keys=True,
        allow_nan=False,
        default=_json_default,
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a JSON value, stopping early past `limit`."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


class Rejection(BaseModel):
    """Why one event of a batch was not stored."""

    index: int
    id: str | None
    reason: str


def describe(error: ValidationError, prefix: str = "") -> str:
    """A one-line, human-readable account of a pydantic error, naming each offending field (under
    `prefix`, e.g. details)."""
    return "; ".join(f"{field or 'event'}: {problem}" for field, problem in problems(error, prefix))


def validate_event(raw: Any, *, workspace_id: str, now: datetime, retention_days: int) -> StoredEvent | str:
    """One incoming event as a StoredEvent, or the reason it is rejected. Never raises on bad input."""
    if not isinstance(raw, dict):
        return "an event must be a JSON object"
    try:
        event = IncomingEvent.model_validate(raw)
    except ValidationError as error:
        return describe(error)
    if event.createdAt > now + MAX_FUTURE_SKEW:
        return "createdAt: more than 5 minutes in the future"
    if event.createdAt < now - timedelta(days=retention_days):
        return f"createdAt: older than the event retention period ({retention_days} days)"
    if _depth(event.details, MAX_DETAILS_DEPTH) > MAX_DETAILS_DEPTH:
        return f"details: nested deeper than {MAX_DETAILS_DEPTH} levels"
    try:
        size = len(canonical_json(event.details).encode())
    except (TypeError, ValueError):
        return "details: must contain only JSON values"
    if size > MAX_DETAILS_BYTES:
        return f"details: {size} bytes, larger than the {MAX_DETAILS_BYTES}-byte limit"
    details_model = _DETAILS_MODELS.get(event.eventType)
    if details_model is not None:
        try:
            details_model.model_validate(event.details)
        except ValidationError as error:
            return describe(error, "details")
    return StoredEvent(
        workspace_id=workspace_id,
        id=event.id,
        agent_id=event.agentId,
        event_type=event.eventType,
        created_at=event.createdAt,
        details=json.loads(canonical_json(event.details), parse_float=Decimal),
        ingested_at=now,
    )


def rollup_task_type(details: dict[str, Any]) -> str:
    """The task type a task_completed event counts under in the rollups (a bounded set)."""
    raw = details.get("taskType")
    if not isinstance(raw, str) or not raw.strip():
        return UNSPECIFIED_TASK_TYPE
    normalized = raw.strip().lower()
    return normalized if normalized in TASK_TYPES else OTHER_TASK_TYPE
