"""Which errors a stream batch reports per record, and which fail the invocation (Lambda retries it)."""

from __future__ import annotations

from typing import Any

import pytest

from costmetrics import stream
from costmetrics.pricing import PriceBook
from tests.unit.test_rollup_planning import stored

RECORDS = [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": "7", "NewImage": {}}}]


@pytest.fixture(autouse=True)
def parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream.events_repo, "event_from_stream_image", lambda image: stored(1))


def contributions_raising(error: Exception) -> Any:
    def contributions(*args: Any) -> Any:
        raise error

    return contributions


def test_a_malformed_event_is_reported_as_its_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "contributions", contributions_raising(ValueError("bad details")))
    outcome = stream.process_records(RECORDS, load_prices=lambda ws: PriceBook([]))
    assert outcome.failed == ["7"]


def test_a_defect_is_not_passed_off_as_a_bad_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "contributions", contributions_raising(AttributeError("a bug")))
    with pytest.raises(AttributeError, match="a bug"):
        stream.process_records(RECORDS, load_prices=lambda ws: PriceBook([]))
