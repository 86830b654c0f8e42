"""Model recommendations (docs/recommendations.md): the cheapest catalog model of the agent's provider
whose tier is at or above what its work needs, and cheaper for the agent's actual token mix.

The rule table (also in docs/recommendations.md):

| signal | tier needed |
|---|---|
| task types classification, extraction, summarization | economy |
| task types writing, research, coding | standard |
| task type planning | flagship |
| other or unspecified task types | standard (unknown work is not downgraded to economy) |
| error rate above 5% (error events and failed invocations per invocation) | one tier above the above |
| more than 2,000 output tokens per invocation | at least standard |

A task type counts when it is at least 10% of the agent's completed tasks this month, so a stray task
does not block a recommendation. An agent with no completed tasks is judged by the "unspecified" row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from costmetrics import periods
from costmetrics.numbers import ZERO, percent, rounded
from costmetrics.pricing import TIER_RANK, TIERS, PriceBook, PriceVersion, cost_of
from costmetrics.rollups import AgentModelMonth, AgentMonth

TASK_TIERS: dict[str, str] = {
    "classification": "economy",
    "extraction": "economy",
    "summarization": "economy",
    "writing": "standard",
    "research": "standard",
    "coding": "standard",
    "planning": "flagship",
    "other": "standard",
    "unspecified": "standard",
}
TASK_SHARE = Decimal("0.10")
ERROR_RATE_LIMIT = Decimal("0.05")
LONG_OUTPUT_TOKENS = 2000


@dataclass(frozen=True)
class Need:
    tier: str
    reasons: list[str]
    error_rate: Decimal
    output_per_call: Decimal


def tier_needed(agent: AgentMonth) -> Need:
    """The minimum tier the agent's work needs this month, with the rule rows that decided it."""
    tasks = sum(agent.tasks_by_type.values())
    counted = (
        {t: n for t, n in agent.tasks_by_type.items() if Decimal(n) / tasks >= TASK_SHARE} if tasks else {}
    ) or {"unspecified": 1}
    rank = max(TIER_RANK[TASK_TIERS.get(t, "standard")] for t in counted)
    names = ", ".join(sorted(counted))
    reasons = [f"its tasks ({names}) need {TIERS[rank]} models"]
    invocations = agent.usage.invocations
    failures = agent.errors + agent.usage.failed_invocations
    error_rate = Decimal(failures) / invocations if invocations else ZERO
    output_per_call = Decimal(agent.usage.output_tokens) / invocations if invocations else ZERO
    if output_per_call > LONG_OUTPUT_TOKENS and rank < TIER_RANK["standard"]:
        rank = TIER_RANK["standard"]
        reasons.append(f"{rounded(output_per_call, 0)} output tokens per call need at least standard")
    if error_rate > ERROR_RATE_LIMIT:
        rank = min(rank + 1, len(TIERS) - 1)
        reasons.append(
            f"an error rate of {rounded(error_rate * 100, 1)}% needs one tier more ({TIERS[rank]})"
        )
    return Need(TIERS[rank], reasons, error_rate, output_per_call)


@dataclass(frozen=True)
class Recommendation:
    agent_id: str
    agent_name: str
    current: PriceVersion
    recommended: PriceVersion
    current_cost: Decimal
    recommended_cost: Decimal
    estimated_monthly_savings: Decimal
    reason: str

    @property
    def savings_pct(self) -> Decimal:
        return percent(self.current_cost - self.recommended_cost, self.current_cost)


def recommend(
    agent_id: str,
    agent_name: str,
    usage: AgentMonth,
    main: AgentModelMonth,
    book: PriceBook,
    month: str,
    now: datetime,
) -> Recommendation | None:
    """A cheaper adequate model for the agent's main model this month, or None if it is already on the
    cheapest adequate one (or its model is unpriced)."""
    current = book.price_at(main.model, now)
    if current is None or main.usage.total_cost <= 0:
        return None
    need = tier_needed(usage)
    mix = main.usage.usage
    candidates = [
        (cost_of(mix, v).total, v.model_id, v)
        for v in book.current(now)
        if v.provider == current.provider
        and v.model_id != current.model_id
        and TIER_RANK[v.category] >= TIER_RANK[need.tier]
    ]
    # "Cheaper" means cheaper for this agent's own token mix at today's prices, cache tokens included.
    current_cost = cost_of(mix, current).total
    cheaper = sorted(c for c in candidates if c[0] < current_cost)
    if not cheaper:
        return None
    recommended_cost, _, recommended = cheaper[0]
    fraction = periods.elapsed_fraction(month, now)
    actual = main.usage.total_cost
    # Savings re-price this month's actual tokens at the recommended model, projected to the full month.
    month_savings = actual - recommended_cost
    projected = month_savings / fraction if fraction > 0 else month_savings
    reason = (
        f"{agent_name} needs {need.tier} models: {'; '.join(need.reasons)}. "
        f"{recommended.model_id} ({recommended.category}) costs "
        f"{rounded(percent(actual - recommended_cost, actual), 1)}% less for the same tokens "
        f"({main.usage.input_tokens:,} input, {main.usage.output_tokens:,} output, "
        f"{main.usage.cache_read_tokens + main.usage.cache_write_tokens:,} cache) than {current.model_id}."
    )
    return Recommendation(
        agent_id, agent_name, current, recommended, actual, recommended_cost, projected, reason
    )
