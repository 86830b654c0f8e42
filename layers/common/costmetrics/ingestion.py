"""POST /api/activity: a batch of up to 100 events, each validated and stored on its own, idempotent on id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, PrivateAttr, model_validator

from costmetrics.events import (
    MAX_EVENTS_PER_REQUEST,
    IncomingEvent,
    Rejection,
    StoredEvent,
    validate_event,
)
from costmetrics.observability import logger
from costmetrics.repositories import agents as agents_repo
from costmetrics.repositories import events as events_repo

ENVELOPE = 'the body must be a JSON object {"events": [...]}'

# The events as the JSON values they are, documented as the IncomingEvents they should be: each is validated
# on its own (ingest_events), so that one bad event never refuses the others.
RawEvents = Annotated[
    list[Any],
    PlainValidator(
        lambda events: events,
        json_schema_input_type=Annotated[
            list[IncomingEvent], Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)
        ],
    ),
]


class ActivityBatch(BaseModel):
    """POST /api/activity: events validated one by one; valid ones are stored even when others fail."""

    model_config = ConfigDict(extra="forbid")

    events: RawEvents

    @model_validator(mode="before")
    @classmethod
    def _envelope(cls, body: Any) -> Any:
        """The envelope's own messages, clearer than pydantic's for the one shape it has."""
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise ValueError(ENVELOPE)
        if unknown := sorted(set(body) - set(cls.model_fields)):
            raise ValueError(f"unknown field(s) in the body: {', '.join(unknown)}")
        if not 1 <= len(body["events"]) <= MAX_EVENTS_PER_REQUEST:
            raise ValueError(
                f"events must hold 1 to {MAX_EVENTS_PER_REQUEST} events, got {len(body['events'])}"
            )
        return body


class IngestResult(BaseModel):
    accepted: int = 0
    duplicates: int = 0
    rejectedCount: int = 0
    rejected: list[Rejection] = Field(default_factory=list)
    # Events rejected only because their write failed (worth sending again as they are).
    _storage_failures: int = PrivateAttr(default=0)

    @property
    def storage_failures(self) -> int:
        return self._storage_failures


def _raw_id(raw: Any) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def ingest(batch: ActivityBatch, *, workspace_id: str, now: datetime, retention_days: int) -> IngestResult:
    """Stores the valid events of `batch` and explains each rejected one. Valid events are stored even
    when others are rejected; an event whose id is already stored with the same content is a duplicate."""
    return ingest_events(batch.events, workspace_id=workspace_id, now=now, retention_days=retention_days)


def ingest_events(
    raw_events: list[Any], *, workspace_id: str, now: datetime, retention_days: int
) -> IngestResult:
    """Validates each event on its own, checks its agent, and stores the valid ones (idempotent on id);
    a rejection's index is the event's position in `raw_events`."""
    result = IngestResult()

    def reject(index: int, event_id: str | None, reason: str) -> None:
        result.rejected.append(Rejection(index=index, id=event_id, reason=reason))

    valid: list[tuple[int, StoredEvent]] = []
    for index, raw in enumerate(raw_events):
        outcome = validate_event(raw, workspace_id=workspace_id, now=now, retention_days=retention_days)
        if isinstance(outcome, str):
            reject(index, _raw_id(raw), outcome)
        else:
            valid.append((index, outcome))

    registered = agents_repo.registered_agent_ids(workspace_id, {e.agent_id for _, e in valid})
    first_seen: dict[str, StoredEvent] = {}
    to_store: list[tuple[int, StoredEvent]] = []
    for index, event in valid:
        if event.agent_id not in registered:
            reject(
                index, event.id, f"agentId: {event.agent_id!r} is not a registered agent of this workspace"
            )
        elif event.id in first_seen:
            if first_seen[event.id].same_content(event):
                result.duplicates += 1
            else:
                reject(index, event.id, "id: used twice in this batch for different events")
        else:
            first_seen[event.id] = event
            to_store.append((index, event))

    outcomes = events_repo.put_new_events([event for _, event in to_store])
    for (index, event), stored in zip(to_store, outcomes, strict=True):
        if stored is None:
            result.accepted += 1
        elif isinstance(stored, BaseException):
            logger.error("event write failed", event_id=event.id, error=str(stored))
            result._storage_failures += 1
            reject(index, event.id, "temporarily not stored (storage error); send this event again")
        elif stored.same_content(event):
            result.duplicates += 1
        else:
            reject(index, event.id, "id: already used by a different event in this workspace")

    result.rejected.sort(key=lambda r: r.index)
    result.rejectedCount = len(result.rejected)
    return result
