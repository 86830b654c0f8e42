"""Validation of one incoming event: every bad input is rejected with a reason naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from costmetrics.events import StoredEvent, validate_event
from costmetrics.repositories import events as events_repo

NOW = datetime(2026, 3, 17, 12, 0, tzinfo=UTC)


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "evt-1",
        "agentId": "nova",
        "eventType": "model_invocation",
        "createdAt": "2026-03-17T08:01:44+02:00",
        "details": {"model": "claude-haiku-3.5", "inputTokens": 10, "outputTokens": 5},
    }
    base.update(overrides)
    return base


def check(raw: Any) -> StoredEvent | str:
    return validate_event(raw, workspace_id="ws", now=NOW, retention_days=400)


def test_a_valid_event_is_normalized_to_utc() -> None:
    stored = check(event())
    assert isinstance(stored, StoredEvent)
    assert stored.created_at == datetime(2026, 3, 17, 6, 1, 44, tzinfo=UTC)
    assert stored.month == "2026-03"
    assert events_repo.item_of(stored, 400)["pk"] == "ws#evt-1"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("not an object", "JSON object"),
        (event(id=""), "id"),
        (event(id="x" * 129), "id"),
        (event(id="bad\nid"), "id"),
        (event(agentId="has space"), "agentId"),
        (event(agentId="a#b"), "agentId"),
        (event(eventType="model_call"), "eventType"),
        (event(createdAt="2026-03-17T08:01:44"), "time zone"),
        (event(createdAt="yesterday"), "createdAt"),
        (event(createdAt=1710662504), "createdAt"),
        (event(createdAt="2026-03-17T12:06:00Z"), "future"),
        (event(createdAt="2024-01-01T00:00:00Z"), "retention"),
        (event(details=[1, 2]), "details"),
        (event(details={"model": "m", "inputTokens": "10", "outputTokens": 5}), "details.inputTokens"),
        (event(details={"model": "m", "inputTokens": 10.5, "outputTokens": 5}), "details.inputTokens"),
        (event(details={"model": "m", "inputTokens": True, "outputTokens": 5}), "details.inputTokens"),
        (event(details={"model": "m", "inputTokens": -1, "outputTokens": 5}), "details.inputTokens"),
        (event(details={"model": "m", "inputTokens": 1}), "details.outputTokens"),
        (event(details={"inputTokens": 1, "outputTokens": 1}), "details.model"),
        (
            event(details={"model": "m", "inputTokens": 1, "outputTokens": 1, "success": "yes"}),
            "details.success",
        ),
        (
            event(details={"model": "m", "inputTokens": 1, "outputTokens": 1, "durationMs": "fast"}),
            "durationMs",
        ),
        (event(eventType="tool_call", details={"success": True, "durationMs": 3}), "details.tool"),
        (event(eventType="error", details={}), "details.message"),
        (event(eventType="session_start", details={"blob": "x" * 17_000}), "16384-byte"),
        (event(unexpected=1), "unexpected"),
    ],
)
def test_each_bad_input_is_rejected_with_a_reason_naming_it(raw: Any, field: str) -> None:
    outcome = check(raw)
    assert isinstance(outcome, str), outcome
    assert field in outcome


def test_deeply_nested_details_are_rejected() -> None:
    nested: dict[str, Any] = {}
    node = nested
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    outcome = check(event(eventType="config_change", details=nested))
    assert isinstance(outcome, str)
    assert "nested deeper" in outcome


def test_unicode_ids_and_free_form_details_are_accepted() -> None:
    stored = check(
        event(id="évènement-東京-🚀", eventType="config_change", details={"changed": {"a": [1, None]}})
    )
    assert isinstance(stored, StoredEvent)
    assert stored.id == "évènement-東京-🚀"


def test_a_stored_item_round_trips() -> None:
    stored = check(
        event(details={"model": "gpt-5.4", "inputTokens": 3, "outputTokens": 4, "durationMs": 12.5})
    )
    assert isinstance(stored, StoredEvent)
    again = events_repo.event_of(events_repo.item_of(stored, 400))
    assert again.same_content(stored)
    assert again == stored


def test_an_event_just_inside_the_future_skew_is_accepted() -> None:
    created = (NOW + timedelta(minutes=4, seconds=59)).isoformat()
    assert isinstance(check(event(createdAt=created)), StoredEvent)
