"""Prices and cost math (docs/data-model.md, "Prices over time"): price versions with effective dates,
cache tokens, workspace overrides before the global catalog, and models nobody priced."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from costmetrics.numbers import MILLION, ZERO

Tier = Literal["economy", "standard", "flagship"]
TIERS: tuple[Tier, ...] = ("economy", "standard", "flagship")
TIER_RANK: dict[str, int] = {tier: rank for rank, tier in enumerate(TIERS)}
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")
PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
UNKNOWN_PROVIDER = "unknown"

PROVIDER_NAMES = {
    "anthropic": "Anthropic",
    "openai": "OpenAI",
    "google": "Google",
    "mistral": "Mistral AI",
    "meta": "Meta",
    "cohere": "Cohere",
    "amazon": "Amazon",
    "xai": "xAI",
    "deepseek": "DeepSeek",
    UNKNOWN_PROVIDER: "Unknown",
}


def provider_name(provider_id: str) -> str:
    """The display name of a provider: known names, otherwise the id title-cased."""
    return PROVIDER_NAMES.get(provider_id, provider_id.replace("-", " ").title())


@dataclass(frozen=True, slots=True)
class PriceVersion:
    """One price of one model from `effective_from` on, either global or a workspace's own."""

    model_id: str
    provider: str
    category: Tier
    input_per_million: Decimal
    output_per_million: Decimal
    cache_read_per_million: Decimal | None
    cache_write_per_million: Decimal | None
    effective_from: datetime
    scope: Literal["global", "workspace"]

    @property
    def effective_cache_read(self) -> Decimal:
        # A model with no cache-read price bills cached input as ordinary input.
        return self.input_per_million if self.cache_read_per_million is None else self.cache_read_per_million

    @property
    def effective_cache_write(self) -> Decimal:
        # OpenAI and Google list no cache-write price: cache writes are ordinary input tokens there.
        return (
            self.input_per_million if self.cache_write_per_million is None else self.cache_write_per_million
        )


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write


@dataclass(frozen=True, slots=True)
class Cost:
    """inputCost covers input + cache read + cache write; outputCost covers output (docs/metrics.md)."""

    input: Decimal = ZERO
    output: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.input + self.output


def cost_of(usage: TokenUsage, price: PriceVersion) -> Cost:
    """The exact cost of `usage` at `price`: tokens × price per million / 1,000,000 for each kind."""
    input_cost = (
        usage.input * price.input_per_million
        + usage.cache_read * price.effective_cache_read
        + usage.cache_write * price.effective_cache_write
    ) / MILLION
    return Cost(input=input_cost, output=usage.output * price.output_per_million / MILLION)


class PriceBook:
    """Every price version one workspace can see: its own, then the global catalog."""

    def __init__(self, versions: Iterable[PriceVersion]) -> None:
        self._by_model: dict[tuple[str, str], list[PriceVersion]] = {}
        for version in versions:
            self._by_model.setdefault((version.scope, version.model_id), []).append(version)
        for history in self._by_model.values():
            history.sort(key=lambda v: v.effective_from)

    def _latest(self, scope: str, model_id: str, at: datetime) -> PriceVersion | None:
        found = None
        for version in self._by_model.get((scope, model_id), ()):
            if version.effective_from > at:
                break
            found = version
        return found

    def price_at(self, model_id: str, at: datetime) -> PriceVersion | None:
        """The price in force for `model_id` at instant `at`: workspace override first, then global."""
        return self._latest("workspace", model_id, at) or self._latest("global", model_id, at)

    def latest(self, model_id: str) -> PriceVersion | None:
        """The most recent version of any scope, whatever its date (for a model's provider and category)."""
        versions = [v for scope in ("workspace", "global") for v in self._by_model.get((scope, model_id), ())]
        return max(versions, key=lambda v: v.effective_from) if versions else None

    def model_ids(self) -> list[str]:
        return sorted({model_id for _, model_id in self._by_model})

    def current(self, now: datetime) -> list[PriceVersion]:
        """For each known model, what this workspace pays at `now` (models not yet in force are left out)."""
        found = (self.price_at(model_id, now) for model_id in self.model_ids())
        return [version for version in found if version is not None]

    def upcoming(self, model_id: str, now: datetime) -> PriceVersion | None:
        """The next scheduled workspace or global change after `now` that will take effect for this model."""
        later = [
            v
            for scope in ("workspace", "global")
            for v in self._by_model.get((scope, model_id), ())
            if v.effective_from > now
        ]
        for version in sorted(later, key=lambda v: v.effective_from):
            if self.price_at(model_id, version.effective_from) == version:
                return version
        return None
