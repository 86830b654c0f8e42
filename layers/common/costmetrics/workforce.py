"""Workforce ROI (docs/metrics.md): what the fleet costs against the human labour it replaces.

The reference's figures are month-to-date: monthly_human_equivalent = human_equivalent_salary / 12 (0 for
a draft agent, which replaces no one); monthly_savings = human equivalent − actual cost; roi_percent =
savings / actual cost × 100 (0 when the cost is 0); cost_per_task = cost / tasks (0 without tasks). Beside
them, like-for-like figures for a month in progress: the cost projected to the whole month by the run-rate
rule of projectedCost (costmetrics.budgets.month_projection), and the savings and ROI of that projection;
null, with projection_status saying why, while the month is too young to project. Fleet totals sum over
every agent of the month's registry; departments group them. Field names are snake_case, as in the
product reference.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field, RootModel

from costmetrics import periods
from costmetrics.agents import (
    ACTIVE_STATUSES,
    NOT_IN_SERVICE,
    REPLACES_NO_ONE,
    Agent,
    AgentProfile,
    agents_as_of,
)
from costmetrics.budgets import MonthProjection, ProjectionStatus, month_projection
from costmetrics.month_view import month_view
from costmetrics.numbers import ZERO, Money, Pct, Quantity, Ratio3, Ratio4, percent, ratio, rounded
from costmetrics.repositories import agents as agents_repo
from costmetrics.repositories import rollups as rollups_repo
from costmetrics.rollups import AgentMonth, MonthRollups, UsageTotals, WorkspaceMonth

UNASSIGNED = "Unassigned"
TWELVE = Decimal(12)

ELAPSED = "How much of the month has elapsed, 0 to 1 (1 for a past month, 0 for a future one)"
PROJECTION = (
    "month_complete: a past month, projections equal the actual figures; run_rate: a month in progress "
    "at least 3 days old, projections are month-to-date / elapsed_fraction; too_early: a month in "
    "progress younger than 3 days, no projection (null); month_not_started: a future month, no projection"
)


def _avg_ms(usage: UsageTotals) -> int:
    return int(rounded(ratio(usage.duration_ms_total, Decimal(usage.duration_count)), 0))


def human_equivalent(agent: Agent) -> Decimal:
    """The monthly salary an agent stands for: salary / 12, or 0 for an agent that replaces no one."""
    return ZERO if agent.status in REPLACES_NO_ONE else agent.human_equivalent_salary / TWELVE


def hours_saved(agent: Agent) -> Decimal:
    """The hours a month an agent is credited with: its estimate, or 0 for an agent that replaces no one."""
    return ZERO if agent.status in REPLACES_NO_ONE else agent.estimated_hours_saved


def _projected(
    human: Decimal, cost: Decimal, projection: MonthProjection
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """(projected cost, projected savings, projected ROI %) of a month-to-date `cost`, or Nones."""
    projected = projection.project(cost)
    if projected is None:
        return None, None, None
    return projected, human - projected, percent(human - projected, projected)


class AgentROI(AgentProfile):
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
    hours_saved_monthly: Quantity = Field(
        description="The hours credited this month: estimated_hours_saved, or 0 for a draft agent"
    )
    event_count: int = Field(description="Events of the agent in the month, of every type")
    events_while_paused: int = Field(
        description="event_count when the agent's status for the month is paused or draft, else 0"
    )
    activity_while_paused: bool = Field(description="Whether events_while_paused > 0: a signal to check")
    elapsed_fraction: Ratio4 = Field(description=ELAPSED)
    projection_status: ProjectionStatus = Field(description=PROJECTION)
    projected_cost_monthly: Money | None = Field(description="actual_cost_monthly projected to month end")
    projected_savings: Money | None = Field(description="monthly_human_equivalent − projected_cost_monthly")
    projected_roi_percent: Pct | None = Field(
        description="projected_savings / projected_cost_monthly × 100 (0 when that cost is 0)"
    )


class AgentROIList(RootModel[list[AgentROI]]):
    """/api/agents/workforce/agents answers a bare JSON array."""


def agent_roi(agent: Agent, usage: AgentMonth | None, projection: MonthProjection) -> AgentROI:
    cost = usage.usage.total_cost if usage else ZERO
    tasks = usage.tasks if usage else 0
    events = usage.events if usage else 0
    human = human_equivalent(agent)
    savings = human - cost
    projected_cost, projected_savings, projected_roi = _projected(human, cost, projection)
    while_paused = events if agent.status in NOT_IN_SERVICE else 0
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
        hours_saved_monthly=hours_saved(agent),
        event_count=events,
        events_while_paused=while_paused,
        activity_while_paused=while_paused > 0,
        elapsed_fraction=projection.fraction,
        projection_status=projection.status,
        projected_cost_monthly=projected_cost,
        projected_savings=projected_savings,
        projected_roi_percent=projected_roi,
    )


class Department(BaseModel):
    department: str
    agent_count: int
    monthly_savings: Money
    actual_cost_monthly: Money
    monthly_human_equivalent: Money
    tasks_completed: int
    roi_percent: Pct
    projected_cost_monthly: Money | None
    projected_savings: Money | None
    projected_roi_percent: Pct | None


class WorkforceSummary(BaseModel):
    month: str
    total_agents: int
    active_agents: int = Field(description="Agents whose status for the month is online or offline")
    paused_agents: int
    draft_agents: int
    total_human_salary: Money = Field(description="Yearly salaries of the agents that are not drafts")
    total_agent_cost_monthly: Money
    total_budget_monthly: Money
    total_hours_saved_monthly: Quantity = Field(
        description="estimated_hours_saved of the agents that are not drafts"
    )
    total_tasks_completed: int
    total_invocations: int
    total_errors: int
    monthly_human_equivalent: Money
    monthly_savings: Money
    roi_percent: Pct
    departments: list[Department]
    agents_with_activity: int = Field(
        description="Agents with at least one event in the month, whatever their status or registration"
    )
    events_while_paused: int = Field(description="Events of the month from agents paused or draft then")
    paused_agents_with_events: int = Field(description="Paused or draft agents with events in the month")
    unregistered_cost_monthly: Money = Field(
        description="Cost of the month of agents absent from the registry (removed, or never registered "
        "through the API); not in total_agent_cost_monthly"
    )
    elapsed_fraction: Ratio4 = Field(description=ELAPSED)
    projection_status: ProjectionStatus = Field(description=PROJECTION)
    projection_ready_at: periods.Instant = Field(
        description="When the month has enough data to project: its start + 3 days"
    )
    projected_cost_monthly: Money | None = Field(
        description="total_agent_cost_monthly projected to month end"
    )
    projected_savings: Money | None = Field(description="monthly_human_equivalent − projected_cost_monthly")
    projected_roi_percent: Pct | None = Field(
        description="projected_savings / projected_cost_monthly × 100 (0 when that cost is 0)"
    )


def _department(name: str, members: list[AgentROI], projection: MonthProjection) -> Department:
    cost = sum((m.actual_cost_monthly for m in members), ZERO)
    human = sum((m.monthly_human_equivalent for m in members), ZERO)
    projected_cost, projected_savings, projected_roi = _projected(human, cost, projection)
    return Department(
        department=name,
        agent_count=len(members),
        monthly_savings=human - cost,
        actual_cost_monthly=cost,
        monthly_human_equivalent=human,
        tasks_completed=sum(m.tasks_completed for m in members),
        roi_percent=percent(human - cost, cost),
        projected_cost_monthly=projected_cost,
        projected_savings=projected_savings,
        projected_roi_percent=projected_roi,
    )


def summarize(
    month: str, agents: list[Agent], rollups: MonthRollups, projection: MonthProjection
) -> WorkforceSummary:
    rows = [agent_roi(agent, rollups.agents.get(agent.id), projection) for agent in agents]
    cost = sum((r.actual_cost_monthly for r in rows), ZERO)
    salary = sum((a.human_equivalent_salary for a in agents if a.status not in REPLACES_NO_ONE), ZERO)
    human = salary / TWELVE
    by_department: dict[str, list[AgentROI]] = defaultdict(list)
    for row in rows:
        by_department[row.department or UNASSIGNED].append(row)
    departments = [_department(name, members, projection) for name, members in by_department.items()]
    departments.sort(key=lambda d: (-d.monthly_savings, d.department))
    statuses = [a.status for a in agents]
    registered = {a.id for a in agents}
    projected_cost, projected_savings, projected_roi = _projected(human, cost, projection)
    return WorkforceSummary(
        month=month,
        total_agents=len(agents),
        active_agents=sum(1 for s in statuses if s in ACTIVE_STATUSES),
        paused_agents=statuses.count("paused"),
        draft_agents=statuses.count("draft"),
        total_human_salary=salary,
        total_agent_cost_monthly=cost,
        total_budget_monthly=sum((a.cost_budget_monthly for a in agents), ZERO),
        total_hours_saved_monthly=sum((r.hours_saved_monthly for r in rows), ZERO),
        total_tasks_completed=sum(r.tasks_completed for r in rows),
        total_invocations=sum(r.invocation_count for r in rows),
        total_errors=sum(r.error_count for r in rows),
        monthly_human_equivalent=human,
        monthly_savings=human - cost,
        roi_percent=percent(human - cost, cost),
        departments=departments,
        agents_with_activity=sum(1 for usage in rollups.agents.values() if usage.events),
        events_while_paused=sum(r.events_while_paused for r in rows),
        paused_agents_with_events=sum(1 for r in rows if r.activity_while_paused),
        unregistered_cost_monthly=sum(
            (u.usage.total_cost for agent_id, u in rollups.agents.items() if agent_id not in registered),
            ZERO,
        ),
        elapsed_fraction=projection.fraction,
        projection_status=projection.status,
        projection_ready_at=periods.display(projection.ready_at),
        projected_cost_monthly=projected_cost,
        projected_savings=projected_savings,
        projected_roi_percent=projected_roi,
    )


def summary_for(workspace_id: str, month: str, now: datetime) -> WorkforceSummary:
    view = month_view(workspace_id, month)
    return summarize(month, view.agents, view.rollups, month_projection(month, now))


def agent_rows(agents: list[Agent], rollups: MonthRollups, projection: MonthProjection) -> AgentROIList:
    """Every agent of the month's registry, by savings (highest first), then id."""
    rows = [agent_roi(agent, rollups.agents.get(agent.id), projection) for agent in agents]
    rows.sort(key=lambda r: (-r.monthly_savings, r.id))
    return AgentROIList(rows)


def agents_for(workspace_id: str, month: str, now: datetime) -> AgentROIList:
    view = month_view(workspace_id, month)
    return agent_rows(view.agents, view.rollups, month_projection(month, now))


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
    active_agents: int = Field(description="Agents whose status for the month is online or offline")
    events: int
    unpriced_tokens: int
    agents_with_activity: int = Field(
        description="Agents with at least one event in the month, whatever their status or registration"
    )
    elapsed_fraction: Ratio4 = Field(description=ELAPSED)
    projection_status: ProjectionStatus = Field(description=PROJECTION)
    projected_total_cost: Money | None = Field(description="total_cost projected to month end")


class Trends(BaseModel):
    months: int
    trends: list[TrendRow]


def trends(
    months: list[str], found: dict[str, WorkspaceMonth], registries: dict[str, list[Agent]], now: datetime
) -> Trends:
    """One row per month, oldest first; a month without activity is a row of zeros (its active_agents
    still counts the agents registered then and in service)."""
    rows = []
    for month in months:
        total = found.get(month)
        usage = total.usage if total else UsageTotals()
        projection = month_projection(month, now)
        rows.append(
            TrendRow(
                period=month,
                tasks_completed=total.tasks if total else 0,
                invocations=usage.invocations,
                total_tokens=usage.total_tokens,
                total_cost=usage.total_cost,
                errors=total.errors if total else 0,
                avg_response_ms=_avg_ms(usage),
                active_agents=sum(1 for a in registries.get(month, []) if a.status in ACTIVE_STATUSES),
                events=total.events if total else 0,
                unpriced_tokens=usage.unpriced_tokens,
                agents_with_activity=len(total.active_agents) if total else 0,
                elapsed_fraction=projection.fraction,
                projection_status=projection.status,
                projected_total_cost=projection.project(usage.total_cost),
            )
        )
    return Trends(months=len(months), trends=rows)


def trends_for(workspace_id: str, count: int, now: datetime) -> Trends:
    """The last `count` months ending with the UTC month of `now`: one Query of ≤ 24 workspace items, and
    one of the registry with its history (each month's registry, for active_agents)."""
    months = periods.months_ending(periods.current_month(now), count)
    found = rollups_repo.workspace_months(workspace_id, months[0], months[-1])
    history = agents_repo.registry_history(workspace_id)
    registries = {
        month: agents_as_of(history, month, found[month].active_agents if month in found else frozenset())
        for month in months
    }
    return trends(months, found, registries, now)
