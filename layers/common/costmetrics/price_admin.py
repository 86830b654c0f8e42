"""Price administration: a workspace's own price for a model, set whole (PUT) or changed field by field (a
JSON Merge Patch), from effectiveFrom on. The price in force at an event's createdAt costs it when it is
rolled up (costmetrics.stream); a price change never reprices history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field

from costmetrics.camel import CamelModel
from costmetrics.cost_responses import ModelPrice
from costmetrics.errors import InvalidRequest, NotFound
from costmetrics.events import AwareTimestamp
from costmetrics.numbers import JsonDecimal
from costmetrics.pricing import MODEL_ID, PROVIDER_ID, PriceBook, PriceVersion, Tier
from costmetrics.repositories import prices as prices_repo
from costmetrics.writes import Patch

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
