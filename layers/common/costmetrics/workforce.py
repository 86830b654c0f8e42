"""Workforce ROI (DESIGN.md §3): what the fleet costs against the human labour it replaces.

monthly_human_equivalent = human_equivalent_salary / 12; monthly_savings = human equivalent − actual
cost; roi_percent = savings / actual cost × 100 (0 when the cost is 0); cost_per_task = cost / tasks
(0 without tasks). Fleet totals sum over every agent of the month's registry; departments group them.
Field names are snake_case, as in the product reference.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, RootModel

from costmetrics import periods
from costmetrics.agents import ACTIVE_STATUSES, Agent
from costmetrics.numbers import ZERO, Money, Pct, Quantity, Ratio3, percent, ratio, rounded
from costmetrics.repositories import agents as agents_repo
from costmetrics.repositories import rollups as rollups_repo
from costmetrics.rollups import AgentMonth, MonthRollups, UsageTotals, WorkspaceMonth

UNASSIGNED = "Unassigned"
TWELVE = Decimal(12)


def _avg_ms(usage: UsageTotals) -> int:
    return int(rounded(ratio(usage.duration_ms_total, Decimal(usage.duration_count)), 0))


class AgentROI(BaseModel):
    id: str
    name: str
    status: str
    category: str | None
    department: str | None
    role_title: str | None
    model_provider: str | None
    model_name: str | None
    human_equivalent_salary: Money
    estimated_hours_saved: Quantity
    actual_cost_monthly: Money
    cost_budget_monthly: Money
    tasks_completed: int
    invocation_count: int
    error_count: int
    avg_response_ms: int
    monthly_human_equivalent: Money
    monthly_savings: Money
    roi_percent: Pct
    cost_per_task: Ratio3


class AgentROIList(RootModel[list[AgentROI]]):
    """/api/agents/workforce/agents answers a bare JSON array."""


def agent_roi(agent: Agent, usage: AgentMonth | None) -> AgentROI:
    cost = usage.usage.total_cost if usage else ZERO
    tasks = usage.tasks if usage else 0
    human = agent.human_equivalent_salary / TWELVE
    savings = human - cost
    return AgentROI(
        id=agent.id,
        name=agent.name,
        status=agent.status,
        category=agent.category,
        department=agent.department,
        role_title=agent.role_title,
        model_provider=agent.model_provider,
        model_name=agent.model_name,
        human_equivalent_salary=agent.human_equivalent_salary,
        estimated_hours_saved=agent.estimated_hours_saved,
        actual_cost_monthly=cost,
        cost_budget_monthly=agent.cost_budget_monthly,
        tasks_completed=tasks,
        invocation_count=usage.usage.invocations if usage else 0,
        error_count=usage.errors if usage else 0,
        avg_response_ms=_avg_ms(usage.usage) if usage else 0,
        monthly_human_equivalent=human,
        monthly_savings=savings,
        roi_percent=percent(savings, cost),
        cost_per_task=ratio(cost, Decimal(tasks)),
    )


class Department(BaseModel):
    department: str
    agent_count: int
    monthly_savings: Money
    actual_cost_monthly: Money
    monthly_human_equivalent: Money
    tasks_completed: int
    roi_percent: Pct


class WorkforceSummary(BaseModel):
    month: str
    total_agents: int
    active_agents: int
    paused_agents: int
    draft_agents: int
    total_human_salary: Money
    total_agent_cost_monthly: Money
    total_budget_monthly: Money
    total_hours_saved_monthly: Quantity
    total_tasks_completed: int
    total_invocations: int
    total_errors: int
    monthly_human_equivalent: Money
    monthly_savings: Money
    roi_percent: Pct
    departments: list[Department]


def summarize(month: str, agents: list[Agent], rollups: MonthRollups) -> WorkforceSummary:
    rows = [agent_roi(agent, rollups.agents.get(agent.id)) for agent in agents]
    cost = sum((r.actual_cost_monthly for r in rows), ZERO)
    human = sum((a.human_equivalent_salary for a in agents), ZERO) / TWELVE
    by_department: dict[str, list[AgentROI]] = defaultdict(list)
    for row in rows:
        by_department[row.department or UNASSIGNED].append(row)
    departments = []
    for name, members in by_department.items():
        dept_cost = sum((m.actual_cost_monthly for m in members), ZERO)
        dept_human = sum((m.monthly_human_equivalent for m in members), ZERO)
        departments.append(
            Department(
                department=name,
                agent_count=len(members),
                monthly_savings=dept_human - dept_cost,
                actual_cost_monthly=dept_cost,
                monthly_human_equivalent=dept_human,
                tasks_completed=sum(m.tasks_completed for m in members),
                roi_percent=percent(dept_human - dept_cost, dept_cost),
            )
        )
    departments.sort(key=lambda d: (-d.monthly_savings, d.department))
    statuses = [a.status for a in agents]
    return WorkforceSummary(
        month=month,
        total_agents=len(agents),
        active_agents=sum(1 for s in statuses if s in ACTIVE_STATUSES),
        paused_agents=statuses.count("paused"),
        draft_agents=statuses.count("draft"),
        total_human_salary=sum((a.human_equivalent_salary for a in agents), ZERO),
        total_agent_cost_monthly=cost,
        total_budget_monthly=sum((a.cost_budget_monthly for a in agents), ZERO),
        total_hours_saved_monthly=sum((a.estimated_hours_saved for a in agents), ZERO),
        total_tasks_completed=sum(r.tasks_completed for r in rows),
        total_invocations=sum(r.invocation_count for r in rows),
        total_errors=sum(r.error_count for r in rows),
        monthly_human_equivalent=human,
        monthly_savings=human - cost,
        roi_percent=percent(human - cost, cost),
        departments=departments,
    )


def _view(workspace_id: str, month: str) -> tuple[list[Agent], MonthRollups]:
    rollups = rollups_repo.month_rollups(workspace_id, month)
    return agents_repo.agents_in_month(workspace_id, month, set(rollups.agents)), rollups


def summary_for(workspace_id: str, month: str) -> WorkforceSummary:
    agents, rollups = _view(workspace_id, month)
    return summarize(month, agents, rollups)


def agents_for(workspace_id: str, month: str) -> AgentROIList:
    agents, rollups = _view(workspace_id, month)
    rows = [agent_roi(agent, rollups.agents.get(agent.id)) for agent in agents]
    rows.sort(key=lambda r: (-r.monthly_savings, r.id))
    return AgentROIList(rows)


# --- Trends -------------------------------------------------------------------------------------------

MAX_TREND_MONTHS = 24
DEFAULT_TREND_MONTHS = 6


class TrendRow(BaseModel):
    period: str
    tasks_completed: int
    invocations: int
    total_tokens: int
    total_cost: Money
    errors: int
    avg_response_ms: int
    active_agents: int
    events: int
    unpriced_tokens: int


class Trends(BaseModel):
    months: int
    trends: list[TrendRow]


def trends(months: list[str], found: dict[str, WorkspaceMonth]) -> Trends:
    """One row per month, oldest first; a month without activity is a row of zeros."""
    rows = []
    for month in months:
        total = found.get(month)
        usage = total.usage if total else UsageTotals()
        rows.append(
            TrendRow(
                period=month,
                tasks_completed=total.tasks if total else 0,
                invocations=usage.invocations,
                total_tokens=usage.total_tokens,
                total_cost=usage.total_cost,
                errors=total.errors if total else 0,
                avg_response_ms=_avg_ms(usage),
                active_agents=len(total.active_agents) if total else 0,
                events=total.events if total else 0,
                unpriced_tokens=usage.unpriced_tokens,
            )
        )
    return Trends(months=len(months), trends=rows)


def trends_for(workspace_id: str, count: int, now: datetime) -> Trends:
    """The last `count` months ending with the UTC month of `now`: one Query of ≤ 24 workspace items."""
    months = periods.months_ending(periods.current_month(now), count)
    return trends(months, rollups_repo.workspace_months(workspace_id, months[0], months[-1]))
