"""UTC months, run-rate projections and budget thresholds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from costmetrics import periods
from costmetrics.budgets import assess, due_kinds, month_projection
from costmetrics.errors import InvalidRequest


def test_months_ending_cross_a_year_boundary() -> None:
    assert periods.months_ending("2026-02", 4) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert periods.shift_month("2026-01", -13) == "2024-12"


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-01", "2026-00", "2026/01", "x"])
def test_a_malformed_month_is_a_client_error(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="YYYY-MM"):
        periods.parse_month(bad)


def test_the_default_month_is_the_current_utc_month() -> None:
    assert periods.parse_month(None, now=datetime(2026, 3, 31, 23, 59, tzinfo=UTC)) == "2026-03"


def test_elapsed_fraction() -> None:
    assert periods.elapsed_fraction("2026-04", datetime(2026, 4, 16, tzinfo=UTC)) == Decimal(1) / 2
    assert periods.elapsed_fraction("2026-03", datetime(2026, 4, 16, tzinfo=UTC)) == 1
    assert periods.elapsed_fraction("2026-05", datetime(2026, 4, 16, tzinfo=UTC)) == 0


def test_projection_is_the_run_rate_to_month_end() -> None:
    status = assess(Decimal("30"), Decimal("50"), "2026-04", datetime(2026, 4, 16, tzinfo=UTC))
    assert status.projected == Decimal("60")
    assert status.forecast_over_budget
    assert not status.over_budget
    assert due_kinds(status, (80, 100), forecast=True) == ["forecast"]
    assert due_kinds(status, (50, 100), forecast=False) == ["threshold_50"]


def test_thresholds_are_strictly_above_and_a_zero_budget_never_alerts() -> None:
    at = datetime(2026, 4, 30, tzinfo=UTC)
    exactly = assess(Decimal("100"), Decimal("100"), "2026-04", at)
    assert due_kinds(exactly, (80, 100), forecast=False) == ["threshold_80"]
    over = assess(Decimal("100.01"), Decimal("100"), "2026-04", at)
    assert over.over_budget
    assert over.overage == Decimal("0.01")
    assert due_kinds(over, (80, 100), forecast=False) == ["threshold_80", "threshold_100"]
    unbudgeted = assess(Decimal("5"), Decimal("0"), "2026-04", at)
    assert not unbudgeted.over_budget
    assert unbudgeted.utilization == 0
    assert due_kinds(unbudgeted, (80, 100), forecast=True) == []


def test_no_forecast_from_the_first_hours_of_a_month() -> None:
    early = assess(Decimal("2"), Decimal("100"), "2026-04", datetime(2026, 4, 1, 6, tzinfo=UTC))
    assert early.projected > 100
    assert not early.forecast_over_budget


@pytest.mark.parametrize(
    ("now", "status", "projected"),
    [
        # 00:30 on the 1st, day 2, one second before three days: a run rate from so little is noise.
        (datetime(2026, 12, 1, 0, 30, tzinfo=UTC), "too_early", None),
        (datetime(2026, 12, 2, 10, tzinfo=UTC), "too_early", None),
        (datetime(2026, 12, 3, 23, 59, 59, tzinfo=UTC), "too_early", None),
        # From three days on, month-to-date / elapsed fraction: 3 of 31 days, then 15.5 of 31 days.
        (datetime(2026, 12, 4, tzinfo=UTC), "run_rate", Decimal("31")),
        (datetime(2026, 12, 16, 12, tzinfo=UTC), "run_rate", Decimal("6")),
        # A past month projects to what it was; a future one has no projection.
        (datetime(2027, 1, 1, tzinfo=UTC), "month_complete", Decimal("3")),
        (datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), "month_not_started", None),
    ],
)
def test_a_month_projects_by_its_run_rate_only_once_three_days_old(
    now: datetime, status: str, projected: Decimal | None
) -> None:
    projection = month_projection("2026-12", now)
    assert projection.status == status
    assert projection.project(Decimal(3)) == projected
    assert projection.ready_at == datetime(2026, 12, 4, tzinfo=UTC)
    assert projection.fraction == periods.elapsed_fraction("2026-12", now)
    # The forecast alerts' rule is the same one.
    assert assess(Decimal(3), Decimal(1), "2026-12", now).forecast_ready is (projected is not None)
