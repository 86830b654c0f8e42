"""Who may ingest: the decision of the ingest authorizer (API Gateway's Lambda REQUEST authorizer in front
of POST /api/activity and POST /v1/traces).

`Authorization: Bearer <credential>` is either an ingest key (`cmk_...`, checked against its stored hash)
or a Cognito ID token of the stack's user pool (verified as the Cognito authorizer does), so that signed-in
users keep ingesting on POST /api/activity. The answer's context names the workspace, the groups (a key's
is `ingest`), the subject and the kind of credential; the function behind decides by group, as it does for
the Cognito authorizer's claims. API Gateway caches the answer per Authorization header for the template's
ReauthorizeEvery (300 s), on both routes, which is why the policy allows both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from costmetrics import ingest_keys
from costmetrics.auth import (
    CONTEXT_CREDENTIAL,
    CONTEXT_GROUPS,
    CONTEXT_SUBJECT,
    CONTEXT_WORKSPACE,
    GROUPS_CLAIM,
    ID_TOKEN,
    INGEST,
    INGEST_KEY,
    WORKSPACE_CLAIM,
)
from costmetrics.config import Settings
from costmetrics.errors import Unauthorized
from costmetrics.id_tokens import TokenRefused, bearer_token, gateway_claims, verify_id_token


@dataclass(frozen=True)
class Allowed:
    """Who the authorizer lets through: API Gateway's principalId and the context handed to the function."""

    principal_id: str
    context: dict[str, str]


def decide(authorization: str | None, now: datetime, config: Settings) -> Allowed:
    """The caller of an ingest route, or Unauthorized (API Gateway's 401) for anything but a valid key or
    ID token. A token without a workspace or a group is let through: the function answers 401 or 403."""
    try:
        credential = bearer_token(authorization)
    except TokenRefused:
        raise Unauthorized("no bearer token") from None
    if credential.startswith(ingest_keys.KEY_PREFIX):
        record = ingest_keys.authenticate(credential, now)
        if record is None:
            raise Unauthorized("not an active ingest key")
        return Allowed(
            principal_id=f"ingest-key:{record.workspace_id}.{record.id}",
            context={
                CONTEXT_WORKSPACE: record.workspace_id,
                CONTEXT_GROUPS: INGEST,
                CONTEXT_SUBJECT: f"ingest-key:{record.id}",
                CONTEXT_CREDENTIAL: INGEST_KEY,
            },
        )
    try:
        claims = gateway_claims(verify_id_token(credential, config, now=now.timestamp()))
    except (TokenRefused, OSError, ValueError) as refused:
        raise Unauthorized(f"not a valid ID token: {refused}") from None
    subject = claims.get("sub", "")
    return Allowed(
        principal_id=subject or "id-token",
        context={
            CONTEXT_WORKSPACE: claims.get(WORKSPACE_CLAIM, ""),
            CONTEXT_GROUPS: claims.get(GROUPS_CLAIM, ""),
            CONTEXT_SUBJECT: subject,
            CONTEXT_CREDENTIAL: ID_TOKEN,
        },
    )
