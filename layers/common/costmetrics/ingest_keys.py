"""Ingest keys: machine credentials that may only ingest (POST /api/activity and POST /v1/traces).

A key reads `cmk_<workspaceId>.<keyId>.<secret>`: the workspace and key id say where its record is (one
consistent GetItem), the 256-bit secret proves it. Only the SHA-256 of the whole key is stored, and it is
compared in constant time (hmac.compare_digest). A key is shown once, when it is created; the list shows
its id, name and times, never the key or its hash. A revoked key is refused by the ingest authorizer at
once, and by API Gateway once its cached answer for that key expires (template: ReauthorizeEvery, 300 s).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from costmetrics import periods
from costmetrics.auth import WORKSPACE_ID
from costmetrics.errors import NotFound

KEY_PREFIX = "cmk_"
KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")
# A key's name: no control character, and no space (str.isspace) at either end. Spelled out with \x and \u
# escapes, so that Python and the OpenAPI document's clients (ECMA 262 regexes) read the same rule.
_CONTROLS = r"\x00-\x1f\x7f"
_SPACES = r" \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NAME_PATTERN = rf"^[^{_CONTROLS}{_SPACES}]([^{_CONTROLS}]*[^{_CONTROLS}{_SPACES}])?$"
_NAME = re.compile(NAME_PATTERN)
# The routes a key may call: the template puts the ingest authorizer on exactly these (a unit test checks).
INGEST_ROUTES: tuple[tuple[str, str], ...] = (("POST", "/api/activity"), ("POST", "/v1/traces"))
KeyStatus = Literal["active", "revoked"]


@dataclass(frozen=True, slots=True)
class IngestKey:
    """A key's record: everything but the key itself, of which only the hash is kept."""

    workspace_id: str
    id: str
    name: str
    secret_hash: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def status(self) -> KeyStatus:
        return "revoked" if self.revoked_at else "active"

    @property
    def prefix(self) -> str:
        """What identifies the key in a list, without its secret."""
        return f"{KEY_PREFIX}{self.workspace_id}.{self.id}"


class NewKey(BaseModel):
    """POST /api/ingest-keys: a key's name (who or what will send with it)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=128,
        description="e.g. the fleet or the collector using it; printable, without leading or trailing spaces",
        json_schema_extra={"pattern": NAME_PATTERN},  # checked below, where the message says it
    )

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("must be printable, without leading or trailing spaces")
        return value


class IngestKeyOut(BaseModel):
    """A key as listed: never the key itself."""

    id: str
    name: str
    workspaceId: str
    prefix: str = Field(description="cmk_<workspace>.<id>, the key's public part")
    status: KeyStatus
    createdAt: str
    createdBy: str
    lastUsedAt: str | None = Field(description="To within the authorizer cache (5 minutes); null if never")
    revokedAt: str | None

    @classmethod
    def of(cls, key: IngestKey) -> IngestKeyOut:
        def shown(value: datetime | None) -> str | None:
            return periods.display(value) if value else None

        return cls(
            id=key.id,
            name=key.name,
            workspaceId=key.workspace_id,
            prefix=key.prefix,
            status=key.status,
            createdAt=periods.display(key.created_at),
            createdBy=key.created_by,
            lastUsedAt=shown(key.last_used_at),
            revokedAt=shown(key.revoked_at),
        )


class CreatedKey(IngestKeyOut):
    key: str = Field(description="The key, shown this once: keep it in a secret store")


class KeyList(BaseModel):
    keys: list[IngestKeyOut]


def secret_hash(key: str) -> str:
    """What is stored of a key: the SHA-256 of all of it (a 256-bit random secret needs no slow hash)."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse(key: str) -> tuple[str, str] | None:
    """(workspace id, key id) of a well-formed key, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    parts = key.removeprefix(KEY_PREFIX).split(".")
    if len(parts) != 3:
        return None
    workspace_id, key_id, secret = parts
    if not (WORKSPACE_ID.fullmatch(workspace_id) and KEY_ID.fullmatch(key_id) and _SECRET.fullmatch(secret)):
        return None
    return workspace_id, key_id


def matches(record: IngestKey, key: str) -> bool:
    """Whether `key` is the key of `record`, compared in constant time."""
    return hmac.compare_digest(record.secret_hash.encode(), secret_hash(key).encode())


def new_key(workspace_id: str, name: str, created_by: str, now: datetime) -> tuple[IngestKey, str]:
    """A fresh key of the workspace: its record and the key (to show once)."""
    key_id = secrets.token_hex(8)
    key = f"{KEY_PREFIX}{workspace_id}.{key_id}.{secrets.token_urlsafe(32)}"
    record = IngestKey(
        workspace_id=workspace_id,
        id=key_id,
        name=name,
        secret_hash=secret_hash(key),
        created_at=now,
        created_by=created_by,
    )
    return record, key


def create(workspace_id: str, request: NewKey, created_by: str, now: datetime) -> CreatedKey:
    """Creates a key of the workspace; the answer is the only place the key is ever shown."""
    from costmetrics.repositories import ingest_keys as keys_repo

    record, key = new_key(workspace_id, request.name, created_by, now)
    keys_repo.put_key(record)
    return CreatedKey(**IngestKeyOut.of(record).model_dump(), key=key)


def list_keys(workspace_id: str) -> KeyList:
    from costmetrics.repositories import ingest_keys as keys_repo

    return KeyList(keys=[IngestKeyOut.of(k) for k in keys_repo.keys_of_workspace(workspace_id)])


def revoke(workspace_id: str, key_id: str, now: datetime) -> IngestKeyOut:
    """Revokes a key of the workspace (again: no change); 404 for a key the workspace does not have."""
    from costmetrics.repositories import ingest_keys as keys_repo

    record = keys_repo.get_key(workspace_id, key_id) if KEY_ID.fullmatch(key_id) else None
    if record is None:
        raise NotFound(f"no ingest key {key_id!r} in this workspace")
    if record.revoked_at is None:
        keys_repo.revoke_key(workspace_id, key_id, now)
        record = replace(record, revoked_at=now)
    return IngestKeyOut.of(record)


def authenticate(key: str, now: datetime) -> IngestKey | None:
    """The active key record that `key` is, or None; records the use (lastUsedAt)."""
    from costmetrics.repositories import ingest_keys as keys_repo

    where = parse(key)
    if where is None:
        return None
    record = keys_repo.get_key(*where)
    if record is None or not matches(record, key) or record.revoked_at is not None:
        return None
    keys_repo.touch_key(record.workspace_id, record.id, now)
    return record
