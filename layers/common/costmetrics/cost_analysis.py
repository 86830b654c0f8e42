"""Cost analysis (docs/metrics.md): what the workspace spends, by provider, model and agent, read from the
month's rollups and never from events."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from costmetrics.agents import Agent, AgentStatus
from costmetrics.budgets import assess
from costmetrics.errors import InvalidRequest, NotFound
from costmetrics.events import AwareTimestamp
from costmetrics.numbers import ZERO, JsonDecimal, Money, Pct, Price, Ratio3, percent, ratio
from costmetrics.periods import Instant, display
from costmetrics.pricing import (
    MODEL_ID,
    PROVIDER_ID,
    UNKNOWN_PROVIDER,
    PriceBook,
    PriceVersion,
    Tier,
    provider_name,
)
from costmetrics.recommendations import recommend
from costmetrics.repositories import agents as agents_repo
from costmetrics.repositories import prices as prices_repo
from costmetrics.repositories import rollups as rollups_repo
from costmetrics.rollups import AgentModelMonth, AgentMonth, MonthRollups, UsageTotals
from costmetrics.writes import Patch


class CamelModel(BaseModel):
    """Response models of the cost-analysis and activity groups: snake_case in Python, camelCase in JSON."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ProviderCost(CamelModel):
    provider: str
    cost: Money


class ModelCost(CamelModel):
    model: str
    cost: Money


class TokenCost(CamelModel):
    total: Money
    by_provider: list[ProviderCost]
    by_model: list[ModelCost]


class BudgetUse(CamelModel):
    total: Money
    utilization: Ratio3


class Summary(CamelModel):
    token_cost: TokenCost
    total_spend: Money
    budget: BudgetUse
    agent_count: int
    provider_count: int
    month: str
    unpriced_tokens: int
    unpriced_models: list[str]


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


@dataclass(frozen=True)
class MonthView:
    """What every cost-analysis endpoint reads: the month's rollups and the registry as of that month."""

    month: str
    rollups: MonthRollups
    agents: list[Agent]


def month_view(workspace_id: str, month: str) -> MonthView:
    rollups = rollups_repo.month_rollups(workspace_id, month)
    return MonthView(month, rollups, agents_repo.agents_in_month(workspace_id, month, set(rollups.agents)))


def summary_for(workspace_id: str, month: str) -> Summary:
    view = month_view(workspace_id, month)
    return summarize(month, view.rollups, view.agents)


# --- Pricing ----------------------------------------------------------------------------------------


class ModelPrice(CamelModel):
    id: str
    provider: str
    category: str
    input_price_per_million: Price
    output_price_per_million: Price
    cache_read_price_per_million: Price | None
    cache_write_price_per_million: Price | None
    source: Literal["global", "workspace"]
    effective_from: Instant

    @classmethod
    def of(cls, version: PriceVersion) -> ModelPrice:
        return cls(
            id=version.model_id,
            provider=version.provider,
            category=version.category,
            input_price_per_million=version.input_per_million,
            output_price_per_million=version.output_per_million,
            cache_read_price_per_million=version.cache_read_per_million,
            cache_write_price_per_million=version.cache_write_per_million,
            source=version.scope,
            effective_from=display(version.effective_from),
        )


class PricedModel(ModelPrice):
    scheduled: ModelPrice | None = None


class Pricing(CamelModel):
    models: list[PricedModel]


def current_pricing(book: PriceBook, now: datetime) -> Pricing:
    """For each model, what this workspace pays now, and the next scheduled change if there is one."""
    rows = []
    for version in sorted(book.current(now), key=lambda v: (v.provider, v.model_id)):
        upcoming = book.upcoming(version.model_id, now)
        row = PricedModel(**ModelPrice.of(version).model_dump())
        row.scheduled = ModelPrice.of(upcoming) if upcoming else None
        rows.append(row)
    return Pricing(models=rows)


def pricing_for(workspace_id: str, now: datetime) -> Pricing:
    return current_pricing(PriceBook(prices_repo.price_versions(workspace_id)), now)


PriceAmount = Annotated[JsonDecimal, Field(ge=0, le=100_000, decimal_places=6)]
CACHE_PRICE = "null: no price of its own, these tokens are billed at the input price"


class PriceIn(CamelModel):
    """A workspace's price for a model, from effectiveFrom on: PUT /api/cost-analysis/pricing/{modelId}
    gives every field (effectiveFrom may be left out: now), PATCH the ones to change (costmetrics.writes)."""

    model_config = ConfigDict(extra="forbid")
    NOUN: ClassVar[str] = "price"
    WRITE_PARAMETERS: ClassVar[frozenset[str]] = frozenset({"effectiveFrom"})

    provider: str = Field(pattern=PROVIDER_ID.pattern)
    category: Tier
    input_price_per_million: PriceAmount
    output_price_per_million: PriceAmount
    cache_read_price_per_million: PriceAmount | None = Field(description=CACHE_PRICE)
    cache_write_price_per_million: PriceAmount | None = Field(description=CACHE_PRICE)
    effective_from: AwareTimestamp | None = Field(
        default=None,
        description="When this price starts (ISO 8601 with a time zone); absent or null: now. Not a field "
        "of the price but of the write: PUT does not require it, PATCH does not merge it",
    )


def _model_id(model_id: str) -> str:
    if not MODEL_ID.match(model_id):
        raise InvalidRequest(
            f"modelId {model_id!r} is not a valid model id",
            details=[{"in": "path", "field": "modelId", "problem": "invalid model id"}],
        )
    return model_id


def _record(workspace_id: str, model_id: str, price: PriceIn, effective: datetime) -> ModelPrice:
    version = PriceVersion(
        model_id=model_id,
        provider=price.provider,
        category=price.category,
        input_per_million=price.input_price_per_million,
        output_per_million=price.output_price_per_million,
        cache_read_per_million=price.cache_read_price_per_million,
        cache_write_per_million=price.cache_write_price_per_million,
        effective_from=effective,
        scope="workspace",
    )
    prices_repo.put_workspace_price(workspace_id, version)
    return ModelPrice.of(version)


def set_workspace_price(workspace_id: str, model_id: str, price: PriceIn, now: datetime) -> ModelPrice:
    """Records a workspace price given whole. Events already rolled up keep the cost they were given: a
    price applies to events rolled up after it is set whose createdAt is at or after effectiveFrom."""
    _model_id(model_id)
    return _record(workspace_id, model_id, price, price.effective_from or now)


def amend_workspace_price(
    workspace_id: str, model_id: str, patch: Patch[PriceIn], now: datetime
) -> ModelPrice:
    """A new workspace price from effectiveFrom (default now) on: the price in force then (the workspace's,
    else the catalog's) with the fields of a merge patch changed, e.g. only the input price."""
    _model_id(model_id)
    effective = patch.parameters.get("effectiveFrom") or now
    book = PriceBook(prices_repo.price_versions(workspace_id))
    known = book.price_at(model_id, effective) or book.latest(model_id)
    if known is None:
        raise NotFound(f"{model_id} has no price yet, here or in the catalog: set one with PUT (every field)")
    return _record(workspace_id, model_id, patch.applied_to(_document(known)), effective)


def _document(version: PriceVersion) -> dict[str, Any]:
    """A price version as the document a merge patch applies to (JSON names, exact numbers)."""
    return {
        "provider": version.provider,
        "category": version.category,
        "inputPricePerMillion": version.input_per_million,
        "outputPricePerMillion": version.output_per_million,
        "cacheReadPricePerMillion": version.cache_read_per_million,
        "cacheWritePricePerMillion": version.cache_write_per_million,
    }


# --- By provider and by model ---------------------------------------------------------------------


class ProviderRow(CamelModel):
    provider_id: str
    provider_name: str
    total_cost: Money
    total_tokens: int
    models: list[str]
    input_cost: Money
    output_cost: Money
    unpriced_tokens: int


class ByProvider(CamelModel):
    month: str
    providers: list[ProviderRow]


class ModelRow(CamelModel):
    model: str
    provider: str
    input_cost: Money
    output_cost: Money
    total_cost: Money
    input_tokens: int
    output_tokens: int
    pct_of_total: Pct
    cache_read_tokens: int
    cache_write_tokens: int
    total_tokens: int
    invocations: int
    unpriced_tokens: int
    priced: bool


class ByModel(CamelModel):
    month: str
    total_cost: Money
    unpriced_tokens: int
    unpriced_models: list[str]
    models: list[ModelRow]


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


# --- Agents and budgets -----------------------------------------------------------------------------


class AgentCost(CamelModel):
    id: str
    name: str
    model_name: str | None
    actual_cost: Money
    budget: Money
    utilization: Ratio3
    over_budget: bool
    status: AgentStatus | None
    projected_cost: Money
    forecast_over_budget: bool
    department: str | None
    invocations: int
    unpriced_tokens: int


class AgentCosts(CamelModel):
    month: str
    agents: list[AgentCost]


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


class BudgetAlertRow(CamelModel):
    agent_id: str
    agent_name: str
    model_name: str | None
    actual_cost: Money
    budget: Money
    overage: Money
    overage_pct: Pct
    projected_cost: Money


class BudgetAlerts(CamelModel):
    month: str
    alert_count: int
    alerts: list[BudgetAlertRow]


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


# --- Recommendations --------------------------------------------------------------------------------


class RecommendationRow(CamelModel):
    agent_id: str
    agent_name: str
    current_model: str
    recommended_model: str
    savings_pct: Pct
    estimated_monthly_savings: Money
    current_input_price: Price
    recommended_input_price: Price
    current_output_price: Price
    recommended_output_price: Price
    current_cost: Money
    reason: str


class Recommendations(CamelModel):
    month: str
    recommendations: list[RecommendationRow]
    total_potential_savings: Money


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


def recommendations_for(workspace_id: str, month: str, now: datetime) -> Recommendations:
    book = PriceBook(prices_repo.price_versions(workspace_id))
    return recommendations(month_view(workspace_id, month), book, now)


def by_provider_for(workspace_id: str, month: str) -> ByProvider:
    return by_provider(month, rollups_repo.month_rollups(workspace_id, month))


def by_model_for(workspace_id: str, month: str) -> ByModel:
    return by_model(month, rollups_repo.month_rollups(workspace_id, month))


def agent_costs_for(workspace_id: str, month: str, now: datetime) -> AgentCosts:
    return agent_costs(month_view(workspace_id, month), now)


def budget_alerts_for(workspace_id: str, month: str, now: datetime) -> BudgetAlerts:
    return budget_alerts(month_view(workspace_id, month), now)
