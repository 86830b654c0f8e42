"""POST /api/activity: each event validated on its own, valid ones stored even beside rejected ones,
idempotent on id, and bad requests answered with a clear 4xx."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.clock import INSTANT
from tests.datasets import AGENTS, iso
from tests.harness import Api, Stream
from tests.integration.rollup_support import register_agents

NOW = INSTANT


def invocation(event_id: str, agent: str = "nova", tokens: int = 1000) -> dict[str, Any]:
    return {
        "id": event_id,
        "agentId": agent,
        "eventType": "model_invocation",
        "createdAt": iso(NOW),
        "details": {"model": "claude-haiku-3.5", "inputTokens": tokens, "outputTokens": 10},
    }


@pytest.fixture
def api(stack: Any) -> Api:
    api = Api("ws-acme")
    register_agents(api, AGENTS)
    return api


def stored_ids(stack: Any) -> list[str]:
    return sorted(r["dynamodb"]["NewImage"]["id"]["S"] for r in Stream(stack).pending())


def test_valid_events_are_stored_beside_rejected_ones_with_a_reason_each(api: Api, stack: Any) -> None:
    reply = api.post(
        "/api/activity",
        {
            "events": [
                invocation("ok-1"),
                {**invocation("bad-agent"), "agentId": "ghost"},
                {**invocation("bad-type"), "eventType": "teleport"},
                "not an event",
                invocation("ok-2", agent="atlas"),
                {
                    **invocation("bad-tokens"),
                    "details": {"model": "gpt-5.4", "inputTokens": "12", "outputTokens": 1},
                },
            ]
        },
    )
    assert reply.status == 200
    body = reply.json
    assert (body["accepted"], body["duplicates"], body["rejectedCount"]) == (2, 0, 4)
    reasons = {r["index"]: (r["id"], r["reason"]) for r in body["rejected"]}
    assert reasons[1] == ("bad-agent", "agentId: 'ghost' is not a registered agent of this workspace")
    assert reasons[2][0] == "bad-type"
    assert "eventType" in reasons[2][1]
    assert reasons[3] == (None, "an event must be a JSON object")
    assert "details.inputTokens" in reasons[5][1]
    assert stored_ids(stack) == ["ok-1", "ok-2"]


def test_the_same_id_is_stored_once_and_reported_as_a_duplicate(api: Api, stack: Any) -> None:
    first = api.post("/api/activity", {"events": [invocation("e1"), invocation("e1")]})
    assert (first.json["accepted"], first.json["duplicates"]) == (1, 1)
    again = api.post("/api/activity", {"events": [invocation("e1"), invocation("e2")]})
    assert (again.json["accepted"], again.json["duplicates"], again.json["rejectedCount"]) == (1, 1, 0)
    assert stored_ids(stack) == ["e1", "e2"]


def test_an_id_reused_for_a_different_event_is_rejected_not_overwritten(api: Api, stack: Any) -> None:
    api.post("/api/activity", {"events": [invocation("e1", tokens=1000)]})
    reply = api.post("/api/activity", {"events": [invocation("e1", tokens=999_999)]})
    assert reply.json["rejected"] == [
        {"index": 0, "id": "e1", "reason": "id: already used by a different event in this workspace"}
    ]
    inside = api.post("/api/activity", {"events": [invocation("e9", tokens=1), invocation("e9", tokens=2)]})
    assert inside.json["rejected"][0]["reason"] == "id: used twice in this batch for different events"
    (record,) = [r for r in Stream(stack).pending() if r["dynamodb"]["NewImage"]["id"]["S"] == "e1"]
    assert '"inputTokens":1000' in record["dynamodb"]["NewImage"]["details"]["S"]


def test_two_workspaces_may_use_the_same_event_and_agent_ids(api: Api, stack: Any) -> None:
    other = Api("ws-other")
    register_agents(other, AGENTS[:1])
    assert api.post("/api/activity", {"events": [invocation("shared")]}).json["accepted"] == 1
    assert other.post("/api/activity", {"events": [invocation("shared")]}).json["accepted"] == 1


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ("{not json", 400, "not valid JSON"),
        ('{"events": "x"}', 400, '{"events": [...]}'),
        ("[]", 400, '{"events": [...]}'),
        ('{"events": []}', 400, "1 to 100"),
        ('{"events": [], "extra": 1}', 400, "unknown field"),
        ("", 400, "needs a JSON body"),
        ('{"events": ' + "[" * 200_000 + "]" * 200_000 + "}", 400, "nested too deeply"),
    ],
)
def test_malformed_requests_are_4xx_with_a_message(api: Api, body: str, status: int, needle: str) -> None:
    reply = api.post("/api/activity", body)
    assert reply.status == status, reply.text
    assert needle in reply.json["message"]


def test_too_many_events_or_too_big_a_body_is_refused_whole(api: Api, stack: Any) -> None:
    reply = api.post("/api/activity", {"events": [invocation(f"e{i}") for i in range(101)]})
    assert reply.status == 400
    assert "1 to 100" in reply.json["message"]
    huge = api.post("/api/activity", {"events": [invocation("big")], "pad": "x" * (3 * 1024 * 1024)})
    assert huge.status == 413
    assert stored_ids(stack) == []


def test_a_non_json_content_type_is_415(api: Api) -> None:
    reply = api.post("/api/activity", "a,b", headers={"Content-Type": "text/csv"})
    assert reply.status == 415


def test_who_may_ingest(api: Api, stack: Any) -> None:
    body = {"events": [invocation("e1")]}
    assert api.as_("ws-acme", "ingest").post("/api/activity", body).status == 200
    viewer = api.as_("ws-acme", "viewer").post("/api/activity", body)
    assert viewer.status == 403
    assert viewer.json["error"] == "forbidden"
    assert api.post("/api/activity", body, claims=None).status == 401
    no_workspace = {"cognito:groups": "admin", "sub": "x"}
    assert api.post("/api/activity", body, claims=no_workspace).status == 401


def test_an_old_event_within_retention_is_accepted(api: Api) -> None:
    old = {**invocation("old"), "createdAt": iso(NOW - timedelta(days=390))}
    assert api.post("/api/activity", {"events": [old]}).json["accepted"] == 1
