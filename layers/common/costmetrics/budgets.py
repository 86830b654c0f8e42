"""Budgets (docs/metrics.md): month-to-date cost against an agent's monthly budget, its run-rate
projection to month end, and which alert thresholds it has crossed.

A budget of 0 means "no budget": never over budget, never alerted (utilization is 0 then, as §3 says).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from costmetrics import periods
from costmetrics.numbers import ZERO, percent, ratio

DEFAULT_THRESHOLDS: tuple[int, ...] = (80, 100)
# A run rate from a few hours of a month is noise: forecasts need this much of the month, unless the
# agent is already over budget.
FORECAST_MIN_ELAPSED = timedelta(days=3)


@dataclass(frozen=True)
class BudgetStatus:
    actual: Decimal
    budget: Decimal
    projected: Decimal
    forecast_ready: bool

    @property
    def has_budget(self) -> bool:
        return self.budget > 0

    @property
    def utilization(self) -> Decimal:
        return ratio(self.actual, self.budget)

    @property
    def over_budget(self) -> bool:
        return self.has_budget and self.actual > self.budget

    @property
    def overage(self) -> Decimal:
        return self.actual - self.budget if self.over_budget else ZERO

    @property
    def overage_pct(self) -> Decimal:
        return percent(self.overage, self.budget)

    @property
    def forecast_over_budget(self) -> bool:
        return self.has_budget and self.projected > self.budget and (self.forecast_ready or self.over_budget)

    def crossed(self, threshold_pct: int) -> bool:
        """Whether month-to-date cost is above `threshold_pct` percent of the budget."""
        return self.has_budget and self.actual * 100 > self.budget * threshold_pct


ProjectionStatus = Literal["month_complete", "run_rate", "too_early", "month_not_started"]


@dataclass(frozen=True)
class MonthProjection:
    """How far `month` has gone at `now`, and whether a run rate from it is worth printing.

    - month_complete: the month is over; a projection is the actual figure.
    - run_rate: the month is in progress and at least FORECAST_MIN_ELAPSED old; a projection is the
      month-to-date figure / elapsed fraction (the rule of projectedCost and of forecast alerts).
    - too_early: the month is in progress but younger than FORECAST_MIN_ELAPSED: no projection.
    - month_not_started: a future month: no projection.
    """

    month: str
    fraction: Decimal
    status: ProjectionStatus
    ready_at: datetime

    def project(self, actual: Decimal) -> Decimal | None:
        """`actual` month-to-date, projected to the whole month; None when there is no projection."""
        if self.status == "month_complete":
            return actual
        if self.status == "run_rate":
            return actual / self.fraction
        return None


def month_projection(month: str, now: datetime) -> MonthProjection:
    """The projection rule of `month` seen at `now` (see MonthProjection)."""
    fraction = periods.elapsed_fraction(month, now)
    start, _ = periods.month_bounds(month)
    ready_at = start + FORECAST_MIN_ELAPSED
    status: ProjectionStatus
    if fraction >= 1:
        status = "month_complete"
    elif fraction <= 0:
        status = "month_not_started"
    elif periods.to_utc(now) < ready_at:
        status = "too_early"
    else:
        status = "run_rate"
    return MonthProjection(month=month, fraction=fraction, status=status, ready_at=ready_at)


def assess(actual: Decimal, budget: Decimal, month: str, now: datetime) -> BudgetStatus:
    """The budget position of `actual` month-to-date cost in `month`, seen at `now`.

    projected = actual / elapsed fraction of the month (the run rate to month end); for a past month it
    is the actual cost, for a future month 0. Unlike MonthProjection.project it is always a number (the
    reference's projectedCost); forecasts use it only once the month is FORECAST_MIN_ELAPSED old.
    """
    projection = month_projection(month, now)
    fraction = projection.fraction
    projected = actual / fraction if fraction > 0 else actual
    return BudgetStatus(
        actual=actual,
        budget=budget,
        projected=projected,
        forecast_ready=projection.status in ("month_complete", "run_rate"),
    )


def due_kinds(status: BudgetStatus, thresholds: tuple[int, ...], forecast: bool) -> list[str]:
    """The notification kinds this position calls for: threshold_<pct> for each crossed threshold, and
    `forecast` when the month-end projection exceeds the budget."""
    kinds = [f"threshold_{pct}" for pct in sorted(thresholds) if status.crossed(pct)]
    if forecast and status.forecast_over_budget:
        kinds.append("forecast")
    return kinds
