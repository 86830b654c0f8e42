"""The local API's Cognito authorizer: only a valid ID token of the stack's pool and app client gets in, and
the groups decide what it may do."""

from __future__ import annotations

import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from tests.e2e.support import (
    RunningStack,
    another_key,
    fresh_workspace,
    http,
    signed,
    token_claims,
    unsigned,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

SUMMARY = "/api/cost-analysis/summary"
UNAUTHORIZED = {"error": "unauthorized", "message": "missing or invalid bearer token"}


@pytest.fixture(scope="module")
def admin_token(stack: RunningStack) -> str:
    return stack.sign_in("demo@example.com", stack.demo_password("demo@example.com"))


def test_health_needs_no_token(stack: RunningStack) -> None:
    reply = stack.get("/api/health")
    assert reply.status == 200
    assert reply.body["status"] == "ok"


def test_a_valid_id_token_gets_in_raw_or_as_bearer(stack: RunningStack, admin_token: str) -> None:
    assert http("GET", stack.api + SUMMARY, token=admin_token).status == 200
    assert http("GET", stack.api + SUMMARY, authorization=admin_token).status == 200


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer not-a-jwt", "Basic ZGVtbzpkZW1v", "Bearer a.b.c"],
    ids=["no header", "empty", "bearer without token", "garbage", "basic auth", "three garbage parts"],
)
def test_no_or_garbage_token_is_401(stack: RunningStack, authorization: str | None) -> None:
    reply = http("GET", stack.api + SUMMARY, authorization=authorization)
    assert reply.status == 401
    assert reply.body == UNAUTHORIZED


def test_alg_none_token_is_401(stack: RunningStack, admin_token: str) -> None:
    forged = unsigned(token_claims(admin_token))
    assert http("GET", stack.api + SUMMARY, token=forged).status == 401


def test_hs256_token_keyed_with_the_public_key_is_401(stack: RunningStack, admin_token: str) -> None:
    public = http(
        "GET", f"{stack.outputs['AwsEndpointUrl']}/{stack.outputs['UserPoolId']}/.well-known/jwks.json"
    )
    secret = OctKey.import_key(json.dumps(public.body, default=str).encode())
    forged = jwt.encode({"alg": "HS256", "kid": "dummy"}, token_claims(admin_token), secret)
    assert http("GET", stack.api + SUMMARY, token=forged).status == 401


def test_token_signed_by_another_key_is_401(stack: RunningStack, admin_token: str) -> None:
    forged = signed(token_claims(admin_token), another_key())
    assert http("GET", stack.api + SUMMARY, token=forged).status == 401


def test_expired_token_is_401_while_the_same_token_unexpired_is_not(
    stack: RunningStack, admin_token: str
) -> None:
    # Signed with the pool's own key, so the signature is good and only `exp` decides.
    claims = token_claims(admin_token)
    fresh = signed({**claims, "exp": int(time.time()) + 600})
    expired = signed({**claims, "exp": int(time.time()) - 60})
    assert http("GET", stack.api + SUMMARY, token=fresh).status == 200
    assert http("GET", stack.api + SUMMARY, token=expired).status == 401


@pytest.mark.parametrize(
    "change",
    [
        {"aud": "another-app-client"},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"},
        {"token_use": "access"},
    ],
    ids=["audience", "issuer", "token_use"],
)
def test_a_well_signed_token_for_something_else_is_401(
    stack: RunningStack, admin_token: str, change: dict[str, str]
) -> None:
    forged = signed({**token_claims(admin_token), **change})
    assert http("GET", stack.api + SUMMARY, token=forged).status == 401


def test_an_access_token_is_not_an_id_token(stack: RunningStack) -> None:
    access = stack.sign_in("demo@example.com", stack.demo_password("demo@example.com"), kind="AccessToken")
    assert http("GET", stack.api + SUMMARY, token=access).status == 401


def test_viewer_reads_but_cannot_write(stack: RunningStack) -> None:
    viewer = stack.sign_in("viewer@example.com", stack.demo_password("viewer@example.com"))
    assert stack.get(SUMMARY, viewer).status == 200
    assert stack.get("/api/agents", viewer).status == 200
    agent = {"name": "Intruder", "status": "draft"}
    assert http("PUT", stack.api + "/api/agents/x", token=viewer, body=agent).status == 403
    event = {
        "id": "viewer-1",
        "agentId": "nova",
        "eventType": "session_start",
        "createdAt": "2026-01-01T00:00:00Z",
        "details": {},
    }
    assert http("POST", stack.api + "/api/activity", token=viewer, body={"events": [event]}).status == 403


def test_ingest_user_cannot_read(stack: RunningStack) -> None:
    ingest = stack.sign_in("ingest@example.com", stack.demo_password("ingest@example.com"))
    assert stack.get(SUMMARY, ingest).status == 403


def test_another_workspace_sees_nothing_of_the_demo(stack: RunningStack) -> None:
    outsider = stack.new_user(fresh_workspace(), "admin")
    summary = stack.get(SUMMARY, outsider)
    assert summary.status == 200
    assert summary.body["totalSpend"] == 0
    assert summary.body["tokenCost"]["byModel"] == []
    agents = stack.get("/api/agents", outsider)
    assert agents.status == 200
    assert agents.body["agents"] == []
    assert stack.get("/api/agents/nova", outsider).status == 404
