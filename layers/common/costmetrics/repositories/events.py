"""The activity-events table: pk = <workspace>#<eventId> (the idempotency key), a stream of NEW_IMAGE
records feeding the rollups, and a TTL attribute `expiresAt` for retention."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer

from costmetrics import aws
from costmetrics.config import settings
from costmetrics.events import StoredEvent

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
