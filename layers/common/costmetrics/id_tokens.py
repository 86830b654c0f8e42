"""Cognito ID tokens, verified as API Gateway's Cognito authorizer verifies them: an RS256 signature by a
key of the user pool's JWKS, the pool as issuer, the app client as audience, an ID token (token_use) that has
not expired. Used by the ingest authorizer (POST /api/activity takes an ID token or an ingest key) and, under
`sam local start-api` only, by every function (costmetrics.sam_local).

The signature check is plain RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017, 8.2.2): the whole expected encoding
is rebuilt and compared, never parsed out of the signature, so the layer carries no JWT library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.request
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from costmetrics.config import Settings

# Clock skew tolerated on `exp`, in seconds; Cognito's own authorizer allows hardly any.
LEEWAY_SECONDS = 2
# DER of DigestInfo { sha256, NULL } before the 32-byte hash (RFC 8017, 9.2, note 1).
_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
# API Gateway shows these NumericDate claims as dates, e.g. "Thu Mar 12 07:57:31 UTC 2026".
_DATE_CLAIMS = frozenset({"exp", "iat"})


class TokenRefused(Exception):
    """Not a valid ID token of the user pool and app client."""


def bearer_token(header: str | None) -> str:
    """The token of an Authorization header: the raw token, or `Bearer <token>`."""
    value = (header or "").strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest.strip()
    if not value:
        raise TokenRefused("no token in the Authorization header")
    return value


def gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as API Gateway's REST Cognito authorizer passes them: strings, lists comma-joined, exp/iat
    as dates, booleans as true/false."""
    shown: dict[str, str] = {}
    for name, value in claims.items():
        if name in _DATE_CLAIMS and isinstance(value, int | float):
            shown[name] = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
        elif isinstance(value, bool):
            shown[name] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            shown[name] = ",".join(str(item) for item in value)
        elif isinstance(value, dict):
            shown[name] = json.dumps(value, separators=(",", ":"))
        else:
            shown[name] = str(value)
    return shown


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _int(part: str) -> int:
    return int.from_bytes(_b64(part), "big")


def rs256_valid(signing_input: bytes, signature: bytes, modulus: int, exponent: int) -> bool:
    """RSASSA-PKCS1-v1_5 verification with SHA-256 of `signing_input` under the public key (n, e)."""
    size = (modulus.bit_length() + 7) // 8
    if len(signature) != size or size < len(_SHA256_PREFIX) + 32 + 11:
        return False
    value = int.from_bytes(signature, "big")
    if value >= modulus:
        return False
    encoded = pow(value, exponent, modulus).to_bytes(size, "big")
    digest = _SHA256_PREFIX + hashlib.sha256(signing_input).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
    return hmac.compare_digest(encoded, expected)


def verify(
    token: str, keys: Mapping[str, tuple[int, int]], issuer: str, audience: str, now: float
) -> dict[str, Any]:
    """The claims of an ID token signed (RS256) by one of `keys` (kid -> (n, e)), for `audience` from
    `issuer`, not expired at `now`; raises TokenRefused otherwise."""
    try:
        header_part, payload_part, signature_part = token.split(".")
        header = json.loads(_b64(header_part))
        claims = json.loads(_b64(payload_part))
        signature = _b64(signature_part)
    except (ValueError, TypeError):
        raise TokenRefused("not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenRefused("not a JWT")
    if header.get("alg") != "RS256":
        raise TokenRefused(f"algorithm {header.get('alg')!r} is not RS256")
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise TokenRefused("signed by a key the user pool does not have")
    if not rs256_valid(f"{header_part}.{payload_part}".encode(), signature, *key):
        raise TokenRefused("bad signature")
    if claims.get("iss") != issuer:
        raise TokenRefused("issued by another user pool")
    audiences = claims.get("aud")
    if audience not in (audiences if isinstance(audiences, list) else [audiences]):
        raise TokenRefused("issued for another app client")
    if claims.get("token_use") != "id":
        raise TokenRefused("not an ID token")
    expiry = claims.get("exp")
    if not isinstance(expiry, int | float) or expiry + LEEWAY_SECONDS < now:
        raise TokenRefused("expired")
    return claims


@cache
def _keys(jwks_url: str) -> dict[str, tuple[int, int]]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(jwks_url, timeout=5) as response:
        document = json.load(response)
    return {
        str(key["kid"]): (_int(key["n"]), _int(key["e"]))
        for key in document.get("keys", [])
        if key.get("kty") == "RSA"
    }


def pool_of(config: Settings) -> tuple[str, str, str]:
    """(JWKS URL, issuer, app client id) of the stack's user pool. The JWKS is read from the endpoint the
    functions use under `sam local` (AWS_ENDPOINT_URL), else the Cognito endpoint the settings name (the
    local stack's emulator), else Cognito's own."""
    pool, region = config.user_pool_id, config.region
    endpoint = (
        config.aws_endpoint_url or config.cognito_endpoint or f"https://cognito-idp.{region}.amazonaws.com"
    ).rstrip("/")
    issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool}"
    return f"{endpoint}/{pool}/.well-known/jwks.json", issuer, config.user_pool_client_id


def verify_id_token(token: str, config: Settings, now: float | None = None) -> dict[str, Any]:
    """The claims of a valid ID token of the stack's user pool and app client; raises TokenRefused (or
    OSError when the JWKS cannot be read) otherwise."""
    jwks_url, issuer, client = pool_of(config)
    return verify(
        token, _keys(jwks_url), issuer=issuer, audience=client, now=time.time() if now is None else now
    )
