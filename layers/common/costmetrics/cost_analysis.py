"""Cost analysis (DESIGN.md §3): what the workspace spends, by provider, model and agent, read from the
month's rollups and never from events."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from costmetrics.agents import Agent
from costmetrics.errors import InvalidRequest
from costmetrics.events import AwareTimestamp
from costmetrics.numbers import ZERO, JsonDecimal, Money, Price, Ratio3, ratio
from costmetrics.periods import display
from costmetrics.pricing import MODEL_ID, PROVIDER_ID, PriceBook, PriceVersion, Tier
from costmetrics.repositories import agents as agents_repo
from costmetrics.repositories import prices as prices_repo
from costmetrics.repositories import rollups as rollups_repo
from costmetrics.rollups import MonthRollups


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


def summary_for(workspace_id: str, month: str) -> Summary:
    return summarize(
        month, rollups_repo.month_rollups(workspace_id, month), agents_repo.agents_of_workspace(workspace_id)
    )


# --- Pricing ----------------------------------------------------------------------------------------


class ModelPrice(CamelModel):
    id: str
    provider: str
    category: str
    input_price_per_million: Price
    output_price_per_million: Price
    cache_read_price_per_million: Price | None
    cache_write_price_per_million: Price | None
    source: str
    effective_from: str

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


class PriceIn(CamelModel):
    """PUT /api/cost-analysis/pricing/{modelId}: this workspace's price for a model, from effectiveFrom on."""

    model_config = ConfigDict(extra="forbid")

    provider: str | None = Field(default=None, pattern=PROVIDER_ID.pattern)
    category: Tier | None = None
    input_price_per_million: PriceAmount
    output_price_per_million: PriceAmount
    cache_read_price_per_million: PriceAmount | None = None
    cache_write_price_per_million: PriceAmount | None = None
    effective_from: AwareTimestamp | None = None


def set_workspace_price(workspace_id: str, model_id: str, body: PriceIn, now: datetime) -> ModelPrice:
    """Records a workspace price. Events already rolled up keep the cost they were given: a price applies
    to events rolled up after it is set whose createdAt is at or after effectiveFrom."""
    if not MODEL_ID.match(model_id):
        raise InvalidRequest(f"modelId {model_id!r} is not a valid model id", details=[{"field": "modelId"}])
    effective = body.effective_from or now
    book = PriceBook(prices_repo.price_versions(workspace_id))
    known = book.price_at(model_id, effective) or book.latest(model_id)
    provider = body.provider or (known.provider if known else None)
    category = body.category or (known.category if known else None)
    missing = [name for name, value in (("provider", provider), ("category", category)) if value is None]
    if missing or provider is None or category is None:
        raise InvalidRequest(
            f"{model_id} is not in the catalog: give {' and '.join(missing)}",
            details=[
                {"field": name, "problem": "required for a model that is not in the catalog"}
                for name in missing
            ],
        )
    version = PriceVersion(
        model_id=model_id,
        provider=provider,
        category=category,
        input_per_million=body.input_price_per_million,
        output_per_million=body.output_price_per_million,
        cache_read_per_million=body.cache_read_price_per_million,
        cache_write_per_million=body.cache_write_price_per_million,
        effective_from=effective,
        scope="workspace",
    )
    prices_repo.put_workspace_price(workspace_id, version)
    return ModelPrice.of(version)
