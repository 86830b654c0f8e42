"""Ingest keys end to end in process: admins create, list and revoke them (POST/GET/DELETE
/api/ingest-keys), only a hash is stored, and the ingest authorizer (the real function) allows an active
key with exactly the ingest routes, a Cognito ID token as well, and refuses anything else with the
exception that makes API Gateway answer 401."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local_stack.apigw import LambdaContext, rest_event
from tests.harness import Api

ARN = "arn:aws:execute-api:us-east-1:123456789012:api1/dev/POST/api/activity"


def authorizer_event(authorization: str | None) -> dict[str, Any]:
    event = rest_event(
        "POST", "/api/activity", headers={"Authorization": authorization} if authorization else {}
    )
    event.pop("body")
    event.update(type="REQUEST", methodArn=ARN)
    return event


def authorize(authorization: str | None) -> dict[str, Any]:
    from functions.ingest_authorizer.app import lambda_handler

    answer: dict[str, Any] = lambda_handler(
        authorizer_event(authorization), LambdaContext.named("IngestAuthorizerFunction")
    )
    return answer


def key_items(stack: Any) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(stack.outputs["IngestKeysTableName"])
    items: list[dict[str, Any]] = table.scan()["Items"]
    return items


@pytest.fixture
def admin(stack: Any) -> Api:
    return Api("ws-acme")


def test_a_created_key_is_shown_once_listed_without_its_secret_and_stored_as_a_hash(
    admin: Api, stack: Any
) -> None:
    created = admin.call("POST", "/api/ingest-keys", body={"name": "prod fleet"})
    assert created.status == 201, created.text
    key = created.json["key"]
    assert key.startswith(f"cmk_ws-acme.{created.json['id']}.")
    assert created.json["status"] == "active"
    listed = admin.call("GET", "/api/ingest-keys")
    assert listed.status == 200
    (shown,) = listed.json["keys"]
    assert shown["name"] == "prod fleet"
    assert "key" not in shown
    assert key.rsplit(".", 1)[1] not in listed.text
    (item,) = key_items(stack)
    assert key.rsplit(".", 1)[1] not in json.dumps(item, default=str)
    assert len(item["secretHash"]) == 64


@pytest.mark.parametrize("group", ["viewer", "ingest"])
def test_only_admins_manage_keys(stack: Any, group: str) -> None:
    api = Api("ws-acme", (group,))
    assert api.call("POST", "/api/ingest-keys", body={"name": "x"}).status == 403
    assert api.call("GET", "/api/ingest-keys").status == 403
    assert api.call("DELETE", "/api/ingest-keys/0123456789abcdef").status == 403
    assert key_items(stack) == []


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 129}, {"name": "a\nb"}, {"name": 3}])
def test_a_bad_name_is_a_400(admin: Api, body: Any) -> None:
    reply = admin.call("POST", "/api/ingest-keys", body=body)
    assert reply.status == 400, reply.text
    assert "name" in reply.json["message"]


def test_the_authorizer_allows_an_active_key_for_the_ingest_routes_only(admin: Api, stack: Any) -> None:
    key = admin.call("POST", "/api/ingest-keys", body={"name": "fleet"}).json["key"]
    answer = authorize(f"Bearer {key}")
    assert answer["context"] == {
        "workspaceId": "ws-acme",
        "groups": "ingest",
        "subject": f"ingest-key:{key.split('.')[1]}",
        "credential": "ingest_key",
    }
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == [
        "arn:aws:execute-api:us-east-1:123456789012:api1/dev/POST/api/activity",
        "arn:aws:execute-api:us-east-1:123456789012:api1/dev/POST/v1/traces",
    ]
    # The use is recorded.
    (shown,) = admin.call("GET", "/api/ingest-keys").json["keys"]
    assert shown["lastUsedAt"] is not None


def test_a_revoked_key_is_refused_and_revoking_again_changes_nothing(admin: Api) -> None:
    created = admin.call("POST", "/api/ingest-keys", body={"name": "fleet"}).json
    revoked = admin.call("DELETE", f"/api/ingest-keys/{created['id']}")
    assert (revoked.status, revoked.json["status"]) == (200, "revoked")
    again = admin.call("DELETE", f"/api/ingest-keys/{created['id']}")
    assert again.json["revokedAt"] == revoked.json["revokedAt"]
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(f"Bearer {created['key']}")


def test_another_workspace_can_neither_see_nor_revoke_a_key(admin: Api) -> None:
    created = admin.call("POST", "/api/ingest-keys", body={"name": "fleet"}).json
    other = Api("ws-bravo")
    assert other.call("GET", "/api/ingest-keys").json == {"keys": []}
    assert other.call("DELETE", f"/api/ingest-keys/{created['id']}").status == 404
    assert authorize(f"Bearer {created['key']}")["context"]["workspaceId"] == "ws-acme"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer ",
        "Bearer cmk_ws-acme.0123456789abcdef." + "a" * 43,
        "Bearer cmk_nonsense",
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_anything_but_a_valid_credential_is_unauthorized(authorization: str | None, stack: Any) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(authorization)


def test_a_key_with_a_changed_secret_or_workspace_is_unauthorized(admin: Api) -> None:
    key = admin.call("POST", "/api/ingest-keys", body={"name": "fleet"}).json["key"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    for forged in (tampered, key.replace("cmk_ws-acme.", "cmk_ws-bravo.", 1)):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            authorize(f"Bearer {forged}")


def test_with_a_key_the_activity_route_stores_into_the_key_s_workspace(admin: Api, stack: Any) -> None:
    from tests.clock import INSTANT
    from tests.datasets import AGENTS, iso
    from tests.integration.rollup_support import register_agents

    register_agents(admin, AGENTS)
    key = admin.call("POST", "/api/ingest-keys", body={"name": "fleet"}).json["key"]
    context = authorize(f"Bearer {key}")["context"]
    event = {
        "id": "k-1",
        "agentId": "nova",
        "eventType": "session_start",
        "createdAt": iso(INSTANT),
        "details": {},
    }
    from functions.activity.app import lambda_handler

    request = rest_event("POST", "/api/activity", body={"events": [event]})
    request["requestContext"]["authorizer"] = {**context, "principalId": "p", "integrationLatency": 0}
    reply = lambda_handler(request, LambdaContext.named("ActivityFunction"))
    assert (reply["statusCode"], json.loads(reply["body"])["accepted"]) == (200, 1)
    # A key may not read: its context carries the ingest group only.
    request = rest_event("GET", "/api/activity")
    request["requestContext"]["authorizer"] = {**context, "principalId": "p", "integrationLatency": 0}
    assert lambda_handler(request, LambdaContext.named("ActivityFunction"))["statusCode"] == 403
