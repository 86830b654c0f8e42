"""Who is calling: the workspace and groups from what API Gateway's authorizer passes to the handler,
the Cognito ID token's claims, or the ingest authorizer's context (an ingest key, or an ID token it
verified). The workspace never comes from a header, path or query."""

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


# The ingest authorizer's context (a Lambda authorizer hands the function flat string values).
CONTEXT_WORKSPACE, CONTEXT_GROUPS, CONTEXT_SUBJECT, CONTEXT_CREDENTIAL = (
    "workspaceId",
    "groups",
    "subject",
    "credential",
)
ID_TOKEN, INGEST_KEY = "id_token", "ingest_key"


@dataclass(frozen=True)
class Principal:
    workspace_id: str
    groups: frozenset[str]
    subject: str
    credential: str = ID_TOKEN


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
    return _principal(claims.get(WORKSPACE_CLAIM), claims.get(GROUPS_CLAIM), claims.get("sub"), ID_TOKEN)


def _principal(workspace: Any, groups: Any, subject: Any, credential: str) -> Principal:
    if not isinstance(workspace, str) or not WORKSPACE_ID.fullmatch(workspace):
        raise Unauthorized("the token carries no valid custom:workspace_id claim")
    return Principal(workspace, parse_groups(groups), str(subject or ""), credential)


def principal_from_context(context: Mapping[str, Any]) -> Principal:
    """The caller the ingest authorizer allowed (its context: workspaceId, groups, subject, credential)."""
    return _principal(
        context.get(CONTEXT_WORKSPACE),
        context.get(CONTEXT_GROUPS),
        context.get(CONTEXT_SUBJECT),
        str(context.get(CONTEXT_CREDENTIAL, ID_TOKEN)),
    )


def principal_of_request(authorizer: Mapping[str, Any] | None) -> Principal:
    """The caller of a request from its requestContext.authorizer: the Cognito authorizer's `claims`, or
    the ingest authorizer's context (recognised by the principalId every Lambda authorizer sets)."""
    authorizer = authorizer or {}
    if authorizer.get("claims"):
        return principal_from_claims(authorizer["claims"])
    if authorizer.get("principalId") and CONTEXT_WORKSPACE in authorizer:
        return principal_from_context(authorizer)
    raise Unauthorized("missing or invalid bearer token")


def authorize(claims: Mapping[str, Any] | None, allowed: frozenset[str]) -> Principal:
    """The caller if it belongs to one of the `allowed` groups; 401 without identity, 403 without a group."""
    return authorize_principal(principal_from_claims(claims), allowed)


def authorize_principal(principal: Principal, allowed: frozenset[str]) -> Principal:
    """`principal` if it belongs to one of the `allowed` groups, else 403."""
    if not principal.groups & allowed:
        wanted = " or ".join(sorted(allowed))
        raise Forbidden(f"this operation needs the {wanted} group")
    return principal
