"""The cost-analysis group's reads: each loads what its figures need (costmetrics.month_view, the price
book) and computes them (costmetrics.cost_reports). Price writes are costmetrics.price_admin's."""

from __future__ import annotations

from datetime import datetime

from costmetrics import cost_reports
from costmetrics.cost_responses import (
    AgentCosts,
    BudgetAlerts,
    ByModel,
    ByProvider,
    Pricing,
    Recommendations,
    Summary,
)
from costmetrics.month_view import month_view
from costmetrics.pricing import PriceBook
from costmetrics.repositories import prices as prices_repo
from costmetrics.repositories import rollups as rollups_repo


def summary_for(workspace_id: str, month: str) -> Summary:
    view = month_view(workspace_id, month)
    return cost_reports.summarize(month, view.rollups, view.agents)


def pricing_for(workspace_id: str, now: datetime) -> Pricing:
    return cost_reports.current_pricing(PriceBook(prices_repo.price_versions(workspace_id)), now)


def recommendations_for(workspace_id: str, month: str, now: datetime) -> Recommendations:
    book = PriceBook(prices_repo.price_versions(workspace_id))
    return cost_reports.recommendations(month_view(workspace_id, month), book, now)


def by_provider_for(workspace_id: str, month: str) -> ByProvider:
    return cost_reports.by_provider(month, rollups_repo.month_rollups(workspace_id, month))


def by_model_for(workspace_id: str, month: str) -> ByModel:
    return cost_reports.by_model(month, rollups_repo.month_rollups(workspace_id, month))


def agent_costs_for(workspace_id: str, month: str, now: datetime) -> AgentCosts:
    return cost_reports.agent_costs(month_view(workspace_id, month), now)


def budget_alerts_for(workspace_id: str, month: str, now: datetime) -> BudgetAlerts:
    return cost_reports.budget_alerts(month_view(workspace_id, month), now)
