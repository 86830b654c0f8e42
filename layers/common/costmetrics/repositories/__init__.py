"""Data access: one module per table, with functions named after access patterns."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
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


# BatchGetItem takes at most 100 keys; keys it could not read (throttling, the 16 MB limit) come back as
# UnprocessedKeys, which AWS says to retry with exponential back-off.
BATCH_GET_KEYS = 100
BATCH_GET_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0


class UnprocessedKeysLeft(RuntimeError):
    """BatchGetItem still left keys unread after every attempt (the table is throttled)."""


def batch_get(
    client: Any,
    table_name: str,
    keys: Sequence[dict[str, Any]],
    *,
    projection: str | None = None,
    consistent: bool = True,
    sleep: Callable[[float], None] | None = None,
) -> list[dict[str, Any]]:
    """The items of `keys` (distinct keys; missing items are left out), 100 keys per BatchGetItem. Unread
    keys are retried with full-jitter exponential back-off, and the call fails when some remain."""
    pause = sleep or time.sleep  # looked up per call, so a test that patches time.sleep is honoured
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_KEYS):
        chunk = list(keys[start : start + BATCH_GET_KEYS])
        read: dict[str, Any] = {"Keys": chunk, "ConsistentRead": consistent}
        if projection:
            read["ProjectionExpression"] = projection
        request: dict[str, Any] = {table_name: read}
        for attempt in range(BATCH_GET_ATTEMPTS):
            if attempt:
                ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
                pause(random.uniform(0, ceiling))  # noqa: S311 - jitter, not a secret
            response = client.batch_get_item(RequestItems=request)
            items.extend(response["Responses"].get(table_name, []))
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                break
        else:
            left = len(request[table_name]["Keys"])
            raise UnprocessedKeysLeft(f"{left} key(s) of {table_name} unread in {BATCH_GET_ATTEMPTS} tries")
    return items
