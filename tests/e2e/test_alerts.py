"""The budget-alert schedule runs locally: an agent that goes over its budget gets a notice on the alert
topic, with the workspace_id message attribute that subscriptions filter on."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.datasets import agent_body
from tests.e2e.support import ROOT, RunningStack, fresh_workspace, http, now_in_month

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]


def _subscribe(stack: RunningStack, workspace: str) -> str:
    sqs, sns = stack.client("sqs"), stack.client("sns")
    queue_url: str = sqs.create_queue(QueueName=f"alerts-{workspace}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=stack.outputs["BudgetAlertTopicArn"],
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"FilterPolicy": json.dumps({"workspace_id": [workspace]})},
    )
    return queue_url


def _notices(stack: RunningStack, queue_url: str, timeout: float) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if reply.get("Messages"):
            return [json.loads(message["Body"]) for message in reply["Messages"]]
    return []


def test_an_agent_over_budget_gets_a_budget_alert(stack: RunningStack) -> None:
    if not (ROOT / "functions" / "budget_alerts" / "app.py").exists():
        pytest.skip("the budget-alert function is not written yet")
    # Given a subscription to the alerts of a new workspace, whose agent has a $1 budget
    workspace = fresh_workspace()
    queue_url = _subscribe(stack, workspace)
    token = stack.new_user(workspace, "admin")
    agent = agent_body(
        "Spender",
        status="online",
        model_provider="anthropic",
        model_name="claude-opus-4-7",
        cost_budget_monthly=1,
    )
    assert http("PUT", stack.api + "/api/agents/spender", token=token, body=agent).status == 200

    # When the agent spends $5 this month
    details = {"model": "claude-opus-4-7", "inputTokens": 500_000, "outputTokens": 100_000}
    event = {
        "id": "big-1",
        "agentId": "spender",
        "eventType": "model_invocation",
        "createdAt": now_in_month(),
        "details": details,
    }
    assert (
        http("POST", stack.api + "/api/activity", token=token, body={"events": [event]}).body["accepted"] == 1
    )

    # Then the schedule (every 2 s in the e2e stack) publishes a notice for this workspace
    notices = _notices(stack, queue_url, timeout=30)
    assert notices, "no budget alert within 30 s"
    attributes = notices[0]["MessageAttributes"]
    assert attributes["workspace_id"]["Value"] == workspace
    assert "spender" in notices[0]["Message"]
