"""Signing in: Cognito USER_PASSWORD_AUTH against the stack's app client, and a token cache per stack
(`~/.cache/costmetrics/<stack>.json`, mode 0600) that REFRESH_TOKEN_AUTH renews when the ID token expires."""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from costmetrics_cli.errors import AuthError
from costmetrics_cli.stack import Stack

# Renew this long before the ID token's expiry, so a request never leaves with a token about to lapse.
EXPIRY_MARGIN_SECONDS = 60


def cache_dir() -> Path:
    """COSTMETRICS_CACHE_DIR, else $XDG_CACHE_HOME/costmetrics, else ~/.cache/costmetrics."""
    configured = os.environ.get("COSTMETRICS_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "costmetrics"


@dataclass(frozen=True)
class SignIn:
    """A signed-in user of one stack: the tokens, when the ID token expires, and the stack they are for."""

    username: str
    id_token: str
    refresh_token: str | None
    expires_at: float  # epoch seconds
    stack: Stack

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= self.expires_at - EXPIRY_MARGIN_SECONDS

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "idToken": self.id_token,
            "refreshToken": self.refresh_token,
            "expiresAt": self.expires_at,
            "stack": self.stack.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignIn:
        return cls(
            username=str(data["username"]),
            id_token=str(data["idToken"]),
            refresh_token=data.get("refreshToken"),
            expires_at=float(data["expiresAt"]),
            stack=Stack.from_json(data["stack"]),
        )


class TokenCache:
    """One JSON file per stack, readable by its owner only, replaced atomically."""

    def __init__(self, label: str, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else cache_dir()
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
        self.path = self.directory / f"{safe}.json"

    def load(self) -> SignIn | None:
        try:
            return SignIn.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None  # an unreadable cache is no sign-in: `login` writes a new one

    def save(self, sign_in: SignIn) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".token-", suffix=".json")
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(sign_in.to_json(), stream, indent=2)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def clear(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: only to show who is signed in and until when (the API verifies)."""
    try:
        payload = token.split(".")[1]
        decoded: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _expiry(result: dict[str, Any], id_token: str, now: float) -> float:
    expires_in = float(result.get("ExpiresIn") or 3600)
    token_exp = claims(id_token).get("exp")
    expires_at = now + expires_in
    return min(expires_at, float(token_exp)) if isinstance(token_exp, int | float) else expires_at


def _cognito_error(error: Exception, what: str) -> AuthError:
    from botocore.exceptions import ClientError, EndpointConnectionError

    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "") or code
        if code == "NotAuthorizedException":
            return AuthError(f"{what} refused: {message}")
        if code == "ResourceNotFoundException":
            return AuthError(
                f"{what} failed: the user pool has no such app client ({message}); "
                "if the local stack was restarted, run `costmetrics login` again"
            )
        return AuthError(f"{what} failed: {code}: {message}")
    if isinstance(error, EndpointConnectionError):
        return AuthError(f"{what} failed: cannot reach Cognito ({error})")
    return AuthError(f"{what} failed: {error}")


def login(stack: Stack, username: str, password: str, *, clock: Callable[[], float] = time.time) -> SignIn:
    """Signs `username` in with USER_PASSWORD_AUTH; AuthError with Cognito's reason when refused."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        result = stack.cognito().initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=stack.client_id,
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
    except (ClientError, BotoCoreError) as error:
        raise _cognito_error(error, f"sign-in of {username}") from None
    if "AuthenticationResult" not in result:
        challenge = result.get("ChallengeName", "a challenge")
        raise AuthError(
            f"Cognito asks {username} to answer {challenge} before signing in; the CLI does not answer "
            "challenges: complete it (an administrator can set a permanent password with "
            "`aws cognito-idp admin-set-user-password --permanent`), then log in again"
        )
    tokens = result["AuthenticationResult"]
    now = clock()
    return SignIn(
        username=username,
        id_token=tokens["IdToken"],
        refresh_token=tokens.get("RefreshToken"),
        expires_at=_expiry(tokens, tokens["IdToken"], now),
        stack=stack,
    )


def refresh(sign_in: SignIn, *, clock: Callable[[], float] = time.time) -> SignIn:
    """New ID token from the refresh token (REFRESH_TOKEN_AUTH); AuthError when that is no longer possible."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not sign_in.refresh_token:
        raise AuthError("the sign-in expired and has no refresh token: run `costmetrics login`")
    try:
        result = sign_in.stack.cognito().initiate_auth(
            AuthFlow="REFRESH_TOKEN_AUTH",
            ClientId=sign_in.stack.client_id,
            AuthParameters={"REFRESH_TOKEN": sign_in.refresh_token},
        )
    except (ClientError, BotoCoreError) as error:
        reason = _cognito_error(error, "renewing the sign-in").message
        raise AuthError(f"{reason}\nrun `costmetrics login` to sign in again") from None
    tokens = result.get("AuthenticationResult") or {}
    if "IdToken" not in tokens:
        raise AuthError("renewing the sign-in gave no ID token: run `costmetrics login`")
    return replace(
        sign_in,
        id_token=tokens["IdToken"],
        refresh_token=tokens.get("RefreshToken") or sign_in.refresh_token,
        expires_at=_expiry(tokens, tokens["IdToken"], clock()),
    )


class Credentials:
    """The ID token for requests: from the cache, renewed when expired (or when the API refused it)."""

    def __init__(
        self,
        cache: TokenCache,
        stack: Stack,
        *,
        renew: Callable[[SignIn], SignIn] = refresh,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache, self.stack, self._renew, self._clock = cache, stack, renew, clock
        self._current: SignIn | None = None
        self._lock = threading.Lock()  # parallel ingest threads share one sign-in

    def _signed_in(self) -> SignIn:
        if self._current is None:
            cached = self.cache.load()
            if cached is None:
                raise AuthError(
                    f"not signed in to {self.stack.source or self.stack.label}: run `costmetrics login`"
                )
            if cached.stack.client_id != self.stack.client_id or cached.stack.api_url != self.stack.api_url:
                raise AuthError(
                    f"the sign-in in {self.cache.path} is for another stack (or the local stack was "
                    "restarted since): run `costmetrics login`"
                )
            self._current = cached
        return self._current

    def token(self) -> str:
        """The ID token; renewed first (and the cache rewritten) when it has expired."""
        with self._lock:
            current = self._signed_in()
            if current.expired(self._clock()):
                current = self._save(self._renew(current))
            return current.id_token

    def renewed(self, rejected: str) -> str:
        """A new ID token after the API refused `rejected` (renewed once, however many threads ask)."""
        with self._lock:
            current = self._signed_in()
            if current.id_token == rejected:
                current = self._save(self._renew(current))
            return current.id_token

    def _save(self, sign_in: SignIn) -> SignIn:
        self.cache.save(sign_in)
        self._current = sign_in
        return sign_in
