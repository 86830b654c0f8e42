"""API Gateway's Cognito user pool authorizer, emulated for real: the ID token is verified against the
emulated pool's JWKS (RS256 signature, issuer, audience, expiry, token_use) and its claims are handed on
the way API Gateway's REST authorizer does, every value a string."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet

from costmetrics.sam_local import LEEWAY_SECONDS, TokenRefused, gateway_claims
from costmetrics.sam_local import bearer_token as _bearer_token

_JWKS_REFRESH_SECONDS = 30.0
__all__ = ["CognitoAuthorizer", "InvalidToken", "bearer_token", "gateway_claims"]


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
