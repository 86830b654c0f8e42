"""API Gateway's authorizers, emulated for real. The Cognito user pool authorizer: the ID token is verified
against the emulated pool's JWKS (RS256 signature, issuer, audience, expiry, token_use) and its claims are
handed on the way API Gateway's REST authorizer does, every value a string. Lambda REQUEST authorizers: the
template's function is called with API Gateway's REQUEST event, its policy is evaluated against the
method ARN and cached per identity source for ReauthorizeEvery seconds."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet

from costmetrics.id_tokens import LEEWAY_SECONDS, TokenRefused, gateway_claims
from costmetrics.id_tokens import bearer_token as _bearer_token
from local_stack.template import LambdaAuthorizer

_JWKS_REFRESH_SECONDS = 30.0
__all__ = [
    "AuthorizerRefused",
    "CognitoAuthorizer",
    "InvalidToken",
    "LambdaRequestAuthorizer",
    "bearer_token",
    "gateway_claims",
]
log = logging.getLogger("local_stack.authorizer")


class InvalidToken(Exception):
    """The request carries no token, or one the authorizer does not accept (a 401)."""


def bearer_token(header: str | None) -> str:
    """The token of an Authorization header: the raw token, or `Bearer <token>`."""
    try:
        return _bearer_token(header)
    except TokenRefused as refused:
        raise InvalidToken(str(refused)) from None


class CognitoAuthorizer:
    """Verifies ID tokens of one user pool and app client against the JWKS the moto server serves (cached)."""

    def __init__(
        self, endpoint_url: str, user_pool_id: str, client_id: str, region: str = "us-east-1"
    ) -> None:
        self.jwks_url = f"{endpoint_url.rstrip('/')}/{user_pool_id}/.well-known/jwks.json"
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self.client_id = client_id
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _key_set(self, refresh: bool = False) -> KeySet:
        with self._lock:
            stale = refresh and time.monotonic() - self._fetched_at > _JWKS_REFRESH_SECONDS
            if self._keys is None or stale:
                with self._opener.open(self.jwks_url, timeout=5) as response:
                    self._keys = KeySet.import_key_set(json.load(response))
                self._fetched_at = time.monotonic()
            return self._keys

    def verify(self, authorization: str | None) -> dict[str, str]:
        """The claims of a valid ID token in `authorization`, as API Gateway hands them to the function.

        Raises InvalidToken for no token, a malformed one, another algorithm than RS256, a bad signature,
        another issuer or audience, an expired token, or an access token.
        """
        token = bearer_token(authorization)
        try:
            decoded = self._decode(token)
        except InvalidToken:
            raise
        except Exception as error:
            raise InvalidToken(f"{type(error).__name__}: {error}") from None
        return gateway_claims(decoded)

    def _decode(self, token: str) -> dict[str, Any]:
        from joserfc.errors import InvalidKeyIdError

        try:
            decoded = jwt.decode(token, self._key_set(), algorithms=["RS256"])
        except InvalidKeyIdError:
            # A key the cached set lacks: the pool may have rotated; fetch again (rate-limited).
            decoded = jwt.decode(token, self._key_set(refresh=True), algorithms=["RS256"])
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            exp={"essential": True},
            token_use={"essential": True, "value": "id"},
        )
        registry.validate(decoded.claims)
        claims: dict[str, Any] = dict(decoded.claims)
        return claims


# --- Lambda REQUEST authorizers ----------------------------------------------------------------------


class AuthorizerRefused(Exception):
    """API Gateway answers itself: `kind` is the gateway response (UNAUTHORIZED, ACCESS_DENIED,
    AUTHORIZER_FAILURE...), `message` its $context.error.messageString."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _arn_matches(pattern: str, arn: str) -> bool:
    """IAM resource matching: `*` any run of characters ('/' included), `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def policy_allows(policy: Any, method_arn: str) -> bool:
    """Whether an authorizer's IAM policy lets `method_arn` be invoked: an explicit Deny wins, else an
    Allow of execute-api:Invoke on a matching resource."""
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), list):
        raise ValueError("the policyDocument has no Statement list")
    allowed = False
    for statement in policy["Statement"]:
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        if not any(_arn_matches(a, "execute-api:Invoke") for a in actions):
            continue
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        if any(_arn_matches(str(r), method_arn) for r in resources):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


class LambdaRequestAuthorizer:
    """API Gateway's Lambda REQUEST authorizer (REST API), emulated from the template: the identity headers
    must be present (else 401, without calling the function), the function gets the REQUEST event and
    answers a policy and a context, or raises Exception("Unauthorized") for a 401. The answer is cached per
    identity for the TTL (ReauthorizeEvery) and evaluated against each request's method ARN, as API Gateway
    does: a cached Allow of another route is a 403 for this one."""

    def __init__(
        self,
        spec: LambdaAuthorizer,
        invoke: Callable[[str, dict[str, Any]], Any],
        ttl_seconds: float | None = None,
    ) -> None:
        self.spec = spec
        self.invoke = invoke
        self.ttl = spec.ttl_seconds if ttl_seconds is None else ttl_seconds
        self._cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def authorize(self, event: dict[str, Any], method_arn: str) -> dict[str, Any]:
        """The requestContext.authorizer a request with `event` (a proxy event) gets, or AuthorizerRefused."""
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        identity = tuple(headers.get(name.lower(), "") for name in self.spec.headers)
        if not all(value.strip() for value in identity):
            raise AuthorizerRefused("UNAUTHORIZED", "Unauthorized")
        started = time.monotonic()
        answer = self._cached(identity)
        if answer is None:
            answer = self._call(event, method_arn)
            if self.ttl > 0:
                with self._lock:
                    self._cache[identity] = (time.monotonic() + self.ttl, answer)
        try:
            allowed = policy_allows(answer.get("policyDocument"), method_arn)
        except ValueError as error:
            log.error("%s answered a malformed policy: %s", self.spec.function, error)
            raise AuthorizerRefused("AUTHORIZER_CONFIGURATION_ERROR", "Internal server error") from None
        if not allowed:
            raise AuthorizerRefused("ACCESS_DENIED", "User is not authorized to access this resource")
        context = {
            str(k): ("true" if v is True else "false" if v is False else str(v))
            for k, v in (answer.get("context") or {}).items()
        }
        return {
            **context,
            "principalId": str(answer["principalId"]),
            "integrationLatency": int((time.monotonic() - started) * 1000),
        }

    def _cached(self, identity: tuple[str, ...]) -> dict[str, Any] | None:
        with self._lock:
            entry = self._cache.get(identity)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._cache[identity]
                return None
            return entry[1]

    def _call(self, request: dict[str, Any], method_arn: str) -> dict[str, Any]:
        event = {key: value for key, value in request.items() if key not in {"body", "isBase64Encoded"}}
        event["requestContext"] = {
            key: value for key, value in request["requestContext"].items() if key != "authorizer"
        }
        event.update(type="REQUEST", methodArn=method_arn)
        try:
            answer = self.invoke(self.spec.function, event)
        except Exception as error:
            if str(error) == "Unauthorized":
                raise AuthorizerRefused("UNAUTHORIZED", "Unauthorized") from None
            log.exception("%s raised (500)", self.spec.function)
            raise AuthorizerRefused("AUTHORIZER_FAILURE", "Internal server error") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("principalId"), str):
            log.error("%s answered no principalId: %r", self.spec.function, answer)
            raise AuthorizerRefused("AUTHORIZER_CONFIGURATION_ERROR", "Internal server error")
        return answer
