"""POST /api/activity: a batch of up to 100 events, each validated and stored on its own, idempotent on id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from costmetrics.errors import InvalidRequest
from costmetrics.events import MAX_EVENTS_PER_REQUEST, Rejection, StoredEvent, validate_event
from costmetrics.observability import logger
from costmetrics.repositories import agents as agents_repo
from costmetrics.repositories import events as events_repo


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


def ingest(body: Any, *, workspace_id: str, now: datetime, retention_days: int) -> IngestResult:
    """Stores the valid events of `body` and explains each rejected one. Valid events are stored even
    when others are rejected; an event whose id is already stored with the same content is a duplicate."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise InvalidRequest('the body must be a JSON object {"events": [...]}')
    if unknown := sorted(set(body) - {"events"}):
        raise InvalidRequest(f"unknown field(s) in the body: {', '.join(unknown)}")
    raw_events: list[Any] = body["events"]
    if not 1 <= len(raw_events) <= MAX_EVENTS_PER_REQUEST:
        raise InvalidRequest(f"events must hold 1 to {MAX_EVENTS_PER_REQUEST} events, got {len(raw_events)}")
    return ingest_events(raw_events, workspace_id=workspace_id, now=now, retention_days=retention_days)


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
