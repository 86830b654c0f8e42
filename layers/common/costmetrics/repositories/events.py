"""The activity-events table: pk = <workspace>#<eventId> (the idempotency key), a stream of NEW_IMAGE
records feeding the rollups, and a TTL attribute `expiresAt` for retention."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer

from costmetrics import aws
from costmetrics.config import settings
from costmetrics.events import StoredEvent
from costmetrics.repositories import batch_get

_deserializer = TypeDeserializer()
_PARALLEL_PUTS = 16


def _from_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def put_new_event(event: StoredEvent) -> StoredEvent | None:
    """Stores `event` unless its id exists in the workspace; returns the existing event in that case."""
    from botocore.exceptions import ClientError

    config = settings()
    try:
        aws.dynamodb_client().put_item(
            TableName=config.events_table,
            Item=event.to_item(config.event_retention_days),
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        existing = dict(error.response).get("Item")
        if not isinstance(existing, dict):  # a store that does not return the old item: read it
            return get_event(event.workspace_id, event.id)
        return StoredEvent.from_item(_from_wire(existing))
    return None


def put_new_events(events: Sequence[StoredEvent]) -> list[StoredEvent | BaseException | None]:
    """`put_new_event` for each event, concurrently; an exception is returned in place, not raised,
    so one failed write never hides the outcome of the others."""

    def attempt(event: StoredEvent) -> StoredEvent | BaseException | None:
        try:
            return put_new_event(event)
        except Exception as error:
            return error

    aws.dynamodb_client()  # create the shared client once, before the threads use it
    with ThreadPoolExecutor(max_workers=min(_PARALLEL_PUTS, max(1, len(events)))) as pool:
        return list(pool.map(attempt, events))


def get_event(workspace_id: str, event_id: str) -> StoredEvent | None:
    from costmetrics.events import event_key

    response = aws.table(settings().events_table).get_item(
        Key={"pk": event_key(workspace_id, event_id)}, ConsistentRead=True
    )
    item = response.get("Item")
    return StoredEvent.from_item(item) if item else None


def event_from_stream_image(image: dict[str, Any]) -> StoredEvent:
    """An event from a stream record's NewImage (DynamoDB JSON); raises on a malformed item."""
    return StoredEvent.from_item(_from_wire(image))


# --- The activity log's indexes (KEYS_ONLY): one per filter, partitioned by workspace and UTC day -----

INDEXES = {
    (False, False): ("byDay", "gsDay"),
    (True, False): ("byAgentDay", "gsAgentDay"),
    (False, True): ("byTypeDay", "gsTypeDay"),
    (True, True): ("byAgentTypeDay", "gsAgentTypeDay"),
}
FEED_INDEX = ("byIngestDay", "gsIngestDay", "gsIngestSort")


@dataclass
class KeyPage:
    keys: list[dict[str, Any]]
    last: dict[str, Any] | None
    read: int


def keys_in_partition(
    index: str,
    attribute: str,
    partition: str,
    low: str,
    high: str,
    *,
    limit: int,
    newest_first: bool = True,
    start: dict[str, Any] | None = None,
    sort_attribute: str = "gsSort",
) -> KeyPage:
    """Up to `limit` keys of one index partition with `low` ≤ sort ≤ `high`, in order, from after
    `start`; `last` is where to continue (None when the partition range is exhausted)."""
    table = aws.table(settings().events_table)
    kwargs: dict[str, Any] = {
        "IndexName": index,
        "KeyConditionExpression": f"{attribute} = :p AND {sort_attribute} BETWEEN :low AND :high",
        "ExpressionAttributeValues": {":p": partition, ":low": low, ":high": high},
        "ScanIndexForward": not newest_first,
    }
    if start:
        kwargs["ExclusiveStartKey"] = start
    keys: list[dict[str, Any]] = []
    read = 0
    while len(keys) < limit:
        kwargs["Limit"] = limit - len(keys)
        page = table.query(**kwargs)
        keys.extend(page.get("Items", []))
        read += int(page.get("ScannedCount", 0))
        last = page.get("LastEvaluatedKey")
        if not last:
            return KeyPage(keys, None, read)
        kwargs["ExclusiveStartKey"] = last
    return KeyPage(keys, keys[-1] if keys else start, read)


def count_in_partition(index: str, attribute: str, partition: str, low: str, high: str) -> int:
    """How many index entries of one partition lie in [low, high] (Select=COUNT; reads those keys)."""
    table = aws.table(settings().events_table)
    kwargs: dict[str, Any] = {
        "IndexName": index,
        "KeyConditionExpression": f"{attribute} = :p AND gsSort BETWEEN :low AND :high",
        "ExpressionAttributeValues": {":p": partition, ":low": low, ":high": high},
        "Select": "COUNT",
    }
    total = 0
    while True:
        page = table.query(**kwargs)
        total += int(page.get("Count", 0))
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def events_by_keys(keys: list[str]) -> dict[str, StoredEvent]:
    """Full events for base-table keys found in an index, by key. Events never change once stored, so an
    eventually consistent read (half the read units) returns the item or, for one written within the
    last second, nothing yet; only those few are read again, strongly consistent."""
    name, client = settings().events_table, aws.dynamodb_client()
    wanted = list(dict.fromkeys(keys))
    items = batch_get(client, name, [{"pk": key} for key in wanted], consistent=False)
    found = {str(item["pk"]): StoredEvent.from_item(item) for item in items}
    missing = [key for key in wanted if key not in found]
    if missing:
        items = batch_get(client, name, [{"pk": key} for key in missing], consistent=True)
        found.update((str(item["pk"]), StoredEvent.from_item(item)) for item in items)
    return found
