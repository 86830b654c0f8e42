"""The registry as it stood in a month (agents.agents_as_of), on domain objects: no keys, no AWS."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from costmetrics.agents import Agent, AgentHistory, agents_as_of

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def agent(agent_id: str, budget: int) -> Agent:
    return Agent(
        workspace_id="ws",
        id=agent_id,
        name=agent_id.title(),
        status="online",
        category=None,
        department=None,
        role_title=None,
        model_provider=None,
        model_name=None,
        human_equivalent_salary=Decimal(0),
        estimated_hours_saved=Decimal(0),
        cost_budget_monthly=Decimal(budget),
        created_at=NOW,
        updated_at=NOW,
    )


def budgets(agents: list[Agent]) -> dict[str, int]:
    return {a.id: int(a.cost_budget_monthly) for a in agents}


# nova: registered in March with 10, raised to 20 in May, now 30; atlas: from before history was kept.
NOVA = AgentHistory(
    agent("nova", 30),
    first=agent("nova", 10),
    changes={"2026-03": agent("nova", 10), "2026-05": agent("nova", 20), "2026-06": agent("nova", 30)},
)
ATLAS = AgentHistory(agent("atlas", 5))


def test_a_month_sees_each_agent_as_its_last_change_up_to_then_left_it() -> None:
    assert budgets(agents_as_of([ATLAS, NOVA], "2026-04")) == {"atlas": 5, "nova": 10}
    assert budgets(agents_as_of([ATLAS, NOVA], "2026-05")) == {"atlas": 5, "nova": 20}
    assert budgets(agents_as_of([ATLAS, NOVA], "2027-01")) == {"atlas": 5, "nova": 30}


def test_before_its_registration_an_agent_counts_only_with_activity_then_with_its_first_values() -> None:
    assert budgets(agents_as_of([ATLAS, NOVA], "2026-01")) == {"atlas": 5}
    assert budgets(agents_as_of([ATLAS, NOVA], "2026-01", {"nova"})) == {"atlas": 5, "nova": 10}


def test_without_first_values_a_backfill_takes_the_earliest_change() -> None:
    later = AgentHistory(
        agent("pulse", 9), changes={"2026-05": agent("pulse", 7), "2026-04": agent("pulse", 3)}
    )
    assert budgets(agents_as_of([later], "2026-01", {"pulse"})) == {"pulse": 3}
