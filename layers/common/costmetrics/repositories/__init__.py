"""Data access: one module per table, with functions named after access patterns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


def query_all(table: Table, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of one Query, following LastEvaluatedKey past the 1 MB page limit."""
    items: list[dict[str, Any]] = []
    while True:
        page = table.query(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
