"""The activity-events table, its one owner: the item format (docs/data-model.md), the keys and the index
keys. pk = <workspace>#<eventId> (the idempotency key), a stream of NEW_IMAGE records feeding the rollups,
a TTL attribute `expiresAt` for retention, and keys-only indexes for the activity log (one per filter,
partitioned by workspace and UTC day, newest first by createdAt then id) and for the ingestion-order feed
(docs/activity-log.md). Callers speak in events, filters and instants; a position in an index is an opaque
key they hand back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer

from costmetrics import aws, periods
from costmetrics.config import settings
from costmetrics.events import StoredEvent, aware_datetime, canonical_json
from costmetrics.repositories import batch_get

_deserializer = TypeDeserializer()
_PARALLEL_PUTS = 16

# (by agent, by event type) → (index, its partition key attribute); all sort by gsSort.
_LOG_INDEXES = {
    (False, False): ("byDay", "gsDay"),
    (True, False): ("byAgentDay", "gsAgentDay"),
    (False, True): ("byTypeDay", "gsTypeDay"),
    (True, True): ("byAgentTypeDay", "gsAgentTypeDay"),
}
_FEED_INDEX, _FEED_PARTITION, _FEED_SORT = "byIngestDay", "gsIngestDay", "gsIngestSort"


# --- The item format ------------------------------------------------------------------------------------


def event_key(workspace_id: str, event_id: str) -> str:
    return f"{workspace_id}#{event_id}"


def _sort_key(instant: datetime, event_id: str) -> str:
    return f"{periods.stored(instant)}#{event_id}"


def index_keys(event: StoredEvent) -> dict[str, str]:
    """The keys of the events table's indexes: one per activity-log filter, by UTC day of createdAt,
    sorted newest first by createdAt then id; and the ingestion-order feed's."""
    keys = {"gsSort": _sort_key(event.created_at, event.id)}
    for (by_agent, by_type), (_, attribute) in _LOG_INDEXES.items():
        log = LogIndex(
            event.workspace_id, event.agent_id if by_agent else None, event.event_type if by_type else None
        )
        keys[attribute] = log.partition(event.day)
    return keys | {
        "gsIngestDay": f"{event.workspace_id}#{periods.day_of(event.ingested_at)}",
        "gsIngestSort": _sort_key(event.ingested_at, event.id),
    }


def item_of(event: StoredEvent, retention_days: int) -> dict[str, Any]:
    """The documented item format (docs/data-model.md) of the events table."""
    return {
        **index_keys(event),
        "pk": event_key(event.workspace_id, event.id),
        "workspaceId": event.workspace_id,
        "id": event.id,
        "agentId": event.agent_id,
        "eventType": event.event_type,
        "createdAt": periods.stored(event.created_at),
        "details": canonical_json(event.details),
        "ingestedAt": periods.stored(event.ingested_at),
        "expiresAt": event.expires_at(retention_days),
    }


def event_of(item: dict[str, Any]) -> StoredEvent:
    """Reads an events-table item; raises ValueError (or ValidationError) on a malformed one."""
    details = item.get("details", "{}")
    if isinstance(details, str):
        details = json.loads(details, parse_float=Decimal)
    if not isinstance(details, dict):
        raise ValueError("details must be a JSON object")
    created = aware_datetime(item["createdAt"])
    ingested = item.get("ingestedAt")
    return StoredEvent(
        workspace_id=item["workspaceId"],
        id=item["id"],
        agent_id=item["agentId"],
        event_type=item["eventType"],
        created_at=created,
        details=details,
        ingested_at=aware_datetime(ingested) if ingested else created,
    )


def _from_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


# --- Writes and single reads ----------------------------------------------------------------------------


def put_new_event(event: StoredEvent) -> StoredEvent | None:
    """Stores `event` unless its id exists in the workspace; returns the existing event in that case."""
    from botocore.exceptions import ClientError

    config = settings()
    try:
        aws.dynamodb_client().put_item(
            TableName=config.events_table,
            Item=item_of(event, config.event_retention_days),
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        existing = dict(error.response).get("Item")
        if not isinstance(existing, dict):  # a store that does not return the old item: read it
            return get_event(event.workspace_id, event.id)
        return event_of(_from_wire(existing))
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
    """One event, strongly consistent: ingestion compares a re-sent event with the one just stored."""
    response = aws.table(settings().events_table).get_item(
        Key={"pk": event_key(workspace_id, event_id)}, ConsistentRead=True
    )
    item = response.get("Item")
    return event_of(item) if item else None


def event_from_stream_image(image: dict[str, Any]) -> StoredEvent:
    """An event from a stream record's NewImage (DynamoDB JSON); raises on a malformed item."""
    return event_of(_from_wire(image))


# --- The activity log's indexes (KEYS_ONLY): one per filter, partitioned by workspace and UTC day -----


@dataclass
class KeyPage:
    """Index keys in the order read; `last` is where to continue (None: the range is exhausted); `read`
    is how many index entries the reads went over."""

    keys: list[dict[str, Any]]
    last: dict[str, Any] | None
    read: int


@dataclass(frozen=True)
class LogIndex:
    """The index that serves one activity-log filter in a workspace."""

    workspace_id: str
    agent_id: str | None = None
    event_type: str | None = None

    @property
    def _names(self) -> tuple[str, str]:
        return _LOG_INDEXES[(self.agent_id is not None, self.event_type is not None)]

    def position(self, key: dict[str, Any]) -> dict[str, Any]:
        """Where the walk continues after `key` (ExclusiveStartKey: the table's and the index's keys)."""
        return {name: key[name] for name in ("pk", self._names[1], "gsSort")}

    def partition(self, day: str) -> str:
        parts = [self.workspace_id, self.agent_id, self.event_type, day]
        return "#".join(p for p in parts if p is not None)

    def _range(self, day: str, low: datetime, high: datetime) -> dict[str, Any]:
        """A Query of the entries of `day` with low ≤ createdAt ≤ high (both to the microsecond)."""
        index, attribute = self._names
        return {
            "IndexName": index,
            "KeyConditionExpression": f"{attribute} = :p AND gsSort BETWEEN :low AND :high",
            # '#' is below every id; '$' sorts right after '#': every key of the last microsecond.
            "ExpressionAttributeValues": {
                ":p": self.partition(day),
                ":low": f"{periods.stored(low)}#",
                ":high": f"{periods.stored(high)}$",
            },
        }

    def keys(
        self, day: str, low: datetime, high: datetime, *, limit: int, start: dict[str, Any] | None = None
    ) -> KeyPage:
        """Up to `limit` keys of `day` with low ≤ createdAt ≤ high, newest first, from after `start`."""
        return _keys(self._range(day, low, high) | {"ScanIndexForward": False}, limit, start)

    def count(self, day: str, low: datetime, high: datetime) -> int:
        """How many entries of `day` lie in [low, high] (Select=COUNT: it reads, and pays for, each)."""
        kwargs = self._range(day, low, high) | {"Select": "COUNT"}
        table = aws.table(settings().events_table)
        total = 0
        while True:
            page = table.query(**kwargs)
            total += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                return total
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _keys(query: dict[str, Any], limit: int, start: dict[str, Any] | None) -> KeyPage:
    table = aws.table(settings().events_table)
    if start:
        query["ExclusiveStartKey"] = start
    keys: list[dict[str, Any]] = []
    read = 0
    while len(keys) < limit:
        query["Limit"] = limit - len(keys)
        page = table.query(**query)
        keys.extend(page.get("Items", []))
        read += int(page.get("ScannedCount", 0))
        last = page.get("LastEvaluatedKey")
        if not last:
            return KeyPage(keys, None, read)
        query["ExclusiveStartKey"] = last
    return KeyPage(keys, keys[-1] if keys else start, read)


# --- The ingestion-order feed's index: partitioned by workspace and UTC day of ingestedAt -----------------


# A feed position below every event of a day: where the walk enters the next day.
FEED_DAY_START = "0"


def feed_floor(instant: datetime) -> str:
    """A feed position below every event ingested at `instant` or later."""
    return f"{periods.stored(instant)}#"


def feed_ceiling(instant: datetime) -> str:
    """A feed position above every event ingested at `instant` or earlier."""
    return f"{periods.stored(instant)}$"


def feed_position(key: dict[str, Any]) -> str:
    """Where a key of `feed_keys` stands in ingestion order (what a feed cursor keeps)."""
    return str(key[_FEED_SORT])


def feed_keys(workspace_id: str, day: str, low: str, high: str, *, limit: int) -> KeyPage:
    """Up to `limit` keys of events ingested on `day` with positions low ≤ p ≤ high, oldest first."""
    query = {
        "IndexName": _FEED_INDEX,
        "KeyConditionExpression": f"{_FEED_PARTITION} = :p AND {_FEED_SORT} BETWEEN :low AND :high",
        "ExpressionAttributeValues": {":p": f"{workspace_id}#{day}", ":low": low, ":high": high},
        "ScanIndexForward": True,
    }
    return _keys(query, limit, None)


# --- Events for index keys ------------------------------------------------------------------------------


def events_of(keys: Sequence[dict[str, Any]]) -> list[StoredEvent]:
    """The events of index keys, in the keys' order (a key whose event is gone is left out). Events never
    change once stored, so an eventually consistent read (half the read units) returns the item or, for
    one written within the last second, nothing yet; only those few are read again, strongly consistent."""
    name, client = settings().events_table, aws.dynamodb_client()
    wanted = list(dict.fromkeys(str(key["pk"]) for key in keys))
    items = batch_get(client, name, [{"pk": pk} for pk in wanted], consistent=False)
    found = {str(item["pk"]): event_of(item) for item in items}
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        items = batch_get(client, name, [{"pk": pk} for pk in missing], consistent=True)
        found.update((str(item["pk"]), event_of(item)) for item in items)
    return [found[str(key["pk"])] for key in keys if str(key["pk"]) in found]
