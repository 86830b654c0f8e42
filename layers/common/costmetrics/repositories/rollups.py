"""The rollups table (docs/data-model.md): pk = workspace id, and by sort key
  W#<month>                       a workspace's month            (costmetrics.rollups.RollupItem "workspace")
  M#<month>#A#<agent>             an agent's month               ("agent")
  M#<month>#A#<agent>#M#<model>   an agent's month with a model  ("agent_model")
  DT#<day> | DA#<agent>#<day>     events per UTC day             ("day", "agent_day")
  HT#<hour> | HA#<agent>#<hour>   events per UTC hour            ("hour", "agent_hour")
  N#<month>#<agent>#<kind>        a budget notice sent
each rollup item holding its counters and sets as attributes of their own names, and its kind (plus the
month, agentId and model of the month kinds) as labels; and one marker item per applied event,
pk = <workspace>#E#<eventId>, sk = applied, with a TTL. Only this module builds these keys."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costmetrics import aws, periods
from costmetrics.config import settings
from costmetrics.pricing import UNKNOWN_PROVIDER
from costmetrics.repositories import query_all
from costmetrics.rollups import (
    AgentModelMonth,
    Contribution,
    Delta,
    MonthRollups,
    RollupItem,
    UsageTotals,
    WorkspaceMonth,
    agent_month,
    merge_deltas,
    workspace_month,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# A marker must outlive every possible replay of its event's stream record: Lambda gives up on a record
# after MaximumRecordAgeInSeconds (1 hour, template), and the stream keeps records 24 hours (the longest a
# redrive from the dead-letter queue's metadata can still read them). Two days covers both, with margin.
MARKER_LIFETIME_SECONDS = 2 * 24 * 3600


MARKER_SK = "applied"
_MONTH_KINDS = frozenset({"workspace", "agent", "agent_model"})


def sort_key(item: RollupItem) -> str:
    """The sort key of a rollup item (its partition key is its workspace)."""
    agent, period = item.agent_id, item.period
    match item.kind:
        case "workspace":
            return f"W#{period}"
        case "agent":
            return f"M#{period}#A#{agent}"
        case "agent_model":
            return f"M#{period}#A#{agent}#M#{item.model}"
        case "day":
            return f"DT#{period}"
        case "agent_day":
            return f"DA#{agent}#{period}"
        case "hour":
            return f"HT#{period}"
        case "agent_hour":
            return f"HA#{agent}#{period}"


def _labels(item: RollupItem) -> dict[str, str]:
    """The attributes that say what an item is: its kind, and the month, agent and model of a month kind."""
    if item.kind not in _MONTH_KINDS:
        return {"kind": item.kind}
    labels = {"kind": item.kind, "month": item.period, "agentId": item.agent_id, "model": item.model}
    return {name: value for name, value in labels.items() if value is not None}


def _marker_key(event_ref: tuple[str, str]) -> dict[str, str]:
    """The key of the record that an event was applied; it starts with the workspace like all tenant keys."""
    workspace_id, event_id = event_ref
    return {"pk": f"{workspace_id}#E#{event_id}", "sk": MARKER_SK}


class RollupWriteConflict(Exception):
    """A transaction was cancelled for a transient reason (conflict, throttling); retry it."""


def _table() -> Table:
    return aws.table(settings().rollups_table)


def month_rollups(workspace_id: str, month: str) -> MonthRollups:
    """Every agent and agent-model rollup of a workspace-month: one Query, whatever the event count."""
    items = query_all(
        _table(),
        KeyConditionExpression="pk = :ws AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":ws": workspace_id, ":prefix": f"M#{month}#"},
    )
    result = MonthRollups(month)
    for item in items:
        kind = item.get("kind")
        if kind == "agent":
            agent = agent_month(str(item["agentId"]), item)
            result.agents[agent.agent_id] = agent
        elif kind == "agent_model":
            result.models.append(
                AgentModelMonth(
                    agent_id=str(item["agentId"]),
                    model=str(item["model"]),
                    provider=str(item.get("provider", UNKNOWN_PROVIDER)),
                    category=item.get("category"),
                    usage=UsageTotals.from_counters(item),
                )
            )
    return result


def workspace_months(workspace_id: str, first: str, last: str) -> dict[str, WorkspaceMonth]:
    """Workspace totals for the months first..last inclusive: one Query over at most that many items."""
    items = query_all(
        _table(),
        KeyConditionExpression="pk = :ws AND sk BETWEEN :first AND :last",
        ExpressionAttributeValues={
            ":ws": workspace_id,
            ":first": sort_key(RollupItem(workspace_id, "workspace", first)),
            ":last": sort_key(RollupItem(workspace_id, "workspace", last)),
        },
    )
    months = (workspace_month(str(item["month"]), item) for item in items)
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
    for i, (name, label) in enumerate(sorted((_labels(delta.item) | delta.labels).items())):
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
            "Key": {"pk": delta.item.workspace_id, "sk": sort_key(delta.item)},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def apply_chunk(chunk: list[Contribution]) -> tuple[set[tuple[str, str]], int]:
    """Applies a chunk in one transaction: a marker per event (only if absent) and one ADD per rollup item.

    Returns (the events already applied, as Contribution.event_ref, and the rollup items updated). When any
    marker is already present the whole transaction is cancelled and nothing is written: the caller drops
    those events and applies the rest.
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
        actions.append(
            {
                "Put": {
                    "TableName": name,
                    "Item": {
                        **_marker_key(entry.event_ref),
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
            chunk[i].event_ref
            for i, reason in enumerate(reasons[: len(chunk)])
            if reason.get("Code") == "ConditionalCheckFailed"
        }
        if present:
            return present, 0
        codes = sorted({str(r.get("Code")) for r in reasons if r.get("Code") not in (None, "None")})
        raise RollupWriteConflict(f"rollup transaction cancelled: {', '.join(codes) or 'unknown'}") from error
    return set(), len(updates)


def _notice_sk(month: str, agent_id: str, kind: str) -> str:
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
                "sk": _notice_sk(month, agent_id, kind),
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


def day_counts(
    workspace_id: str, agent_id: str | None, first: str, last: str, counter: str
) -> dict[str, int]:
    """The activity counters of the UTC days first..last (of the workspace, or of one agent): day → the
    value of `counter`, for the days that have an item."""
    days = (
        RollupItem(workspace_id, "agent_day", "", agent_id)
        if agent_id
        else RollupItem(workspace_id, "day", "")
    )
    return _event_counts(days, first, last, counter)


def hour_counts(workspace_id: str, agent_id: str | None, day: str, counter: str) -> dict[str, int]:
    """The activity counters of the UTC hours of `day`: hour → the value of `counter`, as day_counts."""
    hours = (
        RollupItem(workspace_id, "agent_hour", "", agent_id)
        if agent_id
        else RollupItem(workspace_id, "hour", "")
    )
    return _event_counts(hours, f"{day}T00", f"{day}T23", counter)


def _event_counts(periodless: RollupItem, first: str, last: str, attribute: str) -> dict[str, int]:
    """Counters of `periodless`'s kind from period `first` to `last` → the count in `attribute`: one Query
    over at most that many small items, however many events they count."""
    prefix = sort_key(periodless)  # the sort key without its period, which comes last
    items = query_all(
        _table(),
        KeyConditionExpression="pk = :ws AND sk BETWEEN :first AND :last",
        ExpressionAttributeValues={
            ":ws": periodless.workspace_id,
            ":first": prefix + first,
            ":last": prefix + last,
        },
        ProjectionExpression="sk, #count",
        ExpressionAttributeNames={"#count": attribute},
    )
    return {str(item["sk"])[len(prefix) :]: int(item.get(attribute, 0)) for item in items}
