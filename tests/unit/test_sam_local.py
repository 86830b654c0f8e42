"""The stand-in for API Gateway's Cognito authorizer under `sam local start-api` (costmetrics.sam_local):
it accepts exactly the ID tokens the authorizer accepts (checked against tokens that joserfc signs, forged
ones included) and hands their claims on as API Gateway does; and a deployed function, where SAM's
AWS_SAM_LOCAL is never set, never takes that path."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from costmetrics import id_tokens, sam_local
from costmetrics.sam_local import TokenRefused, gateway_claims, verify
from local_stack.apigw import LambdaContext, rest_event

POOL = "us-east-1_TestPool"
CLIENT = "test-client-id"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"
KEY = RSAKey.generate_key(2048, parameters={"kid": "pool-key"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "pool-key"})


def public(key: RSAKey) -> tuple[int, int]:
    exported = key.as_dict(private=False)

    def number(value: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")

    return number(exported["n"]), number(exported["e"])


KEYS = {"pool-key": public(KEY)}
NOW = 1_800_000_000.0


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "sub": "user-1",
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "exp": int(NOW) + 600,
        "iat": int(NOW) - 60,
        "custom:workspace_id": "acme",
        "cognito:groups": ["admin", "viewer"],
        "email_verified": True,
    }
    return {**base, **changes}


def token(body: dict[str, Any], key: RSAKey = KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": "pool-key"}, body, key)


def b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_a_valid_id_token_gives_its_claims() -> None:
    assert verify(token(claims()), KEYS, ISSUER, CLIENT, NOW) == claims()


@pytest.mark.parametrize(
    ("forged", "reason"),
    [
        (lambda: token(claims(), OTHER), "bad signature"),
        (lambda: token(claims(exp=int(NOW) - 10)), "expired"),
        (lambda: token(claims(iss="https://cognito-idp.us-east-1.amazonaws.com/other")), "another user pool"),
        (lambda: token(claims(aud="another-client")), "another app client"),
        (lambda: token(claims(token_use="access")), "not an ID token"),
        (lambda: f"{b64({'alg': 'none', 'kid': 'pool-key'})}.{b64(claims())}.", "not RS256"),
        (lambda: f"{b64({'alg': 'HS256', 'kid': 'pool-key'})}.{b64(claims())}.c2ln", "not RS256"),
        (lambda: "not.a.jwt!", "not a JWT"),
        (lambda: token(claims()).rsplit(".", 1)[0] + ".", "bad signature"),
    ],
)
def test_forged_expired_and_unsigned_tokens_are_refused(forged: Any, reason: str) -> None:
    with pytest.raises(TokenRefused, match=reason):
        verify(forged(), KEYS, ISSUER, CLIENT, NOW)


def test_a_token_whose_payload_was_changed_after_signing_is_refused() -> None:
    header, _, signature = token(claims()).split(".")
    changed = f"{header}.{b64(claims(**{'custom:workspace_id': 'other'}))}.{signature}"
    with pytest.raises(TokenRefused, match="bad signature"):
        verify(changed, KEYS, ISSUER, CLIENT, NOW)


def test_claims_are_handed_on_as_api_gateway_does() -> None:
    shown = gateway_claims(claims())
    assert shown["cognito:groups"] == "admin,viewer"
    assert shown["email_verified"] == "true"
    assert shown["exp"] == time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(NOW + 600))
    assert all(isinstance(value, str) for value in shown.values())


SAM_ENV = {
    "AWS_SAM_LOCAL": "true",
    "USER_POOL_ID": POOL,
    "USER_POOL_CLIENT_ID": CLIENT,
    "AWS_REGION": "us-east-1",
}


def agents_call(authorization: str | None) -> dict[str, Any]:
    from functions.agents.app import lambda_handler

    headers = {"Authorization": authorization} if authorization else {}
    event = rest_event(
        "GET",
        "/api/agents/nova",
        resource="/api/agents/{agentId}",
        path_parameters={"agentId": "nova"},
        headers=headers,
        claims=None,
    )
    result: dict[str, Any] = lambda_handler(event, LambdaContext.named("AgentsFunction"))
    return result


@pytest.fixture
def sam_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(id_tokens, "_keys", lambda url: KEYS)
    monkeypatch.setattr(sam_local.time, "time", lambda: NOW)


def test_under_sam_local_a_valid_token_reaches_the_handler_with_its_claims(
    sam_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SAM_ENV.items():
        monkeypatch.setenv(name, value)
    seen: list[Any] = []
    from costmetrics import registry
    from costmetrics.agents import AgentOut

    def agent(workspace: str, agent_id: str) -> AgentOut:
        seen.append(workspace)
        return AgentOut(
            id=agent_id,
            name="Nova",
            status="online",
            category=None,
            department=None,
            role_title=None,
            model_provider=None,
            model_name=None,
            human_equivalent_salary=0,
            estimated_hours_saved=0,
            cost_budget_monthly=0,
            created_at="2026-03-17T10:00:00Z",
            updated_at="2026-03-17T10:00:00Z",
        )

    monkeypatch.setattr(registry, "agent", agent)
    reply = agents_call(f"Bearer {token(claims())}")
    assert reply["statusCode"] == 200, reply
    assert seen == ["acme"]
    # A forged token is API Gateway's 401, and the handler never runs
    assert agents_call(f"Bearer {token(claims(), OTHER)}")["statusCode"] == 401
    assert seen == ["acme"]


def test_a_deployed_function_never_verifies_a_token_itself(
    sam_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lambda never sets AWS_SAM_LOCAL: without the authorizer's claims the request is a 401, whatever token
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    for name in ("USER_POOL_ID", "USER_POOL_CLIENT_ID"):
        monkeypatch.setenv(name, SAM_ENV[name])

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a deployed function verified a token itself")

    monkeypatch.setattr(id_tokens, "verify", never)
    reply = agents_call(f"Bearer {token(claims())}")
    assert reply["statusCode"] == 401
    assert json.loads(reply["body"]) == {
        "error": "unauthorized",
        "message": "missing or invalid bearer token",
    }
    monkeypatch.setenv("AWS_SAM_LOCAL", "false")
    assert agents_call(f"Bearer {token(claims())}")["statusCode"] == 401
