"""What the e2e tests use to talk to a running local stack: HTTP over urllib, AWS over boto3, both on
loopback only, and the published list prices (PRICES below) to compute expected costs independently of
the code."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "E2e-Password-2026"  # the pool wants 12+ characters with upper, lower and digits

# The published list prices, copied here apart from costmetrics/catalog.py; USD per million tokens:
# provider, input, output, cache read, cache write (None: not listed).
PRICES: dict[str, tuple[str, str, str, str, str | None]] = {
    "claude-haiku-3.5": ("anthropic", "0.80", "4.00", "0.08", "1.00"),
    "claude-sonnet-4-20250514": ("anthropic", "3.00", "15.00", "0.30", "3.75"),
    "claude-haiku-4-5": ("anthropic", "1.00", "5.00", "0.10", "1.25"),
    "claude-sonnet-4-6": ("anthropic", "3.00", "15.00", "0.30", "3.75"),
    "claude-opus-4-7": ("anthropic", "5.00", "25.00", "0.50", "6.25"),
    "gpt-5.5": ("openai", "5.00", "30.00", "0.50", None),
    "gpt-5.4": ("openai", "2.50", "15.00", "0.25", None),
    "gpt-5.4-mini": ("openai", "0.75", "4.50", "0.075", None),
    "gpt-5.4-nano": ("openai", "0.20", "1.25", "0.02", None),
    "gpt-4.1": ("openai", "2.00", "8.00", "0.50", None),
    "gemini-2.5-pro": ("google", "1.25", "10.00", "0.125", None),
    "gemini-2.5-flash": ("google", "0.30", "2.50", "0.03", None),
}
CENT = Decimal("0.01")


def event_cost(details: Mapping[str, Any]) -> Decimal:
    """The exact cost of a model_invocation's details: input + cache read + cache write (at the input price
    when no cache-write price is listed) + output, each tokens x price / 1,000,000."""
    _, inp, out, read, write = PRICES[details["model"]]
    input_cost = (
        details["inputTokens"] * Decimal(inp)
        + details.get("cacheReadTokens", 0) * Decimal(read)
        + details.get("cacheWriteTokens", 0) * Decimal(write if write is not None else inp)
    ) / 1_000_000
    return input_cost + details["outputTokens"] * Decimal(out) / 1_000_000


def money(value: Decimal) -> Decimal:
    """How the API shows money: 2 places, half-up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def shown(value: Any) -> Decimal:
    """A number of a response body (parsed with Decimal floats) as a Decimal of 2 places."""
    return Decimal(value).quantize(CENT)


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    raw: bytes = b""


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    authorization: str | None = None,
    body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """One request; `token` goes out as `Bearer <token>`, `authorization` as the header's raw value; `body`
    as JSON, or `data` as given. The answer's body is parsed when it is JSON, else its text; `raw` has
    its bytes."""
    if body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with _opener.open(request, timeout=60) as response:
            status, raw, answered = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, answered = error.code, error.read(), dict(error.headers)
    if not raw:
        parsed = None
    elif "json" in (answered.get("Content-Type") or "application/json"):
        parsed = json.loads(raw, parse_float=Decimal)
    else:
        parsed = raw.decode(errors="replace")  # a binary answer (protobuf) is read from `raw`
    return Reply(status, parsed, answered, raw)


@dataclass
class RunningStack:
    """A `python -m local_stack` subprocess that is ready, and its outputs.json."""

    outputs: dict[str, Any]
    state_dir: Path
    log_file: Path

    @property
    def api(self) -> str:
        return str(self.outputs["ApiUrl"])

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.outputs["AwsEndpointUrl"],
            region_name=self.outputs["Region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def table(self, name: str) -> Any:
        """A DynamoDB table of the stack, as a boto3 resource."""
        return boto3.resource(
            "dynamodb",
            endpoint_url=self.outputs["AwsEndpointUrl"],
            region_name=self.outputs["Region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).Table(name)

    def sign_in(self, username: str, password: str, *, kind: str = "IdToken") -> str:
        """A token of the emulated pool, from USER_PASSWORD_AUTH as a client application does it."""
        result = self.client("cognito-idp").initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=self.outputs["UserPoolClientId"],
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        token: str = result["AuthenticationResult"][kind]
        return token

    def new_user(self, workspace_id: str | None, group: str | None = "admin") -> str:
        """A new user of `workspace_id` in `group`, created as an administrator does; returns its ID token.
        None leaves the user without the workspace attribute, or in no group."""
        return self.new_login(workspace_id, group)[1]

    def new_login(self, workspace_id: str | None, group: str | None = "admin") -> tuple[str, str]:
        """Like new_user, for a user that also signs in by name: returns (username, ID token); the
        password is PASSWORD."""
        cognito = self.client("cognito-idp")
        pool = self.outputs["UserPoolId"]
        username = f"{group}-{uuid.uuid4().hex[:8]}@{workspace_id or 'nowhere'}.example.com"
        attributes = [{"Name": "custom:workspace_id", "Value": workspace_id}] if workspace_id else []
        cognito.admin_create_user(
            UserPoolId=pool, Username=username, UserAttributes=attributes, MessageAction="SUPPRESS"
        )
        cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True)
        if group is not None:
            cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
        return username, self.sign_in(username, PASSWORD)

    def demo_password(self, username: str) -> str:
        users = self.outputs["Demo"]["users"]
        return str(next(u["password"] for u in users if u["username"] == username))

    def get(self, path: str, token: str | None = None) -> Reply:
        return http("GET", self.api + path, token=token)


# --- Forged tokens: what an attacker can make of a real ID token ------------------------------------


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without verifying it."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def moto_key() -> RSAKey:
    """The private key moto signs its pools' tokens with (a public test fixture of moto)."""
    from moto.utilities.utils import load_resource

    key: RSAKey = RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    return key


def signed(claims: dict[str, Any], key: RSAKey | None = None) -> str:
    """An RS256 token of `claims` signed with `key`; by default the pool's own key, so the claims decide."""
    return jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, key or moto_key())


def unsigned(claims: dict[str, Any]) -> str:
    """An `alg: none` token of `claims`, with no signature."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'dummy'})}.{_b64(claims)}."


def another_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "dummy"})


def fresh_workspace() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


def a_day_of_work(agent_id: str, created_at: str) -> list[dict[str, Any]]:
    """One event of each kind a workforce figure counts, for `agent_id` at `created_at`: a priced
    invocation (ids <agent_id>-0 to -3)."""
    details: list[tuple[str, dict[str, Any]]] = [
        ("model_invocation", {"model": "claude-haiku-3.5", "inputTokens": 400_000, "outputTokens": 90_000}),
        ("task_completed", {"taskType": "classification"}),
        ("tool_call", {"tool": "search", "success": True, "durationMs": 40}),
        ("error", {"message": "timeout"}),
    ]
    return [
        {
            "id": f"{agent_id}-{n}",
            "agentId": agent_id,
            "eventType": kind,
            "createdAt": created_at,
            "details": d,
        }
        for n, (kind, d) in enumerate(details)
    ]


def admin_with_activity(
    stack: RunningStack, agent_id: str, agent: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
) -> str:
    """An admin's token for a fresh workspace where `agent_id` is registered as `agent` and `events` (with a
    priced invocation among them) are ingested and rolled up."""
    token = stack.new_user(fresh_workspace(), "admin")
    assert http("PUT", f"{stack.api}/api/agents/{agent_id}", token=token, body=dict(agent)).status == 200
    ingested = http("POST", f"{stack.api}/api/activity", token=token, body={"events": list(events)})
    assert (ingested.status, ingested.body["accepted"]) == (200, len(events)), ingested.body
    rolled_up = wait_for(
        lambda: stack.get("/api/cost-analysis/summary", token).body["totalSpend"] > 0, timeout=30
    )
    assert rolled_up, "the events were not rolled up"
    return token


def now_in_month() -> str:
    """A createdAt of the current UTC month that is not in the future."""
    now = datetime.now(UTC).replace(microsecond=0)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_summary(config: pytest.Config, title: str, lines: Sequence[str]) -> None:
    """Writes `lines` under a `title` rule on the terminal, past pytest's capture (a module's tally)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_sep("-", title)
        for line in lines:
            reporter.write_line(line)


def wait_for(condition: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """Polls `condition` until it returns something truthy; returns that, or the last value at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def past_the_batching_window() -> None:
    """Waits out the stream mapping's batching window (the template's, honoured by the local stack's poller)
    and a poll more: a record that was going to be rolled up has been by then. For tests that check that
    something did *not* change."""
    from local_stack.poller import MappingConfig

    time.sleep(MappingConfig.from_template("RollupFunction").batching_window + 2)
