"""The agents table (docs/data-model.md): pk = workspace id, and by sort key
  A#<agentId>            the agent as it is now
  H#<agentId>#<month>    the agent as the last change of that month left it (H#<agentId>#0000-00: as it
                         was first registered)
  SETTINGS#alerts        the workspace's alert settings
Only this module builds these keys and maps agents to items and back."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costmetrics import aws, periods
from costmetrics.agents import Agent, AgentHistory, agents_as_of
from costmetrics.config import settings
from costmetrics.repositories import batch_get, query_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


def _table() -> Table:
    return aws.table(settings().agents_table)


def _agent_sk(agent_id: str) -> str:
    return f"A#{agent_id}"


# The month of an agent's first values: it sorts before every month.
ORIGIN = "0000-00"


def _history_sk(agent_id: str, month: str) -> str:
    """The agent as it stood in `month`: written by every change, the last change of a month wins.
    `ORIGIN` holds the values the agent was first registered with."""
    return f"H#{agent_id}#{month}"


_CENTS = Decimal("0.01")


def _to_item(agent: Agent, sk: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": agent.workspace_id,
        "sk": sk or _agent_sk(agent.id),
        **agent.model_dump(exclude={"workspace_id", "created_at", "updated_at"}),
        # Fixed-point amounts: DynamoDB numbers without exponent notation, whatever the JSON said.
        "human_equivalent_salary": agent.human_equivalent_salary.quantize(_CENTS),
        "estimated_hours_saved": agent.estimated_hours_saved.quantize(_CENTS),
        "cost_budget_monthly": agent.cost_budget_monthly.quantize(_CENTS),
        "created_at": periods.stored(agent.created_at),
        "updated_at": periods.stored(agent.updated_at),
    }
    return {name: value for name, value in item.items() if value is not None}


def _from_item(item: dict[str, Any]) -> Agent:
    fields = {name: item.get(name) for name in Agent.model_fields if name not in {"workspace_id"}}
    fields["created_at"] = periods.parse_stored(item["created_at"])
    fields["updated_at"] = periods.parse_stored(item["updated_at"])
    return Agent(workspace_id=item["pk"], **fields)


def put_agent(agent: Agent, *, created: bool) -> None:
    """Stores the agent and its snapshot for the month of the change (which keeps past months' values);
    a new agent also keeps its first values (ORIGIN) for activity backfilled before its registration."""
    month = periods.month_of(agent.updated_at)
    with _table().batch_writer() as batch:
        batch.put_item(Item=_to_item(agent))
        batch.put_item(Item=_to_item(agent, _history_sk(agent.id, month)))
        if created:
            batch.put_item(Item=_to_item(agent, _history_sk(agent.id, ORIGIN)))


class ConcurrentChange(Exception):
    """The agent changed between reading it and writing it back: read it again."""


def replace_agent_if_unchanged(agent: Agent, seen: Agent) -> None:
    """Stores `agent` and its month's snapshot, only if the stored agent is still `seen` (its updated_at):
    a PATCH never writes back over a change it did not read. Raises ConcurrentChange otherwise."""
    from botocore.exceptions import ClientError

    name = settings().agents_table
    month = periods.month_of(agent.updated_at)
    actions: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": name,
                "Item": _to_item(agent),
                "ConditionExpression": "updated_at = :seen",
                "ExpressionAttributeValues": {":seen": periods.stored(seen.updated_at)},
            }
        },
        {"Put": {"TableName": name, "Item": _to_item(agent, _history_sk(agent.id, month))}},
    ]
    try:
        aws.dynamodb_client().transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
            raise ConcurrentChange(f"agent {agent.id!r} changed meanwhile") from error
        raise


def get_agent(workspace_id: str, agent_id: str) -> Agent | None:
    key = {"pk": workspace_id, "sk": _agent_sk(agent_id)}
    item = _table().get_item(Key=key, ConsistentRead=True).get("Item")
    return _from_item(item) if item else None


def agents_of_workspace(workspace_id: str) -> list[Agent]:
    """Every agent of a workspace, ordered by agent id: one Query (paginated past 1 MB)."""
    items = query_all(
        _table(),
        KeyConditionExpression="pk = :ws AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":ws": workspace_id, ":prefix": "A#"},
    )
    return [_from_item(item) for item in items]


def registry_history(workspace_id: str) -> list[AgentHistory]:
    """The history of every agent of a workspace, by agent id, from its agent and history items (agents
    and their changes, never events): one Query. agents.agents_as_of turns it into the registry of any
    month."""
    items = query_all(
        _table(),
        KeyConditionExpression="pk = :ws AND sk BETWEEN :first AND :last",
        ExpressionAttributeValues={":ws": workspace_id, ":first": "A#", ":last": "H#~"},
    )
    snapshots: dict[str, dict[str, Agent]] = {}
    current: dict[str, Agent] = {}
    for item in items:
        sk = str(item["sk"])
        if sk.startswith("H#"):
            agent_id, _, changed = sk[2:].rpartition("#")
            snapshots.setdefault(agent_id, {})[changed] = _from_item(item)
        elif sk.startswith("A#"):
            current[sk[2:]] = _from_item(item)
    histories = []
    for agent_id, agent in sorted(current.items()):
        changes = dict(snapshots.get(agent_id, {}))
        histories.append(AgentHistory(agent, first=changes.pop(ORIGIN, None), changes=changes))
    return histories


def agents_in_month(
    workspace_id: str, month: str, active: set[str] | frozenset[str] = frozenset()
) -> list[Agent]:
    """The registry as it stood in `month` (see agents.agents_as_of): one Query."""
    return agents_as_of(registry_history(workspace_id), month, active)


def registered_agent_ids(workspace_id: str, agent_ids: Iterable[str]) -> set[str]:
    """Which of `agent_ids` are registered in the workspace: BatchGetItem of keys only."""
    wanted = sorted(set(agent_ids))
    keys = [{"pk": workspace_id, "sk": _agent_sk(agent_id)} for agent_id in wanted]
    items = batch_get(aws.dynamodb_client(), settings().agents_table, keys, projection="sk")
    return {str(item["sk"])[2:] for item in items}


ALERT_SETTINGS_SK = "SETTINGS#alerts"


def alert_settings(workspace_id: str) -> dict[str, Any]:
    return alert_settings_revision(workspace_id)[0]


# The revision of an item stored before revisions were kept.
UNREVISED = ""


def alert_settings_revision(workspace_id: str) -> tuple[dict[str, Any], str | None]:
    """A workspace's stored alert settings and their revision (None: never set)."""
    item = (
        _table().get_item(Key={"pk": workspace_id, "sk": ALERT_SETTINGS_SK}, ConsistentRead=True).get("Item")
    )
    if not item:
        return {}, None
    return _settings_of(item), str(item.get("revision", UNREVISED))


def put_alert_settings(
    workspace_id: str, settings_doc: dict[str, Any], *, replacing: str | bool | None = True
) -> None:
    """Stores a workspace's alert settings under a new revision. `replacing=True` replaces whatever is
    there (PUT); a revision (or None: nothing stored yet) writes only if that is still what is stored,
    else raises ConcurrentChange."""
    from botocore.exceptions import ClientError

    item = {"pk": workspace_id, "sk": ALERT_SETTINGS_SK, **settings_doc, "revision": uuid.uuid4().hex}
    condition: dict[str, Any] = {}
    if replacing is None:
        condition = {"ConditionExpression": "attribute_not_exists(pk)"}
    elif replacing == UNREVISED:
        condition = {"ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(revision)"}
    elif isinstance(replacing, str):
        condition = {
            "ConditionExpression": "revision = :seen",
            "ExpressionAttributeValues": {":seen": replacing},
        }
    try:
        _table().put_item(Item=item, **condition)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise ConcurrentChange("the alert settings changed meanwhile") from error
        raise


def _settings_of(item: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if "thresholds" in item:
        found["thresholds"] = [int(v) for v in item["thresholds"]]
    if "forecast" in item:
        found["forecast"] = bool(item["forecast"])
    return found


def budgeted_agents() -> tuple[list[tuple[str, str, str, Decimal]], dict[str, dict[str, Any]]]:
    """Every agent with a budget in every workspace, and every workspace's alert settings.

    The one Scan in the service: it reads the agents table (proportional to agents, never to events),
    for the scheduled alert function only, never for an API request.
    """
    table = _table()
    kwargs: dict[str, Any] = {
        "FilterExpression": "(begins_with(sk, :agent) AND cost_budget_monthly > :zero) OR sk = :settings",
        "ProjectionExpression": "pk, sk, #name, cost_budget_monthly, thresholds, forecast",
        "ExpressionAttributeNames": {"#name": "name"},
        "ExpressionAttributeValues": {":agent": "A#", ":zero": 0, ":settings": ALERT_SETTINGS_SK},
    }
    agents: list[tuple[str, str, str, Decimal]] = []
    settings_by_workspace: dict[str, dict[str, Any]] = {}
    while True:
        page = table.scan(**kwargs)
        for item in page.get("Items", []):
            workspace_id, sk = str(item["pk"]), str(item["sk"])
            if sk == ALERT_SETTINGS_SK:
                settings_by_workspace[workspace_id] = _settings_of(item)
            else:
                agents.append(
                    (
                        workspace_id,
                        sk[2:],
                        str(item.get("name", sk[2:])),
                        Decimal(str(item["cost_budget_monthly"])),
                    )
                )
        if "LastEvaluatedKey" not in page:
            return agents, settings_by_workspace
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
