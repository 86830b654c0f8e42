"""The rollups table: pk = workspace id, sk = W#<month> | M#<month>#A#<agent>[#M#<model>] (see
costmetrics.rollups); and one marker item per applied event, pk = <workspace>#E#<eventId>, with a TTL."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costmetrics import aws, periods
from costmetrics.config import settings
from costmetrics.repositories import query_all
from costmetrics.rollups import (
    Contribution,
    Delta,
    MonthRollups,
    WorkspaceMonth,
    merge_deltas,
    month_prefix,
    workspace_month_from_item,
    workspace_sk,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# A marker must outlive every possible replay of its event's stream record: Lambda gives up on a record
# after MaximumRecordAgeInSeconds (1 hour, template), and the stream keeps records 24 hours (the longest a
# redrive from the dead-letter queue's metadata can still read them). Two days covers both, with margin.
MARKER_LIFETIME_SECONDS = 2 * 24 * 3600


class RollupWriteConflict(Exception):
    """A transaction was cancelled for a transient reason (conflict, throttling); retry it."""


def _table() -> Table:
    return aws.table(settings().rollups_table)


def month_rollups(workspace_id: str, month: str) -> MonthRollups:
    """Every agent and agent-model rollup of a workspace-month: one Query, whatever the event count."""
    items = query_all(
        _table(),
        KeyConditionExpression="pk = :ws AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":ws": workspace_id, ":prefix": month_prefix(month)},
    )
    return MonthRollups.from_items(month, items)


def workspace_months(workspace_id: str, first: str, last: str) -> dict[str, WorkspaceMonth]:
    """Workspace totals for the months first..last inclusive: one Query over at most that many items."""
    items = query_all(
        _table(),
        KeyConditionExpression="pk = :ws AND sk BETWEEN :first AND :last",
        ExpressionAttributeValues={
            ":ws": workspace_id,
            ":first": workspace_sk(first),
            ":last": workspace_sk(last),
        },
    )
    months = (workspace_month_from_item(item) for item in items)
    return {m.month: m for m in months}


def _update_action(table_name: str, delta: Delta) -> dict[str, Any]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    adds: list[str] = []
    sets: list[str] = []
    for i, (name, value) in enumerate(sorted(delta.adds.items())):
        names[f"#a{i}"], values[f":a{i}"] = name, value
        adds.append(f"#a{i} :a{i}")
    for i, (name, members) in enumerate(sorted(delta.members.items())):
        names[f"#s{i}"], values[f":s{i}"] = name, set(members)
        adds.append(f"#s{i} :s{i}")
    for i, (name, label) in enumerate(sorted(delta.labels.items())):
        names[f"#l{i}"], values[f":l{i}"] = name, label
        sets.append(f"#l{i} = :l{i}")
    for i, (name, default) in enumerate(sorted(delta.defaults.items())):
        names[f"#d{i}"], values[f":d{i}"] = name, default
        sets.append(f"#d{i} = if_not_exists(#d{i}, :d{i})")
    expression = " ".join(
        part
        for part in ("ADD " + ", ".join(adds) if adds else "", "SET " + ", ".join(sets) if sets else "")
        if part
    )
    return {
        "Update": {
            "TableName": table_name,
            "Key": {"pk": delta.pk, "sk": delta.sk},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def apply_chunk(chunk: list[Contribution]) -> tuple[set[tuple[str, str]], int]:
    """Applies a chunk in one transaction: a marker per event (only if absent) and one ADD per rollup item.

    Returns (markers already present, rollup items updated). When any marker is already present the whole
    transaction is cancelled and nothing is written: the caller drops those events and applies the rest.
    Raises RollupWriteConflict when the transaction was cancelled for a transient reason.
    """
    from botocore.exceptions import ClientError

    config = settings()
    name = config.rollups_table
    applied = periods.utcnow()
    now = periods.stored(applied)
    expires = int(applied.timestamp()) + MARKER_LIFETIME_SECONDS
    actions: list[dict[str, Any]] = []
    for entry in chunk:
        pk, sk = entry.marker
        actions.append(
            {
                "Put": {
                    "TableName": name,
                    "Item": {
                        "pk": pk,
                        "sk": sk,
                        "eventId": entry.event.id,
                        "sequenceNumber": entry.sequence_number,
                        "appliedAt": now,
                        "expiresAt": expires,
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
    updates = merge_deltas(d for entry in chunk for d in entry.deltas)
    actions.extend(_update_action(name, delta) for delta in updates)
    try:
        aws.dynamodb_client().transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        response: dict[str, Any] = dict(error.response)
        reasons: list[dict[str, Any]] = response.get("CancellationReasons") or []
        present = {
            chunk[i].marker
            for i, reason in enumerate(reasons[: len(chunk)])
            if reason.get("Code") == "ConditionalCheckFailed"
        }
        if present:
            return present, 0
        codes = sorted({str(r.get("Code")) for r in reasons if r.get("Code") not in (None, "None")})
        raise RollupWriteConflict(f"rollup transaction cancelled: {', '.join(codes) or 'unknown'}") from error
    return set(), len(updates)


def notice_sk(month: str, agent_id: str, kind: str) -> str:
    return f"N#{month}#{agent_id}#{kind}"


def notices_of_month(workspace_id: str, month: str) -> set[tuple[str, str]]:
    """(agent id, kind) of every budget notice already sent for the workspace-month: one Query."""
    items = query_all(
        _table(),
        KeyConditionExpression="pk = :ws AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":ws": workspace_id, ":prefix": f"N#{month}#"},
        ProjectionExpression="agentId, kind",
    )
    return {(str(item["agentId"]), str(item["kind"])) for item in items}


def record_notice(
    workspace_id: str,
    agent_id: str,
    month: str,
    kind: str,
    *,
    message_id: str,
    actual: Decimal,
    budget: Decimal,
) -> bool:
    """Records a sent notice once; False if it was already recorded (another run got there first)."""
    from botocore.exceptions import ClientError

    try:
        _table().put_item(
            Item={
                "pk": workspace_id,
                "sk": notice_sk(month, agent_id, kind),
                "agentId": agent_id,
                "month": month,
                "kind": kind,
                "messageId": message_id,
                "actualCost": str(actual),
                "budget": str(budget),
                "sentAt": periods.stored(periods.utcnow()),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def event_counts(workspace_id: str, prefix: str, first: str, last: str, attribute: str) -> dict[str, int]:
    """Activity counters `prefix<first>` .. `prefix<last>` (days or hours) → the count in `attribute`:
    one Query over at most that many small items, however many events they count."""
    items = query_all(
        _table(),
        KeyConditionExpression="pk = :ws AND sk BETWEEN :first AND :last",
        ExpressionAttributeValues={":ws": workspace_id, ":first": prefix + first, ":last": prefix + last},
        ProjectionExpression="sk, #count",
        ExpressionAttributeNames={"#count": attribute},
    )
    return {str(item["sk"])[len(prefix) :]: int(item.get(attribute, 0)) for item in items}
