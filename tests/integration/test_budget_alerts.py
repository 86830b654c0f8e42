"""Scheduled budget alerts through SNS to SQS subscriptions filtered per workspace: the right notices reach
the right workspace, once, a failed publish is sent on the next run, and nobody sees another's alerts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from costmetrics import aws
from local_stack.apigw import LambdaContext
from tests.clock import INSTANT
from tests.datasets import agent_body, iso
from tests.harness import Api, Stream, handler_of

NOW = INSTANT
# A minute ago, or the month's first second when the month is younger than that: this month's spend.
SPENT_AT = max(NOW - timedelta(minutes=1), NOW.replace(day=1, hour=0, minute=0, second=0, microsecond=0))


def forecast_due(actual: float, budget: float) -> bool:
    """The month-end run rate above the budget, once three days of the month have passed."""
    start = NOW.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    elapsed = (NOW - start) / (end - start)
    return actual / elapsed > budget and NOW - start >= timedelta(days=3)


GLOBEX_KINDS = sorted(["threshold_80"] + (["forecast"] if forecast_due(9, 10) else []))


def subscribe(stack: Any, workspace: str) -> str:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"alerts-{workspace}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", region_name="us-east-1").subscribe(
        TopicArn=stack.outputs["BudgetAlertTopicArn"],
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps({"workspace_id": [workspace]}), "RawMessageDelivery": "true"},
    )
    return url


def received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        for message in batch:
            messages.append(
                {"body": json.loads(message["Body"]), "attributes": message.get("MessageAttributes", {})}
            )
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def spend(api: Api, agent: str, dollars: int, prefix: str) -> None:
    """gpt-5.4 output at $15 per million tokens: 1,000,000/15 tokens is one dollar."""
    events = [
        {
            "id": f"{prefix}-{n}",
            "agentId": agent,
            "eventType": "model_invocation",
            "createdAt": iso(SPENT_AT),
            "details": {"model": "gpt-5.4", "inputTokens": 0, "outputTokens": 1_000_000 // 15 * 1},
        }
        for n in range(dollars)
    ]
    for start in range(0, len(events), 100):
        assert api.post("/api/activity", {"events": events[start : start + 100]}).json["accepted"] == len(
            events[start : start + 100]
        )


def run_alerts() -> dict[str, Any]:
    event = json.loads(Path("events/budget-alerts-schedule.json").read_text())
    result: dict[str, Any] = handler_of("functions.budget_alerts.app")(
        event, LambdaContext.named("BudgetAlertFunction")
    )
    return result


@pytest.fixture
def fleet(stack: Any) -> dict[str, Any]:
    acme, globex = Api("ws-acme"), Api("ws-globex")
    for api in (acme, globex):
        api.put("/api/agents/atlas", agent_body("Atlas", cost_budget_monthly=10, model_name="gpt-5.4"))
        api.put("/api/agents/nova", agent_body("Nova", cost_budget_monthly=1000))
        api.put("/api/agents/free", agent_body("Free", cost_budget_monthly=0))
    spend(acme, "atlas", 12, "a")  # acme's Atlas: $12 of $10
    spend(acme, "nova", 5, "n")  # 0.5% of Nova's budget
    spend(acme, "free", 50, "f")  # no budget: never alerted
    spend(globex, "atlas", 9, "g")  # globex's Atlas: $9 of $10, past 80% only
    Stream(stack).drain()
    return {
        "acme": acme,
        "globex": globex,
        "acme_queue": subscribe(stack, "ws-acme"),
        "globex_queue": subscribe(stack, "ws-globex"),
    }


def test_each_workspace_receives_its_own_notices_once(fleet: dict[str, Any]) -> None:
    outcome = run_alerts()
    assert outcome["sent"] == 3 + len(GLOBEX_KINDS)
    acme = received(fleet["acme_queue"])
    globex = received(fleet["globex_queue"])
    assert sorted(m["body"]["kind"] for m in acme) == ["forecast", "threshold_100", "threshold_80"]
    assert {m["body"]["workspaceId"] for m in acme} == {"ws-acme"}
    assert {m["attributes"]["workspace_id"]["StringValue"] for m in acme} == {"ws-acme"}
    assert sorted(m["body"]["kind"] for m in globex) == GLOBEX_KINDS
    only = next(m for m in globex if m["body"]["kind"] == "threshold_80")
    assert only["body"] == only["body"] | {
        "workspaceId": "ws-globex",
        "agentId": "atlas",
        "agentName": "Atlas",
        "kind": "threshold_80",
        "month": NOW.strftime("%Y-%m"),
        "actualCost": 9.0,
        "budget": 10.0,
        "utilization": 0.9,
    }
    assert {"projectedCost", "notificationId"} <= set(only["body"])
    over = next(m["body"] for m in acme if m["body"]["kind"] == "threshold_100")
    assert (over["actualCost"], over["budget"], over["utilization"]) == (12.0, 10.0, 1.2)
    # A second run sends nothing new.
    assert run_alerts()["sent"] == 0
    assert received(fleet["acme_queue"]) == []
    assert received(fleet["globex_queue"]) == []


def test_a_failed_publish_is_sent_on_the_next_run_and_never_twice(
    fleet: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = aws.sns()
    calls = {"n": 0}

    class FlakySNS:
        def publish(self, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 2:
                raise ConnectionError("injected: SNS unreachable")
            return real.publish(**kwargs)

    monkeypatch.setattr(aws, "sns", lambda: FlakySNS())
    with pytest.raises(Exception, match="retried next run"):
        run_alerts()
    first = received(fleet["acme_queue"]) + received(fleet["globex_queue"])
    assert len(first) == 2 + len(GLOBEX_KINDS)
    monkeypatch.setattr(aws, "sns", lambda: real)
    assert run_alerts()["sent"] == 1
    second = received(fleet["acme_queue"]) + received(fleet["globex_queue"])
    assert len(second) == 1
    kinds = sorted((m["body"]["workspaceId"], m["body"]["kind"]) for m in first + second)
    assert kinds == [("ws-acme", "forecast"), ("ws-acme", "threshold_100"), ("ws-acme", "threshold_80")] + [
        ("ws-globex", kind) for kind in GLOBEX_KINDS
    ]


def test_the_budget_alerts_list_agrees_with_the_100_percent_notices(fleet: dict[str, Any]) -> None:
    run_alerts()
    for workspace in ("acme", "globex"):
        listed = {
            a["agentId"] for a in fleet[workspace].get("/api/cost-analysis/budget-alerts").json["alerts"]
        }
        notified = {
            m["body"]["agentId"]
            for m in received(fleet[f"{workspace}_queue"])
            if m["body"]["kind"] == "threshold_100"
        }
        assert listed == notified


def test_a_workspace_sets_its_own_thresholds(fleet: dict[str, Any]) -> None:
    globex = fleet["globex"]
    assert globex.get("/api/cost-analysis/budget-alerts/settings").json == {
        "thresholds": [80, 100],
        "forecast": True,
    }
    reply = globex.put(
        "/api/cost-analysis/budget-alerts/settings", {"thresholds": [50, 95], "forecast": False}
    )
    assert reply.status == 200
    for bad in (
        {"thresholds": []},
        {"thresholds": [0]},
        {"thresholds": ["80"]},
        {"forecast": "yes"},
        {"x": 1},
    ):
        assert globex.put("/api/cost-analysis/budget-alerts/settings", bad).status == 400, bad
    assert (
        globex.as_("ws-globex", "viewer").put("/api/cost-analysis/budget-alerts/settings", {}).status == 403
    )
    run_alerts()
    kinds = sorted(m["body"]["kind"] for m in received(fleet["globex_queue"]))
    assert kinds == ["threshold_50"]


def test_a_notice_sent_but_not_recorded_counts_as_sent_and_unrecorded_not_failed(
    stack: Any, fleet: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from costmetrics import alerts
    from costmetrics.repositories import rollups as rollups_repo

    real = rollups_repo.record_notice
    calls = {"n": 0}

    def flaky_record(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("injected: DynamoDB unreachable")
        real(*args, **kwargs)

    monkeypatch.setattr(rollups_repo, "record_notice", flaky_record)
    outcome = alerts.run(NOW, alerts.publish_to_sns(stack.outputs["BudgetAlertTopicArn"]))
    assert (outcome.sent, outcome.unrecorded, outcome.failed) == (3 + len(GLOBEX_KINDS), 1, 0)
    calls["n"] = 0  # the next run re-sends the unrecorded notice, whose record fails again
    with pytest.raises(
        Exception, match=r"0 notice\(s\) or workspace\(s\) failed and 1 notice\(s\) were sent"
    ):
        run_alerts()
    monkeypatch.setattr(rollups_repo, "record_notice", real)
    assert run_alerts()["sent"] == 1  # at least once: sent again, now recorded
    assert run_alerts()["sent"] == 0
    assert len(received(fleet["acme_queue"]) + received(fleet["globex_queue"])) == 3 + len(GLOBEX_KINDS) + 2
