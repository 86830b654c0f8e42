"""Who may call what, on every route of the API, against the local stack: the routes are read from
template.yaml (every Api event of every function, so a new route joins the matrix by itself), each is
called with every kind of credential, and the answer must be exactly the one API Gateway's authorizers
(Cognito, and the ingest authorizer of the ingest routes) and the handlers give: 401 for no token or one
the authorizer refuses, 401 for a token with no workspace, 403 for a group that may not, 2xx for the right
identity; an ingest key ingests and nothing else (every read is a 401), a revoked one nothing at all, and
another workspace's key writes only into its own workspace; refused calls carry no data and change
nothing. Then two workspaces that share agent and event ids: nothing of one ever shows in the other's
answers, JSON or CSV, through cursors, or through writes to the shared ids. Last, a few hostile requests
that only the gateway sees (its 10 MB limit, framing, bytes that are not UTF-8).

The number of route x credential calls is printed at the end of the module."""

from __future__ import annotations

import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from costmetrics.events import StoredEvent
from costmetrics.repositories import events as events_repo
from local_stack.template import Route, routes
from tests.datasets import agent_body
from tests.e2e.support import (
    PASSWORD,
    Reply,
    RunningStack,
    another_key,
    fresh_workspace,
    http,
    past_the_batching_window,
    signed,
    token_claims,
    unsigned,
    wait_for,
    write_summary,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

ROUTES: list[Route] = routes()
READERS = frozenset({"admin", "viewer"})
ADMINS = frozenset({"admin"})
INGESTERS = frozenset({"admin", "ingest"})
SIGNED_IN = frozenset({"*"})  # any valid ID token, in any group or none, with or without a workspace
# Who may call a route: readers for a GET, admins for a write, unless said otherwise here. A new route is in
# the matrix at once under that default; a route that means otherwise must say so here.
POLICY: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/api/activity"): INGESTERS,
    ("GET", "/api/openapi.json"): SIGNED_IN,  # the API's documentation: no workspace data
    ("GET", "/api/ingest-keys"): ADMINS,  # keys are credentials: admins only
    ("POST", "/v1/traces"): INGESTERS,  # OTLP: what may ingest, may export spans
}
INGEST_AUTHORIZER = "IngestKeyAuthorizer"
SUCCESS = {("POST", "/api/ingest-keys"): 201}  # a route whose success is not a 200
UNAUTHORIZED = {"error": "unauthorized", "message": "missing or invalid bearer token"}
CALLS: Counter[str] = Counter()  # route x credential calls of the matrix, by route
CROSS: Counter[str] = Counter()  # calls of the cross-workspace checks


def policy(route: Route) -> frozenset[str]:
    return POLICY.get((route.method, route.path), READERS if route.method == "GET" else ADMINS)


@pytest.fixture(scope="module", autouse=True)
def tally(request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.monotonic()
    yield
    if not CALLS:
        return
    routes_tried = len(CALLS)
    credentials = len(CREDENTIALS)
    write_summary(
        request.config,
        "authorization matrix",
        [
            f"auth matrix: {routes_tried} routes x {credentials} credentials = {sum(CALLS.values())} calls; "
            f"cross-workspace checks: {sum(CROSS.values())} calls; {time.monotonic() - started:.0f} s",
            *(f"  {count:4d}  {route}" for route, count in sorted(CROSS.items())),
        ],
    )


# --- The credentials -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """A way of calling: what goes in the Authorization header, and who that is once verified."""

    name: str
    groups: frozenset[str] | None  # None: not a valid ID token of the pool and app client (a 401)
    workspace: bool = True  # the token carries custom:workspace_id
    key: bool = False  # an ingest key: only the ingest authorizer takes it (groups None: a revoked key)


CREDENTIALS = [
    Credential("admin", ADMINS),
    Credential("no token", None),
    Credential("malformed token", None),
    Credential("signed by another key", None),
    Credential("alg none", None),
    Credential("expired", None),
    Credential("another app client", None),
    Credential("another user pool", None),
    Credential("access token", None),
    Credential("no workspace", ADMINS, workspace=False),
    Credential("no group", frozenset()),
    Credential("viewer", frozenset({"viewer"})),
    Credential("ingest", frozenset({"ingest"})),
    Credential("admin of another workspace", ADMINS),
    Credential("ingest key", frozenset({"ingest"}), key=True),
    Credential("revoked ingest key", None, key=True),
    Credential("ingest key of another workspace", frozenset({"ingest"}), key=True),
]


def expected_status(route: Route, credential: Credential) -> int:
    """What API Gateway's authorizer and the handler answer this credential on this route."""
    if not route.authorized:
        return 200  # Authorizer: NONE: the header is not even looked at
    if credential.groups is None:
        return 401  # the authorizer refuses the token
    if credential.key and route.authorizer != INGEST_AUTHORIZER:
        return 401  # a key is no ID token: the Cognito authorizer refuses it
    if (route.method, route.path) == ("DELETE", "/api/ingest-keys/{keyId}") and credential.name.endswith(
        "another workspace"
    ):
        return 404 if credential.groups & ADMINS else 403  # its own workspace has no such key
    allowed = policy(route)
    if allowed is SIGNED_IN:
        return 200
    if not credential.workspace:
        return 401  # the handler: no workspace claim, no identity in this API
    return SUCCESS.get((route.method, route.path), 200) if credential.groups & allowed else 403


def _cognito_client(stack: RunningStack, pool: str, name: str) -> str:
    client: str = stack.client("cognito-idp").create_user_pool_client(
        UserPoolId=pool,
        ClientName=name,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return client


def _sign_in(stack: RunningStack, client_id: str, username: str) -> str:
    result = stack.client("cognito-idp").initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=client_id,
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    token: str = result["AuthenticationResult"]["IdToken"]
    return token


def _admin_in_pool(stack: RunningStack, pool: str, workspace_id: str) -> str:
    """A confirmed admin of `workspace_id` in `pool`; returns the username."""
    cognito = stack.client("cognito-idp")
    username = f"admin-{uuid.uuid4().hex[:8]}@{workspace_id}.example.com"
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=username,
        UserAttributes=[{"Name": "custom:workspace_id", "Value": workspace_id}],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName="admin")
    return username


@dataclass
class Workspace:
    id: str
    admin: str  # the admin's ID token
    headers: dict[str, dict[str, str]]  # credential name -> request headers


@pytest.fixture(scope="module")
def matrix(stack: RunningStack) -> Workspace:
    """A workspace with an agent, an admin, a viewer, an ingest user, users without group or workspace, an
    admin of another workspace; and the forged and foreign tokens, all made from the admin's real claims."""
    workspace_id, other_id = fresh_workspace(), fresh_workspace()
    pool = stack.outputs["UserPoolId"]
    cognito = stack.client("cognito-idp")
    admin_name = _admin_in_pool(stack, pool, workspace_id)
    admin = stack.sign_in(admin_name, PASSWORD)
    claims = token_claims(admin)

    # A second app client of the same pool, and a second pool (same signing key in moto) with an admin of
    # the same workspace: real tokens, with the wrong audience and the wrong issuer.
    other_client = _cognito_client(stack, pool, "another-app")
    second_pool = cognito.create_user_pool(
        PoolName="another-pool",
        Schema=[{"Name": "workspace_id", "AttributeDataType": "String", "Mutable": False}],
    )["UserPool"]["Id"]
    cognito.create_group(UserPoolId=second_pool, GroupName="admin")
    second_client = _cognito_client(stack, second_pool, "another-pool-app")
    tokens: dict[str, str | None] = {
        "admin": admin,
        "no token": None,
        "malformed token": "eyJhbGciOiJSUzI1NiJ9.not-base64!.x",
        "signed by another key": signed({**claims, "exp": int(time.time()) + 3600}, another_key()),
        "alg none": unsigned({**claims, "exp": int(time.time()) + 3600}),
        "expired": signed({**claims, "exp": int(time.time()) - 60}),
        "another app client": _sign_in(stack, other_client, admin_name),
        "another user pool": _sign_in(stack, second_client, _admin_in_pool(stack, second_pool, workspace_id)),
        "access token": stack.sign_in(admin_name, PASSWORD, kind="AccessToken"),
        "no workspace": stack.new_user(None, "admin"),
        "no group": stack.new_user(workspace_id, None),
        "viewer": stack.new_user(workspace_id, "viewer"),
        "ingest": stack.new_user(workspace_id, "ingest"),
        "admin of another workspace": stack.new_user(other_id, "admin"),
        "ingest key": _key(stack, admin, "matrix key"),
        "revoked ingest key": _key(stack, admin, "revoked key", revoked=True),
    }
    tokens["ingest key of another workspace"] = _key(stack, tokens["admin of another workspace"], "other")
    assert token_claims(tokens["another app client"] or "")["aud"] == other_client
    assert token_claims(tokens["another user pool"] or "")["custom:workspace_id"] == workspace_id
    assert set(tokens) == {c.name for c in CREDENTIALS}
    for token, name in ((admin, MATRIX_ONLY), (tokens["admin of another workspace"], "Other probe")):
        reply = http(
            "PUT", f"{stack.api}/api/agents/probe", token=token, body={**_agent_body("setup"), "name": name}
        )
        assert reply.status == 200, reply.body
    # A key of the workspace per credential, for each to try revoking (only the admin's may go).
    for credential in CREDENTIALS:
        victim = http(
            "POST", f"{stack.api}/api/ingest-keys", token=admin, body={"name": f"victim {credential.name}"}
        )
        VICTIMS[credential.name] = victim.body["id"]
    note = {**_event_body("setup")["events"][0], "details": {"by": "setup", "note": MATRIX_ONLY}}
    assert http("POST", f"{stack.api}/api/activity", token=admin, body={"events": [note]}).status == 200
    headers = {name: {"Authorization": f"Bearer {token}"} if token else {} for name, token in tokens.items()}
    return Workspace(workspace_id, admin, headers)


def _key(stack: RunningStack, admin: str, name: str, *, revoked: bool = False) -> str:
    created = http("POST", f"{stack.api}/api/ingest-keys", token=admin, body={"name": name})
    assert created.status == 201, created.body
    if revoked:
        gone = http("DELETE", f"{stack.api}/api/ingest-keys/{created.body['id']}", token=admin)
        assert gone.status == 200, gone.body
    key: str = created.body["key"]
    return key


# --- What each route is called with ------------------------------------------------------------------

VICTIMS: dict[str, str] = {}  # credential name -> the id of the key it tries to revoke

MATRIX_SECRET = "Matrix-Secret-Name"  # in every agent name the matrix writes
MATRIX_ONLY = f"Matrix-Only-{uuid.uuid4().hex[:8]}"  # in the matrix workspace's data, and nowhere else


def _agent_body(credential: str) -> dict[str, Any]:
    return agent_body(
        f"{MATRIX_SECRET} by {credential}",
        status="online",
        department="Matrix",
        model_provider="anthropic",
        model_name="claude-haiku-3.5",
        cost_budget_monthly=10,
    )


def _slug(credential: str) -> str:
    return credential.replace(" ", "-")


def _event_body(credential: str) -> dict[str, Any]:
    at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "id": f"mx-{_slug(credential)}-{uuid.uuid4().hex[:6]}",
        "agentId": "probe",
        "eventType": "session_start",
        "createdAt": at,
        "details": {"by": credential},
    }
    return {"events": [event]}


def _span_id(credential: str) -> str:
    """The OTLP span id a credential's write carries, so that a write that got through shows whose it was."""
    return f"{1 + [c.name for c in CREDENTIALS].index(credential):016x}"


def _traces_body(credential: str) -> dict[str, Any]:
    """OTLP/JSON: one chat span of the workspace's agent, its span id naming the credential."""
    start = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp()) * 10**9
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "claude-haiku-3.5",
        "gen_ai.agent.id": "probe",
    }
    span = {
        "traceId": "5eed" * 8,
        "spanId": _span_id(credential),
        "name": "chat",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 10**6),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
    }
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def _thresholds(credential: str) -> list[int]:
    return [1 + [c.name for c in CREDENTIALS].index(credential), 100]


def _output_price(credential: str) -> int:
    return 100 + [c.name for c in CREDENTIALS].index(credential)


# A catalog model: a PATCH changes some fields of the price in force (a model priced nowhere is a 404).
PATCHED_MODEL = "gpt-5.4-nano"


# (method, path) -> the body a write is called with, made distinct per credential so that a write that
# should have been refused shows in the workspace afterwards.
BODIES: dict[tuple[str, str], Callable[[str], Any]] = {
    ("POST", "/api/activity"): _event_body,
    ("PUT", "/api/agents/{agentId}"): _agent_body,
    ("PUT", "/api/cost-analysis/pricing/{modelId}"): lambda credential: {
        "provider": "matrix-ai",
        "category": "economy",
        "inputPricePerMillion": 1,
        "outputPricePerMillion": 2,
        "cacheReadPricePerMillion": None,
        "cacheWritePricePerMillion": None,
    },
    ("PUT", "/api/cost-analysis/budget-alerts/settings"): lambda credential: {
        "thresholds": _thresholds(credential),
        "forecast": True,
    },
    ("PATCH", "/api/agents/{agentId}"): lambda credential: {
        "name": f"{MATRIX_SECRET} patched by {credential}"
    },
    ("PATCH", "/api/cost-analysis/pricing/{modelId}"): lambda credential: {
        "outputPricePerMillion": _output_price(credential)
    },
    ("PATCH", "/api/cost-analysis/budget-alerts/settings"): lambda credential: {
        "thresholds": _thresholds(credential)
    },
    ("POST", "/api/ingest-keys"): lambda credential: {"name": f"mx-{_slug(credential)}"},
    ("POST", "/v1/traces"): lambda credential: _traces_body(credential),
    ("DELETE", "/api/ingest-keys/{keyId}"): lambda credential: None,
}
# Path parameters: one agent of the workspace; a model named after the caller (see BODIES), or for a PATCH
# (method, name) a model of the catalog.
PATH_VALUES: dict[str | tuple[str, str], Callable[[str], str]] = {
    "agentId": lambda credential: "probe",
    "modelId": lambda credential: f"mx-{_slug(credential)}",
    ("PATCH", "modelId"): lambda credential: PATCHED_MODEL,
    "keyId": lambda credential: VICTIMS.get(credential, "0123456789abcdef"),
}
# Public files, by route: Swagger UI's style sheet and the web console's script (no workspace data).
ASSETS = {"/api/docs/{asset}": "swagger-ui.css", "/console/{asset}": "console.js"}


def _yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


# The feed's first poll (no since) walks every day of the retention period: the matrix starts it at yesterday.
QUERIES = {"/api/activity/feed": f"?since={_yesterday()}"}


def request_for(route: Route, credential: str) -> tuple[str, Any]:
    """The path and body `route` is called with; a route the matrix cannot call fails, it is never skipped."""
    path = route.path.replace("{asset}", ASSETS.get(route.path, "{asset}"))
    for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
        assert name in PATH_VALUES, f"{route.method} {route.path}: add a value for {{{name}}} to PATH_VALUES"
        value = PATH_VALUES.get((route.method, name), PATH_VALUES[name])
        path = path.replace(f"{{{name}}}", value(credential))
    if route.method == "GET":
        return path + QUERIES.get(route.path, ""), None
    assert (route.method, route.path) in BODIES, f"{route.method} {route.path}: add its body to BODIES"
    return path, BODIES[(route.method, route.path)](credential)


def test_every_route_of_the_template_is_in_the_matrix() -> None:
    assert len(ROUTES) >= 20
    assert len({(r.method, r.path) for r in ROUTES}) == len(ROUTES)
    public = {(r.method, r.path) for r in ROUTES if not r.authorized}
    assert ("GET", "/api/health") in public
    assert public <= {
        ("GET", "/api/health"),
        ("GET", "/api/docs"),
        ("GET", "/api/docs/{asset}"),
        ("GET", "/console"),
        ("GET", "/console/{asset}"),
    }, f"new public routes: {public}"
    for route in ROUTES:
        request_for(route, "admin")
    assert set(POLICY) <= {(r.method, r.path) for r in ROUTES}, "POLICY names a route the template lacks"


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
def test_each_credential_gets_exactly_its_answer_on_every_route(
    route: Route, matrix: Workspace, stack: RunningStack
) -> None:
    wrong: list[str] = []
    for credential in CREDENTIALS:
        path, body = request_for(route, credential.name)
        reply = http(route.method, stack.api + path, body=body, headers=matrix.headers[credential.name])
        CALLS[f"{route.method} {route.path}"] += 1
        expected = expected_status(route, credential)
        if reply.status != expected:
            wrong.append(f"{credential.name}: {reply.status}, expected {expected}: {str(reply.body)[:200]}")
            continue
        if expected >= 400:
            problem = _refusal_problem(reply, credential, expected)
            if problem:
                wrong.append(f"{credential.name}: {problem}")
        elif MATRIX_ONLY.encode() in reply.raw and (
            credential.name.endswith("another workspace") or not route.authorized
        ):
            wrong.append(f"{credential.name}: answers the matrix workspace's data: {reply.raw[:200]!r}")
    # And the refused writes changed nothing: only the allowed callers' writes are in the workspace.
    if route.method != "GET" and (problem := _writes_kept(route, stack, matrix.admin)):
        wrong.append(f"after every credential: {problem}")
    assert not wrong, f"{route.method} {route.path}:\n" + "\n".join(wrong)


def _refusal_problem(reply: Reply, credential: Credential, expected: int) -> str | None:
    """What is wrong with a 401, 403 or 404, if anything: the bare error of whoever refused, no data."""
    body = reply.body
    if not isinstance(body, dict) or set(body) - {"error", "message", "details"}:
        return f"not a bare error: {reply.raw[:200]!r}"
    if expected == 404:
        if body.get("error") != "not_found":
            return f"not the handler's 404: {body}"
    elif credential.groups is None or (credential.key and expected == 401):  # API Gateway's authorizer
        if body != UNAUTHORIZED or reply.headers.get("x-amzn-ErrorType") != "UnauthorizedException":
            return f"not the authorizer's 401: {body} {reply.headers}"
    elif not credential.workspace:  # the handler: a verified token, but no workspace to act in
        if body.get("error") != "unauthorized" or "custom:workspace_id" not in body.get("message", ""):
            return f"not the handler's 401: {body}"
    elif body.get("error") != "forbidden" or "group" not in body.get("message", ""):
        return f"not the handler's 403: {body}"
    if MATRIX_ONLY.encode() in reply.raw or MATRIX_SECRET.encode() in reply.raw:
        return "the refusal carries workspace data"
    return None


ADMIN_SETTINGS = "/api/cost-analysis/budget-alerts/settings"


def _writes_kept(route: Route, stack: RunningStack, admin: str) -> str | None:
    """What is wrong with the matrix workspace after `route` was called with every credential, if anything:
    each write carried its caller's name, and only the allowed callers' writes may be there."""
    key = (route.method, route.path)
    if key == ("PUT", "/api/agents/{agentId}"):
        name = stack.get("/api/agents/probe", admin).body["name"]
        return None if name == f"{MATRIX_SECRET} by admin" else f"the agent is {name!r}"
    if key == ("PUT", "/api/cost-analysis/pricing/{modelId}"):
        models = {m["id"] for m in stack.get("/api/cost-analysis/pricing", admin).body["models"]}
        priced = {m for m in models if m.startswith("mx-")}
        return None if priced == {"mx-admin"} else f"workspace prices for {sorted(priced)}"
    if key == ("PATCH", "/api/agents/{agentId}"):
        name = stack.get("/api/agents/probe", admin).body["name"]
        return None if name == f"{MATRIX_SECRET} patched by admin" else f"the agent is {name!r}"
    if key == ("PATCH", "/api/cost-analysis/pricing/{modelId}"):
        models = {m["id"]: m for m in stack.get("/api/cost-analysis/pricing", admin).body["models"]}
        patched = models[PATCHED_MODEL]
        price, source = patched["outputPricePerMillion"], patched["source"]
        return (
            None
            if (price, source) == (_output_price("admin"), "workspace")
            else f"{PATCHED_MODEL}: {patched}"
        )
    if key in (("PUT", ADMIN_SETTINGS), ("PATCH", ADMIN_SETTINGS)):
        thresholds = stack.get(ADMIN_SETTINGS, admin).body["thresholds"]
        return None if thresholds == _thresholds("admin") else f"thresholds {thresholds}"
    if key == ("POST", "/api/activity"):
        log = stack.get("/api/activity?limit=500", admin).body["data"]
        # (the spans POST /v1/traces stored are that route's to check)
        writers = {e["details"].get("by") for e in log if e["details"].get("source") != "otlp"}
        expected = {"admin", "ingest", "setup", "ingest key"}
        return None if writers == expected else f"events by {sorted(writers)}"
    if key == ("POST", "/v1/traces"):
        log = stack.get("/api/activity?limit=500", admin).body["data"]
        spans = {e["id"].split("-")[1] for e in log if e["details"].get("source") == "otlp"}
        expected = {_span_id(name) for name in ("admin", "ingest", "ingest key")}
        return None if spans == expected else f"spans {sorted(spans)}, expected {sorted(expected)}"
    if key == ("POST", "/api/ingest-keys"):
        names = {k["name"] for k in stack.get("/api/ingest-keys", admin).body["keys"]}
        made = {n for n in names if n.startswith("mx-")}
        return None if made == {"mx-admin"} else f"keys {sorted(made)}"
    if key == ("DELETE", "/api/ingest-keys/{keyId}"):
        keys = stack.get("/api/ingest-keys", admin).body["keys"]
        gone = {k["name"] for k in keys if k["status"] == "revoked" and k["name"].startswith("victim ")}
        return None if gone == {"victim admin"} else f"revoked {sorted(gone)}"
    return f"{route.method} {route.path}: say in _writes_kept what it writes"


def test_the_writers_are_the_admin_and_for_activity_the_ingest_group() -> None:
    inside = [c for c in CREDENTIALS if c.name != "admin of another workspace"]
    writers = {c.name for c in inside if expected_status(_route("PUT", "/api/agents/{agentId}"), c) == 200}
    key_makers = {c.name for c in inside if expected_status(_route("POST", "/api/ingest-keys"), c) == 201}
    assert key_makers == {"admin"}
    ingesters = {c.name for c in inside if expected_status(_route("POST", "/api/activity"), c) == 200}
    assert (writers, ingesters) == (
        {"admin"},
        {"admin", "ingest", "ingest key", "ingest key of another workspace"},
    )
    # A key reads nothing: every GET is refused by the Cognito authorizer.
    key = next(c for c in CREDENTIALS if c.name == "ingest key")
    assert {expected_status(r, key) for r in ROUTES if r.method == "GET" and r.authorized} == {401}


def _route(method: str, path: str) -> Route:
    return next(r for r in ROUTES if (r.method, r.path) == (method, path))


# --- Two workspaces that share agent and event ids ---------------------------------------------------

# What only workspace Alfa holds: names and texts, event and model ids, and numbers nothing else has.
ALFA_MARKERS = [
    "Classified",
    "alfa-evt-secret",
    "alfa-private-llm",
    "7654321",
    "1234567",
    "3333333",
    "918273",
    "818181",
    "4242.42",
    "737.37",
    "13.37",
    "42.4242",
]
ALFA_AGENTS = {
    "nova": {
        "name": "Alfa-Nova-Classified",
        "status": "online",
        "category": "Alfa-Cat-Classified",
        "department": "Alfa-Dept-Classified",
        "role_title": "Alfa-Role-Classified",
        "model_provider": "openai",
        "model_name": "alfa-private-llm",
        "human_equivalent_salary": 918273.64,
        "estimated_hours_saved": 737.37,
        "cost_budget_monthly": 4242.42,
    },
    "atlas": agent_body(
        "Alfa-Atlas-Classified",
        status="online",
        department="Alfa-Dept-Classified",
        model_provider="openai",
        model_name="gpt-5.4",
        human_equivalent_salary=818181.81,
        cost_budget_monthly=0.01,
    ),
    "alfa-only": agent_body("Alfa-Only-Classified", status="online"),
}
BRAVO_AGENTS = {
    "nova": agent_body("Bravo Nova", status="online", model_provider="openai", model_name="gpt-5.4-mini"),
    "atlas": agent_body("Bravo Atlas", status="online", model_name="gpt-5.4", cost_budget_monthly=0.01),
}


def _event(
    event_id: str, agent: str, kind: str, details: dict[str, Any], minutes_ago: int = 2
) -> dict[str, Any]:
    # Minutes ago, but never before this month began: the reads compared below are this month's, and the
    # suite may run at 00:00:30 on the 1st (tests/clock.py).
    now = datetime.now(UTC).replace(microsecond=0)
    at = max(now - timedelta(minutes=minutes_ago), now.replace(day=1, hour=0, minute=0, second=0))
    return {
        "id": event_id,
        "agentId": agent,
        "eventType": kind,
        "createdAt": at.isoformat(),
        "details": details,
    }


ALFA_EVENTS = [
    _event(
        "alfa-evt-secret-1",
        "nova",
        "model_invocation",
        {
            "model": "alfa-private-llm",
            "inputTokens": 7_654_321,
            "outputTokens": 1_234_567,
            "durationMs": 4321,
        },
    ),
    _event(
        "alfa-evt-secret-2",
        "atlas",
        "model_invocation",
        {"model": "gpt-5.4", "inputTokens": 3_333_333, "outputTokens": 111_111},
    ),
    _event("alfa-evt-secret-3", "nova", "task_completed", {"taskType": "Alfa-Task-Classified"}),
    _event(
        "alfa-evt-secret-4",
        "atlas",
        "tool_call",
        {"tool": "Alfa-Tool-Classified", "success": True, "durationMs": 5},
    ),
    _event("alfa-evt-secret-5", "nova", "error", {"message": "Alfa-Error-Classified", "code": "ALFA-9"}),
    _event("alfa-evt-secret-6", "alfa-only", "session_start", {"note": "Alfa-Detail-Classified"}),
    _event("shared-evt-1", "nova", "session_start", {"note": "Alfa-Shared-Classified"}),
]
BRAVO_EVENTS = [
    _event(
        "bravo-evt-1",
        "nova",
        "model_invocation",
        {"model": "gpt-5.4-mini", "inputTokens": 1000, "outputTokens": 100},
    ),
    _event(
        "bravo-evt-2",
        "atlas",
        "model_invocation",
        {"model": "gpt-5.4", "inputTokens": 5000, "outputTokens": 500},
    ),
    _event("shared-evt-1", "nova", "session_start", {"note": "bravo-shared"}),
]


@dataclass
class Pair:
    alfa: str  # an admin's ID token
    bravo: str
    bravo_viewer: str


def _put_fed_event(stack: RunningStack, workspace_id: str, event: dict[str, Any]) -> None:
    """An event written straight into the events table (the documented direct writer), ingested 3 minutes
    ago, so that the feed, which serves events ingested over a minute ago, has it now."""
    stored = StoredEvent(
        workspace_id=workspace_id,
        id=event["id"],
        agent_id=event["agentId"],
        event_type=event["eventType"],
        created_at=datetime.fromisoformat(event["createdAt"]),
        details=event["details"],
        ingested_at=datetime.now(UTC) - timedelta(minutes=3),
    )
    table = stack.table(stack.outputs["EventsTableName"])
    table.put_item(Item=events_repo.item_of(stored, 400))


def _load(stack: RunningStack, token: str, agents: dict[str, Any], events: list[dict[str, Any]]) -> None:
    for agent_id, body in agents.items():
        assert http("PUT", f"{stack.api}/api/agents/{agent_id}", token=token, body=body).status == 200
    posted = http("POST", f"{stack.api}/api/activity", token=token, body={"events": events})
    assert (posted.status, posted.body["accepted"]) == (200, len(events)), posted.body


@pytest.fixture(scope="module")
def pair(stack: RunningStack) -> Pair:
    """Workspaces Alfa and Bravo with the same agent ids and one same event id, their events rolled up;
    read only (the write test has a pair of its own)."""
    return _pair(stack)


@pytest.fixture
def written_pair(stack: RunningStack) -> Pair:
    """A pair for a test that writes to it: Bravo's writes to the shared ids are its own afterwards."""
    return _pair(stack)


def _pair(stack: RunningStack) -> Pair:
    alfa_id, bravo_id = fresh_workspace(), fresh_workspace()
    alfa, bravo = stack.new_user(alfa_id, "admin"), stack.new_user(bravo_id, "admin")
    price = {
        "provider": "openai",
        "category": "standard",
        "inputPricePerMillion": 13.37,
        "outputPricePerMillion": 42.4242,
        "cacheReadPricePerMillion": None,
        "cacheWritePricePerMillion": None,
        "effectiveFrom": "2020-01-01T00:00:00Z",
    }
    assert (
        http("PUT", f"{stack.api}/api/cost-analysis/pricing/alfa-private-llm", token=alfa, body=price).status
        == 200
    )
    settings = {"thresholds": [37, 73, 91], "forecast": False}
    assert (
        http("PUT", f"{stack.api}/api/cost-analysis/budget-alerts/settings", token=alfa, body=settings).status
        == 200
    )
    _load(stack, alfa, ALFA_AGENTS, ALFA_EVENTS)
    _load(stack, bravo, BRAVO_AGENTS, BRAVO_EVENTS)
    _put_fed_event(
        stack,
        alfa_id,
        _event("alfa-evt-secret-fed", "nova", "session_end", {"note": "Alfa-Feed-Classified"}, 3),
    )
    _put_fed_event(stack, bravo_id, _event("bravo-evt-fed", "nova", "session_end", {"note": "bravo-fed"}, 3))

    def rolled_up(token: str, tokens: int, events: int) -> bool:
        # The events' month, asked for: the stack's clock ticks on (past a month's end, in a late run).
        month = ALFA_EVENTS[0]["createdAt"][:7]
        models = stack.get(f"/api/cost-analysis/by-model?month={month}", token).body["models"]
        log = stack.get("/api/activity?limit=1", token).body["pagination"]
        return sum(m["inputTokens"] for m in models) == tokens and log["total"] == events

    assert wait_for(lambda: rolled_up(alfa, 7_654_321 + 3_333_333, 8), timeout=30), "Alfa was not rolled up"
    assert wait_for(lambda: rolled_up(bravo, 6000, 4), timeout=30), "Bravo was not rolled up"
    return Pair(alfa, bravo, stack.new_user(bravo_id, "viewer"))


def _reads() -> list[tuple[str, dict[str, str]]]:
    """Every read of the API (GET routes of the template), with the queries and path values that matter."""
    month = datetime.now(UTC).strftime("%Y-%m")
    queries = {
        "/api/activity": ["", "agentId=nova", "agentId=alfa-only", "eventType=session_start", "limit=500"],
        # The feed's first poll (no since) walks every day of the retention period: once is enough.
        "/api/activity/feed": ["", f"since={_yesterday()}&limit=500"],
        "/api/agents/workforce/trends": ["", "months=24"],
    }
    reads = []
    for route in ROUTES:
        if route.method != "GET" or not route.authorized:
            continue
        paths = [route.path.replace("{agentId}", agent) for agent in ("nova", "atlas", "alfa-only")]
        assert "{" not in paths[0], f"{route.path}: say which values its parameters take here"
        for path in dict.fromkeys(paths):
            for query in queries.get(route.path, ["", f"month={month}"]):
                for accept in ("application/json", "text/csv"):
                    reads.append((f"{path}?{query}" if query else path, {"Accept": accept}))
    return reads


READS = _reads()


def test_nothing_of_one_workspace_shows_in_the_reads_of_another(pair: Pair, stack: RunningStack) -> None:
    # Given every read of the API, in JSON and in CSV, for Alfa and for Bravo (admin and viewer)
    seen: dict[str, bytes] = {}
    leaks: list[str] = []
    for path, headers in READS:
        alfa = http("GET", stack.api + path, token=pair.alfa, headers=headers)
        seen[f"{path} {headers['Accept']}"] = alfa.raw
        for token in (pair.bravo, pair.bravo_viewer):
            reply = http("GET", stack.api + path, token=token, headers=headers)
            CROSS["GET (all reads, JSON and CSV)"] += 1
            expected = 404 if path.startswith("/api/agents/alfa-only") else 200
            if path.startswith("/api/ingest-keys") and token == pair.bravo_viewer:
                expected = 403  # keys are for admins
            if reply.status != expected:
                leaks.append(f"{path} ({headers['Accept']}): {reply.status} {reply.raw[:200]!r}")
            found = [marker for marker in ALFA_MARKERS if marker.encode() in reply.raw]
            if found:
                leaks.append(f"{path} ({headers['Accept']}): Alfa's {found} in {reply.raw[:300]!r}")
    # Then Bravo sees none of Alfa's markers, while each is in Alfa's own answers (so the check can fail)
    assert not leaks, "\n".join(leaks)
    everything = b"".join(seen.values())
    assert [m for m in ALFA_MARKERS if m.encode() not in everything] == []
    assert b"bravo-shared" not in everything
    # And the shared ids answer each workspace its own
    assert stack.get("/api/agents/nova", pair.bravo).body["name"] == "Bravo Nova"
    bravo_log = stack.get("/api/activity?eventType=session_start", pair.bravo).body["data"]
    assert [(e["id"], e["details"]) for e in bravo_log] == [("shared-evt-1", {"note": "bravo-shared"})]
    assert stack.get("/api/cost-analysis/budget-alerts/settings", pair.bravo).body == {
        "thresholds": [80, 100],
        "forecast": True,
    }


def test_a_cursor_of_one_workspace_is_refused_to_another(pair: Pair, stack: RunningStack) -> None:
    cursors = {
        "/api/activity?limit=1": stack.get("/api/activity?limit=1", pair.alfa).body["pagination"][
            "nextToken"
        ],
        "/api/activity/feed?limit=1": stack.get("/api/activity/feed?limit=1", pair.alfa).body["nextToken"],
    }
    for path, cursor in cursors.items():
        assert cursor, path
        own = stack.get(f"{path}&{urlencode({'nextToken': cursor})}", pair.alfa)
        assert own.status == 200, own.body  # the cursor is good, for its workspace
        for token in (pair.bravo, pair.bravo_viewer):
            reply = stack.get(f"{path}&{urlencode({'nextToken': cursor})}", token)
            CROSS["GET with another workspace's cursor"] += 1
            assert reply.status == 400, reply.body
            assert set(reply.body) == {"error", "message", "details"}
            assert "nextToken" in reply.body["message"]
            assert not [m for m in ALFA_MARKERS if m.encode() in reply.raw]


def test_writes_to_a_shared_id_change_only_the_writers_copy(written_pair: Pair, stack: RunningStack) -> None:
    pair = written_pair

    def alfa_state() -> list[Any]:
        return [
            stack.get(path, pair.alfa).body
            for path in (
                "/api/agents",
                "/api/cost-analysis/pricing",
                "/api/cost-analysis/budget-alerts/settings",
                "/api/activity?limit=500",
            )
        ]

    before = alfa_state()
    renamed = {**BRAVO_AGENTS["nova"], "name": "Bravo Nova Renamed", "cost_budget_monthly": 1}
    writes: list[tuple[str, str, Any, int]] = [
        ("PUT", "/api/agents/nova", renamed, 200),
        ("PUT", "/api/agents/atlas", agent_body("Bravo Atlas Renamed"), 200),
        (
            "PUT",
            "/api/cost-analysis/pricing/alfa-private-llm",
            {
                "provider": "openai",
                "category": "economy",
                "inputPricePerMillion": 0.1,
                "outputPricePerMillion": 0.2,
                "cacheReadPricePerMillion": None,
                "cacheWritePricePerMillion": None,
            },
            200,
        ),
        ("PUT", "/api/cost-analysis/budget-alerts/settings", {"thresholds": [50], "forecast": True}, 200),
    ]
    for method, path, body, status in writes:
        reply = http(method, stack.api + path, token=pair.bravo, body=body)
        CROSS["writes to Alfa's ids"] += 1
        assert reply.status == status, (path, reply.body)
    # An event for an agent only Alfa has, and one reusing the shared event id with other content
    events = [
        _event("bravo-evt-9", "alfa-only", "session_start", {}),
        _event("shared-evt-1", "nova", "session_start", {"note": "overwrite?"}),
    ]
    posted = http("POST", f"{stack.api}/api/activity", token=pair.bravo, body={"events": events}).body
    CROSS["writes to Alfa's ids"] += 1
    assert [r["reason"] for r in posted["rejected"]] == [
        "agentId: 'alfa-only' is not a registered agent of this workspace",
        "id: already used by a different event in this workspace",
    ]
    past_the_batching_window()  # a write that reached Alfa would show by now
    assert alfa_state() == before
    assert stack.get("/api/agents/nova", pair.bravo).body["name"] == "Bravo Nova Renamed"


# --- Hostile requests only the gateway sees -----------------------------------------------------------


@pytest.fixture
def ingester(stack: RunningStack) -> str:
    """An admin of a workspace of the test's own, with one agent: each test sees only what it stored."""
    token = stack.new_user(fresh_workspace(), "admin")
    assert http("PUT", f"{stack.api}/api/agents/nova", token=token, body=agent_body("Nova")).status == 200
    return token


def _now() -> str:
    return (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stored(stack: RunningStack, token: str) -> list[str]:
    return [e["id"] for e in stack.get("/api/activity?limit=500", token).body["data"]]


@pytest.mark.parametrize(
    ("what", "data", "status", "error"),
    [
        ("over API Gateway's 10 MB", b'{"events": []}' + b" " * (10 * 1024 * 1024), 413, "bad_request"),
        ("over the function's 2 MB", b'{"events": []}' + b" " * (3 * 1024 * 1024), 413, "payload_too_large"),
        ("bytes that are not UTF-8 outside strings", b'{"events": [\xff\xfe]}', 400, "invalid_request"),
    ],
)
def test_a_hostile_body_through_the_gateway_is_a_4xx(
    what: str, data: bytes, status: int, error: str, stack: RunningStack, ingester: str
) -> None:
    reply = http("POST", f"{stack.api}/api/activity", token=ingester, data=data)
    CROSS["hostile bodies through the gateway"] += 1
    assert reply.status == status, reply.body
    assert reply.body["error"] == error
    assert _stored(stack, ingester) == []


def test_an_id_that_is_not_utf8_is_rejected_not_stored_mangled(stack: RunningStack, ingester: str) -> None:
    # The gateway turns bytes that are not UTF-8 into U+FFFD, as API Gateway makes a text body a safe UTF-8
    # string: two different ids would become one. The event is rejected, the others stored.
    event = b'{"id": "%s", "agentId": "nova", "eventType": "session_start", "createdAt": "%s", "details": {}}'
    at = _now().encode()
    data = b'{"events": [' + (event % (b"bad-\xff\xfe", at)) + b", " + (event % (b"good-1", at)) + b"]}"
    reply = http("POST", f"{stack.api}/api/activity", token=ingester, data=data)
    CROSS["hostile bodies through the gateway"] += 1
    assert reply.status == 200, reply.body
    assert reply.body["accepted"] == 1
    assert reply.body["rejected"][0]["index"] == 0
    assert "UTF-8" in reply.body["rejected"][0]["reason"]
    assert _stored(stack, ingester) == ["good-1"]


def _raw_exchange(stack: RunningStack, request: bytes) -> bytes:
    """Sends bytes as they are on one connection; returns what comes back until the server closes it."""
    split = urlsplit(stack.api)
    with socket.create_connection((split.hostname, split.port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: abc\r\n\r\n{}", b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"],
    ids=["Content-Length not a number", "chunk size not hex"],
)
def test_a_body_that_cannot_be_framed_is_a_400_and_the_connection_closes(
    framing: bytes, stack: RunningStack, ingester: str
) -> None:
    request = (
        b"POST /api/activity HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {ingester}\r\n".encode()
        + framing
    )
    answer = _raw_exchange(stack, request)
    CROSS["hostile bodies through the gateway"] += 1
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 400"), answer[:300]
    assert rest.count(b"HTTP/1.1") == 0  # no second answer to what followed the bad framing
    assert b'"bad_request"' in rest


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/agents/%00", 400),
        ("/api/agents/%23", 400),
        ("/api/agents/%ff", 400),
        ("/api/agents/nova%2F..%2F..%2Fhealth", 400),
        ("/api/activity?agentId=%ff", 400),
        ("/api/activity?nextToken=" + "x" * 20_000, 400),
        ("/api/activity?from=" + "9" * 20_000, 400),
    ],
    ids=lambda value: str(value)[:30],
)
def test_hostile_paths_and_queries_through_the_gateway_are_4xx(
    path: str, status: int, stack: RunningStack, ingester: str
) -> None:
    reply = stack.get(path, ingester)
    CROSS["hostile paths and queries through the gateway"] += 1
    assert reply.status == status, reply.body
    assert reply.body["error"] == "invalid_request"
