"""The ingest-keys table: pk = workspace id, sk = K#<keyId>; one item per key, holding its SHA-256 hash
(never the key), name, creator and times."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from costmetrics import aws, periods
from costmetrics.config import settings
from costmetrics.ingest_keys import IngestKey
from costmetrics.repositories import query_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


def _table() -> Table:
    return aws.table(settings().ingest_keys_table)


def key_sk(key_id: str) -> str:
    return f"K#{key_id}"


def _to_item(key: IngestKey) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": key.workspace_id,
        "sk": key_sk(key.id),
        "keyId": key.id,
        "name": key.name,
        "secretHash": key.secret_hash,
        "createdAt": periods.stored(key.created_at),
        "createdBy": key.created_by,
    }
    return item


def _from_item(item: dict[str, Any]) -> IngestKey:
    def instant(name: str) -> datetime | None:
        return periods.parse_stored(str(item[name])) if item.get(name) else None

    return IngestKey(
        workspace_id=str(item["pk"]),
        id=str(item["keyId"]),
        name=str(item["name"]),
        secret_hash=str(item["secretHash"]),
        created_at=periods.parse_stored(str(item["createdAt"])),
        created_by=str(item.get("createdBy", "")),
        last_used_at=instant("lastUsedAt"),
        revoked_at=instant("revokedAt"),
    )


def put_key(key: IngestKey) -> None:
    """Stores a new key (a key id is 64 random bits: an existing one is never overwritten)."""
    _table().put_item(Item=_to_item(key), ConditionExpression="attribute_not_exists(pk)")


def get_key(workspace_id: str, key_id: str) -> IngestKey | None:
    """One key of the workspace: a consistent GetItem, so a revocation is seen at once."""
    item = _table().get_item(Key={"pk": workspace_id, "sk": key_sk(key_id)}, ConsistentRead=True).get("Item")
    return _from_item(item) if item else None


def keys_of_workspace(workspace_id: str) -> list[IngestKey]:
    """Every key of the workspace, revoked ones included, by key id: one Query."""
    items = query_all(
        _table(),
        KeyConditionExpression="pk = :ws AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":ws": workspace_id, ":prefix": "K#"},
        ConsistentRead=True,
    )
    return sorted((_from_item(item) for item in items), key=lambda k: (k.created_at, k.id))


def revoke_key(workspace_id: str, key_id: str, at: datetime) -> None:
    """Marks the key revoked, keeping the first revocation time."""
    _table().update_item(
        Key={"pk": workspace_id, "sk": key_sk(key_id)},
        UpdateExpression="SET revokedAt = if_not_exists(revokedAt, :at)",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":at": periods.stored(at)},
    )


def touch_key(workspace_id: str, key_id: str, at: datetime) -> None:
    """Records a use of the key (the authorizer calls it at most once per cached answer)."""
    from botocore.exceptions import ClientError

    try:
        _table().update_item(
            Key={"pk": workspace_id, "sk": key_sk(key_id)},
            UpdateExpression="SET lastUsedAt = :at",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":at": periods.stored(at)},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
