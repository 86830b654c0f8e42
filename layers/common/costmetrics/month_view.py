"""What every month's read of the cost-analysis and workforce groups starts from: the month's rollups and
the registry as it stood in that month."""

from __future__ import annotations

from dataclasses import dataclass

from costmetrics.agents import Agent
from costmetrics.repositories import agents as agents_repo
from costmetrics.repositories import rollups as rollups_repo
from costmetrics.rollups import MonthRollups


@dataclass(frozen=True)
class MonthView:
    """What a month's cost-analysis and workforce figures read: its rollups and the registry as of then."""

    month: str
    rollups: MonthRollups
    agents: list[Agent]


def month_view(workspace_id: str, month: str) -> MonthView:
    """Two Queries: the month's rollup items, then the registry with the agents active in the month."""
    rollups = rollups_repo.month_rollups(workspace_id, month)
    return MonthView(month, rollups, agents_repo.agents_in_month(workspace_id, month, set(rollups.agents)))
