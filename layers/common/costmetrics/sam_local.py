"""API Gateway's Cognito authorizer, for `sam local start-api` only.

SAM mounts every route but skips a Cognito authorizer, so under `sam local start-api` the functions get
no claims and every authenticated route would answer 401 even with a valid token. When SAM runs a function
it sets AWS_SAM_LOCAL=true (Lambda never does); then, and only then, a function verifies the request's
bearer ID token itself, as the authorizer would: an RS256 signature by a key of the user pool's JWKS (read
from the endpoint the functions use, the local stack), the pool as issuer, the app client as audience, an
ID token that has not expired. A valid token's claims are handed on exactly as API Gateway hands them
(strings); any other token leaves the request without claims, which every authorized route answers with
API Gateway's 401, and a public route ignores, as API Gateway does.

The verification is costmetrics.id_tokens', the one the ingest authorizer uses when deployed.
A route behind the ingest authorizer (a Lambda authorizer, which SAM runs itself) is left as SAM hands it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from costmetrics.config import Settings
from costmetrics.id_tokens import (
    LEEWAY_SECONDS,
    TokenRefused,
    bearer_token,
    gateway_claims,
    verify,
    verify_id_token,
)
from costmetrics.observability import logger

__all__ = [
    "LEEWAY_SECONDS",
    "TokenRefused",
    "active",
    "authorize",
    "bearer_token",
    "gateway_claims",
    "verify",
]


def active(env: Mapping[str, str] | None = None) -> bool:
    """Whether this function runs under SAM's local emulation (never in Lambda)."""
    return (os.environ if env is None else env).get("AWS_SAM_LOCAL") == "true"


def authorize(event: dict[str, Any], env: Mapping[str, str] | None = None) -> None:
    """Hands the claims of the request's valid ID token on, as API Gateway's authorizer would; leaves the
    event without claims for any other token (the functions answer that with API Gateway's 401)."""
    env = os.environ if env is None else env
    context = event.setdefault("requestContext", {})
    authorizer = context.get("authorizer") or {}
    if authorizer.get("claims") or authorizer.get("principalId"):  # a Cognito or a Lambda authorizer ran
        return
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    if "authorization" not in headers:
        return
    try:
        claims = verify_id_token(
            bearer_token(headers["authorization"]), Settings.from_env(env), now=time.time()
        )
    except (TokenRefused, OSError, ValueError) as refused:
        logger.info("sam local: bearer token refused", reason=str(refused))
        return
    context["authorizer"] = {"claims": gateway_claims(claims)}
