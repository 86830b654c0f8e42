"""Response models of the cost-analysis group: GET /api/cost-analysis/*, and a price as PUT and PATCH of
/api/cost-analysis/pricing/{modelId} answer it. What the figures mean: costmetrics.cost_reports and
docs/metrics.md."""

from __future__ import annotations

from typing import Literal

from costmetrics.agents import AgentStatus
from costmetrics.camel import CamelModel
from costmetrics.numbers import Money, Pct, Price, Ratio3
from costmetrics.periods import Instant, display
from costmetrics.pricing import PriceVersion


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


# --- Pricing -------------------------------------------------------------------------------------------


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


# --- By provider and by model --------------------------------------------------------------------------


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


# --- Agents and budgets --------------------------------------------------------------------------------


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


# --- Recommendations -----------------------------------------------------------------------------------


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
