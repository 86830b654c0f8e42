"""Cost analysis (docs/metrics.md): what the workspace spends, by provider, model and agent, computed from
the month's rollups and the registry as it stood then (pure logic: costmetrics.cost_analysis reads them)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from costmetrics.agents import Agent
from costmetrics.budgets import assess
from costmetrics.cost_responses import (
    AgentCost,
    AgentCosts,
    BudgetAlertRow,
    BudgetAlerts,
    BudgetUse,
    ByModel,
    ByProvider,
    ModelCost,
    ModelPrice,
    ModelRow,
    PricedModel,
    Pricing,
    ProviderCost,
    ProviderRow,
    RecommendationRow,
    Recommendations,
    Summary,
    TokenCost,
)
from costmetrics.month_view import MonthView
from costmetrics.numbers import ZERO, percent, ratio
from costmetrics.pricing import UNKNOWN_PROVIDER, PriceBook, provider_name
from costmetrics.recommendations import recommend
from costmetrics.rollups import AgentModelMonth, AgentMonth, MonthRollups, UsageTotals


def _by_cost(costs: dict[str, Decimal]) -> list[tuple[str, Decimal]]:
    # Cost descending, then name, so equal costs keep a stable order.
    return sorted(costs.items(), key=lambda kv: (-kv[1], kv[0]))


def summarize(month: str, rollups: MonthRollups, agents: list[Agent]) -> Summary:
    """The workspace's month: total spend, by provider and model, against the sum of agents' budgets."""
    by_provider: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_model: dict[str, Decimal] = defaultdict(lambda: ZERO)
    unpriced: dict[str, int] = defaultdict(int)
    for row in rollups.models:
        cost = row.usage.total_cost
        if row.usage.invocations > row.usage.unpriced_invocations:
            by_provider[row.provider] += cost
            by_model[row.model] += cost
        if row.usage.unpriced_tokens:
            unpriced[row.model] += row.usage.unpriced_tokens
    total = sum(by_model.values(), ZERO)
    budget = sum((a.cost_budget_monthly for a in agents), ZERO)
    return Summary(
        token_cost=TokenCost(
            total=total,
            by_provider=[ProviderCost(provider=p, cost=c) for p, c in _by_cost(by_provider)],
            by_model=[ModelCost(model=m, cost=c) for m, c in _by_cost(by_model)],
        ),
        total_spend=total,
        budget=BudgetUse(total=budget, utilization=ratio(total, budget)),
        agent_count=len(agents),
        provider_count=sum(1 for cost in by_provider.values() if cost > 0),
        month=month,
        unpriced_tokens=sum(unpriced.values()),
        unpriced_models=sorted(unpriced),
    )


def current_pricing(book: PriceBook, now: datetime) -> Pricing:
    """For each model, what this workspace pays now, and the next scheduled change if there is one."""
    rows = []
    for version in sorted(book.current(now), key=lambda v: (v.provider, v.model_id)):
        upcoming = book.upcoming(version.model_id, now)
        row = PricedModel(**ModelPrice.of(version).model_dump())
        row.scheduled = ModelPrice.of(upcoming) if upcoming else None
        rows.append(row)
    return Pricing(models=rows)


# --- By provider and by model --------------------------------------------------------------------------


def _model_totals(rollups: MonthRollups) -> dict[str, tuple[str, UsageTotals]]:
    totals: dict[str, tuple[str, UsageTotals]] = {}
    for row in rollups.models:
        provider, so_far = totals.get(row.model, (row.provider, UsageTotals()))
        if provider == UNKNOWN_PROVIDER:
            provider = row.provider
        totals[row.model] = (provider, so_far + row.usage)
    return totals


def by_model(month: str, rollups: MonthRollups) -> ByModel:
    """Per-model token economics; pctOfTotal is the model's share of the workspace's month cost."""
    totals = _model_totals(rollups)
    month_cost = sum((u.total_cost for _, u in totals.values()), ZERO)
    rows = [
        ModelRow(
            model=model,
            provider=provider,
            input_cost=usage.input_cost,
            output_cost=usage.output_cost,
            total_cost=usage.total_cost,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            pct_of_total=percent(usage.total_cost, month_cost),
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            total_tokens=usage.total_tokens,
            invocations=usage.invocations,
            unpriced_tokens=usage.unpriced_tokens,
            priced=usage.unpriced_invocations < usage.invocations,
        )
        for model, (provider, usage) in totals.items()
    ]
    rows.sort(key=lambda r: (-r.total_cost, -r.total_tokens, r.model))
    return ByModel(
        month=month,
        total_cost=month_cost,
        unpriced_tokens=sum(r.unpriced_tokens for r in rows),
        unpriced_models=sorted(r.model for r in rows if r.unpriced_tokens),
        models=rows,
    )


def by_provider(month: str, rollups: MonthRollups) -> ByProvider:
    per_provider: dict[str, tuple[list[str], UsageTotals]] = {}
    for model, (provider, usage) in _model_totals(rollups).items():
        models, so_far = per_provider.get(provider, ([], UsageTotals()))
        per_provider[provider] = ([*models, model], so_far + usage)
    rows = [
        ProviderRow(
            provider_id=provider,
            provider_name=provider_name(provider),
            total_cost=usage.total_cost,
            total_tokens=usage.total_tokens,
            models=sorted(models),
            input_cost=usage.input_cost,
            output_cost=usage.output_cost,
            unpriced_tokens=usage.unpriced_tokens,
        )
        for provider, (models, usage) in per_provider.items()
    ]
    rows.sort(key=lambda r: (-r.total_cost, -r.total_tokens, r.provider_id))
    return ByProvider(month=month, providers=rows)


# --- Agents and budgets --------------------------------------------------------------------------------


def _main_model(rollups: MonthRollups, agent_id: str) -> AgentModelMonth | None:
    models = rollups.models_of(agent_id)
    return max(models, key=lambda m: (m.usage.total_cost, m.usage.total_tokens, m.model)) if models else None


def _agents_with_usage(view: MonthView) -> list[tuple[Agent | None, str, AgentMonth | None]]:
    """Every agent of the month's registry, and any agent with usage that the registry lacks."""
    known = {a.id: a for a in view.agents}
    ids = sorted(set(known) | set(view.rollups.agents))
    return [(known.get(i), i, view.rollups.agents.get(i)) for i in ids]


def agent_costs(view: MonthView, now: datetime) -> AgentCosts:
    """Every agent's month-to-date cost against its budget, with the month-end projection."""
    rows = []
    for agent, agent_id, usage in _agents_with_usage(view):
        totals = usage.usage if usage else UsageTotals()
        budget = agent.cost_budget_monthly if agent else ZERO
        status = assess(totals.total_cost, budget, view.month, now)
        main = _main_model(view.rollups, agent_id)
        rows.append(
            AgentCost(
                id=agent_id,
                name=agent.name if agent else agent_id,
                model_name=(
                    agent.model_name if agent and agent.model_name else (main.model if main else None)
                ),
                actual_cost=status.actual,
                budget=budget,
                utilization=status.utilization,
                over_budget=status.over_budget,
                status=agent.status if agent else None,
                projected_cost=status.projected,
                forecast_over_budget=status.forecast_over_budget,
                department=agent.department if agent else None,
                invocations=totals.invocations,
                unpriced_tokens=totals.unpriced_tokens,
            )
        )
    rows.sort(key=lambda r: (-r.actual_cost, r.id))
    return AgentCosts(month=view.month, agents=rows)


def budget_alerts(view: MonthView, now: datetime) -> BudgetAlerts:
    """The agents whose month-to-date cost exceeds their budget (a budget of 0 means no budget)."""
    rows = []
    for agent, agent_id, usage in _agents_with_usage(view):
        if agent is None or usage is None:
            continue
        status = assess(usage.usage.total_cost, agent.cost_budget_monthly, view.month, now)
        if not status.over_budget:
            continue
        main = _main_model(view.rollups, agent_id)
        rows.append(
            BudgetAlertRow(
                agent_id=agent_id,
                agent_name=agent.name,
                model_name=agent.model_name or (main.model if main else None),
                actual_cost=status.actual,
                budget=status.budget,
                overage=status.overage,
                overage_pct=status.overage_pct,
                projected_cost=status.projected,
            )
        )
    rows.sort(key=lambda r: (-r.overage, r.agent_id))
    return BudgetAlerts(month=view.month, alert_count=len(rows), alerts=rows)


# --- Recommendations -----------------------------------------------------------------------------------


def recommendations(view: MonthView, book: PriceBook, now: datetime) -> Recommendations:
    rows = []
    for agent, agent_id, usage in _agents_with_usage(view):
        main = _main_model(view.rollups, agent_id)
        if usage is None or main is None:
            continue
        found = recommend(agent_id, agent.name if agent else agent_id, usage, main, book, view.month, now)
        if found is None:
            continue
        rows.append(
            RecommendationRow(
                agent_id=agent_id,
                agent_name=found.agent_name,
                current_model=found.current.model_id,
                recommended_model=found.recommended.model_id,
                savings_pct=found.savings_pct,
                estimated_monthly_savings=found.estimated_monthly_savings,
                current_input_price=found.current.input_per_million,
                recommended_input_price=found.recommended.input_per_million,
                current_output_price=found.current.output_per_million,
                recommended_output_price=found.recommended.output_per_million,
                current_cost=found.current_cost,
                reason=found.reason,
            )
        )
    rows.sort(key=lambda r: (-r.estimated_monthly_savings, r.agent_id))
    total = sum((r.estimated_monthly_savings for r in rows), ZERO)
    return Recommendations(month=view.month, recommendations=rows, total_potential_savings=total)
