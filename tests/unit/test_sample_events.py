"""The README's sample file: `python -m tools.sample_events` writes valid, unique, recent events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from costmetrics.events import StoredEvent, validate_event
from tools.sample_events import main, sample_events

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_every_sample_event_is_accepted_by_ingestion_and_ids_are_unique() -> None:
    events = sample_events(2_000, NOW, days=3, seed=5)
    assert len(events) == 2_000
    assert len({e["id"] for e in events}) == 2_000
    checked = [validate_event(e, workspace_id="ws", now=NOW, retention_days=400) for e in events]
    assert all(isinstance(c, StoredEvent) for c in checked), [c for c in checked if isinstance(c, str)][:3]
    stamps = [e["createdAt"] for e in events]
    assert stamps == sorted(stamps)
    assert min(stamps) >= (NOW - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert max(stamps) <= NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {e["eventType"] for e in events} >= {"model_invocation", "tool_call", "task_completed"}


def test_another_seed_gives_other_ids() -> None:
    first = {e["id"] for e in sample_events(100, NOW, seed=1)}
    second = {e["id"] for e in sample_events(100, NOW, seed=2)}
    assert not first & second


def test_the_command_writes_ndjson(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--count", "250", "--days", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 250
    assert all(json.loads(line)["id"].startswith("sample-1-") for line in lines)
