"""HTTP to the API over urllib: the ID token as `Authorization: Bearer`, one renewal on a 401, and retries
with exponential backoff on 429, 5xx and connection errors. Every request of the API the CLI sends is
safe to repeat (reads, and ingest, which is idempotent on event id)."""

from __future__ import annotations

import http.client
import json
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from costmetrics_cli.errors import ApiError, ConnectionFailed
from costmetrics_cli.stack import Stack

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_RETRIES = 5
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 20.0
MAX_RETRY_AFTER_SECONDS = 60.0
TIMEOUT_SECONDS = 60.0
USER_AGENT = "costmetrics-cli/0.1"


class TokenSource(Protocol):
    def token(self) -> str: ...

    def renewed(self, rejected: str) -> str: ...


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self, *, exact: bool = False) -> Any:
        """The body as JSON; `exact` reads numbers with a fraction as Decimal (for money in tables)."""
        return json.loads(self.body, parse_float=Decimal) if exact else json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def _error_from(status: int, body: bytes) -> ApiError:
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        code = str(parsed.get("error") or "")
        message = str(parsed.get("message") or parsed.get("Message") or "")
        details = parsed.get("details") if isinstance(parsed.get("details"), list) else None
        return ApiError(status, code, message, details)
    return ApiError(status, "", body.decode("utf-8", "replace").strip()[:300])


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in {"localhost", "127.0.0.1", "::1"}


# (method, url, headers, body, timeout) -> the reply, whatever its status; raises OSError-like errors
# (urllib.error.URLError, http.client.HTTPException, TimeoutError) when no reply came.
Transport = Callable[[str, str, Mapping[str, str], bytes | None, float], Reply]


def urllib_transport(url: str) -> Transport:
    """The default transport. The local stack is on loopback: no proxy of the shell must capture it; a
    deployed API goes through the environment's proxy settings as usual."""
    handlers = [urllib.request.ProxyHandler({})] if _loopback(url) else []
    opener = urllib.request.build_opener(*handlers)

    def send(method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float) -> Reply:
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))  # noqa: S310
        try:
            with opener.open(request, timeout=timeout) as response:
                return Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, dict(error.headers or {}), error.read())

    return send


class ApiClient:
    """Requests to one stack's API as one signed-in user."""

    def __init__(
        self,
        stack: Stack,
        credentials: TokenSource,
        *,
        retries: int = DEFAULT_RETRIES,
        timeout: float = TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[str], None] | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.stack, self.credentials = stack, credentials
        self.retries, self.timeout, self._sleep, self._on_retry = retries, timeout, sleep, on_retry
        self._transport = transport or urllib_transport(stack.api_url)

    def url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        suffix = "?" + urllib.parse.urlencode(params) if params else ""
        return self.stack.api_url + path + suffix

    def get(
        self, path: str, query: Mapping[str, Any] | None = None, *, accept: str = "application/json"
    ) -> Reply:
        return self.request("GET", path, query=query, accept=accept)

    def post(self, path: str, body: bytes) -> Reply:
        return self.request("POST", path, body=body)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        accept: str = "application/json",
    ) -> Reply:
        """The reply of a 2xx; ApiError for an error status, ConnectionFailed when the API is unreachable,
        each after the retries that apply."""
        url = self.url(path, query)
        token = self.credentials.token()
        renewed = False
        attempt = 0
        while True:
            try:
                reply = self._send(method, url, token, body, accept)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
                reason = getattr(error, "reason", error)
                if attempt >= self.retries:
                    raise ConnectionFailed(self._unreachable(reason)) from None
                self._pause(attempt, None, f"{method} {path}: {reason}")
                attempt += 1
                continue
            if 200 <= reply.status < 300:
                return reply
            if reply.status == 401 and not renewed:
                token, renewed = self.credentials.renewed(token), True
                continue
            if reply.status in RETRY_STATUSES and attempt < self.retries:
                self._pause(attempt, _retry_after(reply.headers), f"{method} {path}: HTTP {reply.status}")
                attempt += 1
                continue
            failure = _error_from(reply.status, reply.body)
            if reply.status == 401:
                failure.message += "\nrun `costmetrics login` to sign in again"
            raise failure

    def _send(self, method: str, url: str, token: str, body: bytes | None, accept: str) -> Reply:
        headers = {"Authorization": f"Bearer {token}", "Accept": accept, "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return self._transport(method, url, headers, body, self.timeout)

    def _pause(self, attempt: int, retry_after: float | None, why: str) -> None:
        delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
        if retry_after is not None:
            delay = min(retry_after, MAX_RETRY_AFTER_SECONDS)
        else:  # full jitter's gentler cousin: half the delay fixed, half random, so clients spread out
            delay *= 0.5 + random.random() / 2  # noqa: S311 - not a secret
        if self._on_retry is not None:
            self._on_retry(f"{why}; retrying in {delay:.1f} s ({attempt + 1}/{self.retries})")
        self._sleep(delay)

    def _unreachable(self, reason: object) -> str:
        if isinstance(reason, socket.timeout | TimeoutError):
            reason = f"no answer within {self.timeout:.0f} s"
        text = f"cannot reach the API at {self.stack.api_url}: {reason}"
        if self.stack.is_local:
            text += " (is `make local` running? its outputs.json may be left over from a stopped stack)"
        return text
