"""Opaque pagination cursors: signed (HMAC-SHA256) and bound to a workspace and a query, so a cursor of
another workspace, of other filters, or altered in any byte is refused before any data is read."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from functools import cache
from typing import Any

from costmetrics import aws
from costmetrics.config import settings
from costmetrics.errors import InvalidRequest

VERSION = 1


@cache
def _key() -> bytes:
    """The signing key: the CURSOR_SECRET_ARN secret in AWS (read once per container), or the
    CURSOR_SECRET value where there is no Secrets Manager (tests)."""
    chosen = settings()
    if chosen.cursor_secret_arn:
        secret: str = aws.secrets().get_secret_value(SecretId=chosen.cursor_secret_arn)["SecretString"]
        return secret.encode()
    value = chosen.cursor_secret
    if not value:
        raise RuntimeError("set CURSOR_SECRET_ARN (or CURSOR_SECRET) to sign pagination cursors")
    return value.encode()


aws.on_reset(_key.cache_clear)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(workspace_id: str, scope: str, state: dict[str, Any]) -> str:
    """A cursor for `state`, valid only for `workspace_id` and `scope` (what the query asked for)."""
    body = json.dumps({"v": VERSION, "ws": workspace_id, "q": scope, "s": state}, separators=(",", ":"))
    signature = hmac.new(_key(), body.encode(), hashlib.sha256).digest()[:16]
    return f"{_b64(body.encode())}.{_b64(signature)}"


def decode(token: str, workspace_id: str, scope: str, *, param: str = "nextToken") -> dict[str, Any]:
    """The state of a cursor issued to this workspace for this query, or a 400."""
    invalid = InvalidRequest(
        f"{param} is not a cursor this query issued: it was altered, or it belongs to other filters or "
        "another workspace; start again without it",
        details=[{"in": "query", "field": param, "problem": "invalid cursor"}],
    )
    try:
        body_part, signature_part = token.split(".")
        body, signature = _unb64(body_part), _unb64(signature_part)
    except (ValueError, TypeError):
        raise invalid from None
    expected = hmac.new(_key(), body, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(expected, signature):
        raise invalid
    try:
        decoded = json.loads(body)
    except ValueError:
        raise invalid from None
    if decoded.get("v") != VERSION or decoded.get("ws") != workspace_id or decoded.get("q") != scope:
        raise invalid
    state: dict[str, Any] = decoded["s"]
    return state
