"""Who is calling: the workspace and groups from the Cognito ID token claims that API Gateway's
authorizer passes to the handler. The workspace never comes from a header, path or query."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from costmetrics.errors import Forbidden, Unauthorized

ADMIN, VIEWER, INGEST = "admin", "viewer", "ingest"
READERS = frozenset({ADMIN, VIEWER})
ADMINS = frozenset({ADMIN})
INGESTERS = frozenset({ADMIN, INGEST})

WORKSPACE_CLAIM = "custom:workspace_id"
GROUPS_CLAIM = "cognito:groups"
# '#' separates key parts in every table, so a workspace id can never contain it.
WORKSPACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    workspace_id: str
    groups: frozenset[str]
    subject: str


def parse_groups(raw: Any) -> frozenset[str]:
    """`cognito:groups` arrives as a list, or as a string such as "admin,viewer" or "[admin viewer]"."""
    if raw is None:
        return frozenset()
    values: Iterable[Any] = (
        raw if isinstance(raw, list | tuple) else re.split(r"[\s,]+", str(raw).strip("[]"))
    )
    return frozenset(str(v).strip() for v in values if str(v).strip())


def principal_from_claims(claims: Mapping[str, Any] | None) -> Principal:
    """The caller, or 401 when the request carries no verified identity with a workspace."""
    if not claims:
        raise Unauthorized("missing or invalid bearer token")
    workspace = claims.get(WORKSPACE_CLAIM)
    if not isinstance(workspace, str) or not WORKSPACE_ID.fullmatch(workspace):
        raise Unauthorized("the token carries no valid custom:workspace_id claim")
    return Principal(
        workspace_id=workspace,
        groups=parse_groups(claims.get(GROUPS_CLAIM)),
        subject=str(claims.get("sub", "")),
    )


def authorize(claims: Mapping[str, Any] | None, allowed: frozenset[str]) -> Principal:
    """The caller if it belongs to one of the `allowed` groups; 401 without identity, 403 without a group."""
    principal = principal_from_claims(claims)
    if not principal.groups & allowed:
        wanted = " or ".join(sorted(allowed))
        raise Forbidden(f"this operation needs the {wanted} group")
    return principal
