"""The pricing table: pk = #GLOBAL (the seeded catalog) or a workspace id (its own prices),
sk = <modelId>#<effectiveFrom>. A model's versions sort by effective date under its prefix."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costmetrics import aws, periods
from costmetrics.config import settings
from costmetrics.pricing import PriceVersion
from costmetrics.repositories import query_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

GLOBAL_PK = "#GLOBAL"


def _table() -> Table:
    return aws.table(settings().pricing_table)


_MICRO = Decimal("0.000001")


def _to_item(pk: str, version: PriceVersion, updated_at: str) -> dict[str, Any]:
    # Prices have at most 6 decimals (so every cost is whole pico-dollars); fixed-point, no exponent.
    item: dict[str, Any] = {
        "pk": pk,
        "sk": f"{version.model_id}#{periods.stored(version.effective_from)}",
        "modelId": version.model_id,
        "provider": version.provider,
        "category": version.category,
        "inputPricePerMillion": version.input_per_million.quantize(_MICRO),
        "outputPricePerMillion": version.output_per_million.quantize(_MICRO),
        "effectiveFrom": periods.stored(version.effective_from),
        "updatedAt": updated_at,
    }
    if version.cache_read_per_million is not None:
        item["cacheReadPricePerMillion"] = version.cache_read_per_million.quantize(_MICRO)
    if version.cache_write_per_million is not None:
        item["cacheWritePricePerMillion"] = version.cache_write_per_million.quantize(_MICRO)
    return item


def _from_item(item: dict[str, Any]) -> PriceVersion:
    def optional(name: str) -> Decimal | None:
        return Decimal(item[name]).normalize() if name in item else None

    return PriceVersion(
        model_id=str(item["modelId"]),
        provider=str(item["provider"]),
        category=item["category"],
        input_per_million=Decimal(item["inputPricePerMillion"]).normalize(),
        output_per_million=Decimal(item["outputPricePerMillion"]).normalize(),
        cache_read_per_million=optional("cacheReadPricePerMillion"),
        cache_write_per_million=optional("cacheWritePricePerMillion"),
        effective_from=periods.parse_stored(str(item["effectiveFrom"])),
        scope="global" if item["pk"] == GLOBAL_PK else "workspace",
    )


def price_versions(workspace_id: str) -> list[PriceVersion]:
    """Every price version a workspace sees: its own and the global catalog (two Queries)."""
    table = _table()
    items = []
    for pk in (workspace_id, GLOBAL_PK):
        items += query_all(table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": pk})
    return [_from_item(item) for item in items]


def put_workspace_price(workspace_id: str, version: PriceVersion) -> None:
    """A workspace's own price from `version.effective_from` on; the same instant again replaces it."""
    _table().put_item(Item=_to_item(workspace_id, version, periods.stored(periods.utcnow())))


def seed_global_catalog(versions: Iterable[PriceVersion]) -> int:
    """Writes the global catalog (idempotent: the same rows replace themselves). Returns the row count."""
    count = 0
    now = periods.stored(periods.utcnow())
    with _table().batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
        for version in versions:
            batch.put_item(Item=_to_item(GLOBAL_PK, version, now))
            count += 1
    return count
