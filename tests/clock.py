"""The instant the suite runs at. No test reads the wall clock: the whole session travels to INSTANT
(time-machine, ticking from there), every in-process test module starts again at INSTANT, and the e2e
stack is started at the test process's instant (COSTMETRICS_NOW, read by the local stack only).

INSTANT is COSTMETRICS_TEST_NOW when set (`COSTMETRICS_TEST_NOW=2027-01-01T00:00:30Z make test`), else a
fixed mid-month, mid-day instant, so that a run never depends on the day it happens. The calendar's edges
are tests of their own (tests/integration/test_calendar_edges.py, at EDGES)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

DEFAULT_INSTANT = "2026-03-17T10:00:00Z"


def parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r}: give the instant with a time zone, e.g. 2027-01-01T00:00:30Z")
    return parsed.astimezone(UTC)


INSTANT = parse(os.environ.get("COSTMETRICS_TEST_NOW") or DEFAULT_INSTANT)

# Where month-sensitive figures break if they break: just after midnight on the 1st, just before midnight
# on the last day, New Year, a leap day, and an ordinary mid-month instant.
EDGES = {
    "first-of-month": parse("2026-11-01T00:00:30Z"),
    "last-of-month": parse("2026-11-30T23:59:30Z"),
    "new-year": parse("2027-01-01T00:00:30Z"),
    "leap-day": parse("2028-02-29T12:00:00Z"),
    "mid-month": parse("2026-11-17T14:20:00Z"),
}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
