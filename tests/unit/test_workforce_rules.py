"""docs/metrics.md's workforce rules on plain data (no AWS): what counts as active, who replaces a human,
what events while paused are, and when a projection is printed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from costmetrics.agents import Agent
from costmetrics.budgets import month_projection
from costmetrics.rollups import AgentMonth, MonthRollups, UsageTotals, WorkspaceMonth
from costmetrics.workforce import agent_roi, summarize, trends

NOW = datetime(2026, 12, 16, 12, tzinfo=UTC)  # half of December: the run rate doubles month-to-date


def agent(agent_id: str, status: Any, salary: int = 120_000, hours: int = 10) -> Agent:
    return Agent(
        workspace_id="ws",
        id=agent_id,
        name=agent_id.title(),
        status=status,
        category=None,
        department="Ops",
        role_title=None,
        model_provider=None,
        model_name=None,
        human_equivalent_salary=Decimal(salary),
        estimated_hours_saved=Decimal(hours),
        cost_budget_monthly=Decimal(0),
        created_at=NOW,
        updated_at=NOW,
    )


def usage(agent_id: str, dollars: int, events: int) -> AgentMonth:
    return AgentMonth(
        agent_id=agent_id,
        events=events,
        events_by_type={},
        tasks=0,
        errors=0,
        tasks_by_type={},
        usage=UsageTotals(input_cost=Decimal(dollars)),
    )


def test_a_draft_replaces_no_one_but_its_cost_is_a_cost() -> None:
    row = agent_roi(agent("echo", "draft"), usage("echo", 4, 9), month_projection("2026-12", NOW))
    assert (row.monthly_human_equivalent, row.hours_saved_monthly) == (0, 0)
    assert (row.monthly_savings, row.roi_percent) == (-4, -100)
    assert (row.projected_cost_monthly, row.projected_savings) == (8, -8)
    assert row.human_equivalent_salary == 120_000  # as registered


def test_paused_and_offline_agents_still_stand_for_their_salary() -> None:
    projection = month_projection("2026-12", NOW)
    for status in ("paused", "offline", "online"):
        row = agent_roi(agent("a", status), None, projection)
        assert (row.monthly_human_equivalent, row.hours_saved_monthly) == (10_000, 10), status


def test_events_while_paused_are_the_months_events_of_a_paused_or_draft_agent() -> None:
    projection = month_projection("2026-12", NOW)
    counted = {
        status: agent_roi(agent("a", status), usage("a", 1, 7), projection).events_while_paused
        for status in ("online", "offline", "paused", "draft")
    }
    assert counted == {"online": 0, "offline": 0, "paused": 7, "draft": 7}
    quiet = agent_roi(agent("a", "paused"), None, projection)
    assert (quiet.events_while_paused, quiet.activity_while_paused) == (0, False)


def test_the_summary_counts_statuses_and_activity_apart() -> None:
    fleet = [agent("on", "online"), agent("off", "offline"), agent("p", "paused"), agent("d", "draft")]
    rollups = MonthRollups("2026-12", {"p": usage("p", 2, 3), "gone": usage("gone", 5, 1)})
    summary = summarize("2026-12", fleet, rollups, month_projection("2026-12", NOW))
    assert (summary.active_agents, summary.paused_agents, summary.draft_agents) == (2, 1, 1)
    assert summary.agents_with_activity == 2  # "p", and "gone", which the registry lacks
    assert summary.unregistered_cost_monthly == 5
    assert summary.total_agent_cost_monthly == 2
    assert summary.total_human_salary == 360_000
    assert (summary.events_while_paused, summary.paused_agents_with_events) == (3, 1)


def test_too_early_a_projection_is_null_and_says_why() -> None:
    early = month_projection("2026-12", datetime(2026, 12, 2, 10, tzinfo=UTC))
    summary = summarize("2026-12", [agent("on", "online")], MonthRollups("2026-12"), early)
    assert summary.projection_status == "too_early"
    assert summary.projected_cost_monthly is None
    assert summary.projected_savings is summary.projected_roi_percent is None
    assert summary.projection_ready_at == "2026-12-04T00:00:00Z"


def test_trends_count_active_agents_by_status_even_in_a_quiet_month() -> None:
    months = ["2026-11", "2026-12"]
    found = {"2026-12": WorkspaceMonth("2026-12", 4, 0, 0, frozenset({"on", "p"}), UsageTotals())}
    registries = {m: [agent("on", "online"), agent("p", "paused")] for m in months}
    rows = trends(months, found, registries, NOW).trends
    assert [(r.active_agents, r.agents_with_activity) for r in rows] == [(1, 0), (1, 2)]
    assert [r.projection_status for r in rows] == ["month_complete", "run_rate"]
