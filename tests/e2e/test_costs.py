"""What the API reports equals the cost of the events that went in, computed here from the published list
prices: for a fresh workspace fed known events, and for every month of the demo workspace."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.support import (
    PRICES,
    RunningStack,
    event_cost,
    fresh_workspace,
    http,
    money,
    now_in_month,
    past_the_batching_window,
    shown,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

SUMMARY = "/api/cost-analysis/summary"
REFERENCE_FIELDS = {"tokenCost", "totalSpend", "budget", "agentCount", "providerCount"}

AGENT = {
    "name": "Probe",
    "status": "online",
    "category": "qa",
    "department": "Quality",
    "role_title": "Tester",
    "model_provider": "openai",
    "model_name": "gpt-5.4-mini",
    "human_equivalent_salary": 60000,
    "estimated_hours_saved": 10,
    "cost_budget_monthly": 5,
}
# Tokens chosen so that the cache-write rule (no listed price: the input price) and half-up rounding
# (0.125 -> 0.13, where round-half-even would say 0.12) both show in the displayed figures.
INVOCATIONS = [
    {
        "model": "claude-sonnet-4-6",
        "inputTokens": 123_456,
        "outputTokens": 7_890,
        "cacheReadTokens": 50_000,
        "cacheWriteTokens": 10_000,
        "durationMs": 2_100,
    },
    {
        "model": "gpt-5.4-mini",
        "inputTokens": 1_000_000,
        "outputTokens": 200_000,
        "cacheReadTokens": 400_000,
        "cacheWriteTokens": 100_000,
        "durationMs": 5_400,
    },
    {"model": "gemini-2.5-flash", "inputTokens": 250_000, "outputTokens": 20_000, "durationMs": 900},
]


def _summary(stack: RunningStack, token: str, month: str | None = None) -> dict[str, object]:
    reply = stack.get(SUMMARY + (f"?month={month}" if month else ""), token)
    assert reply.status == 200, reply.body
    body: dict[str, object] = reply.body
    return body


def test_a_fresh_workspace_reports_exactly_the_cost_of_its_events(stack: RunningStack) -> None:
    # Given an admin of a new workspace, signed in through the emulated Cognito API
    token = stack.new_user(fresh_workspace(), "admin")
    before = _summary(stack, token)
    assert before.keys() >= REFERENCE_FIELDS
    assert before["totalSpend"] == 0

    # When an agent is registered and its events of this month are posted
    assert http("PUT", stack.api + "/api/agents/probe", token=token, body=AGENT).status == 200
    at = now_in_month()
    events = [
        {"id": f"inv-{i}", "agentId": "probe", "eventType": "model_invocation", "createdAt": at, "details": d}
        for i, d in enumerate(INVOCATIONS)
    ]
    events += [
        {
            "id": "task-1",
            "agentId": "probe",
            "eventType": "task_completed",
            "createdAt": at,
            "details": {"taskType": "classification"},
        },
        {
            "id": "tool-1",
            "agentId": "probe",
            "eventType": "tool_call",
            "createdAt": at,
            "details": {"tool": "search", "success": True, "durationMs": 120},
        },
    ]
    posted = http("POST", stack.api + "/api/activity", token=token, body={"events": events})
    assert posted.status == 200
    assert (posted.body["accepted"], posted.body["rejectedCount"]) == (len(events), 0)

    # Then the summary shows, within seconds, exactly their cost: total, by model and by provider
    expected_total = sum((event_cost(d) for d in INVOCATIONS), Decimal(0))
    after = wait_for(lambda: (s := _summary(stack, token))["totalSpend"] != 0 and s, timeout=10)
    assert after, "the rollups did not follow the ingestion within 10 s"
    assert shown(after["totalSpend"]) == money(expected_total) == Decimal("2.42")
    assert shown(after["tokenCost"]["total"]) == money(expected_total)
    by_model = {row["model"]: shown(row["cost"]) for row in after["tokenCost"]["byModel"]}
    assert by_model == {d["model"]: money(event_cost(d)) for d in INVOCATIONS}
    assert by_model["gemini-2.5-flash"] == Decimal("0.13")
    assert by_model["gpt-5.4-mini"] == Decimal("1.76")
    by_provider = {row["provider"]: shown(row["cost"]) for row in after["tokenCost"]["byProvider"]}
    assert by_provider == {PRICES[d["model"]][0]: money(event_cost(d)) for d in INVOCATIONS}
    assert after["providerCount"] == 3
    assert after["agentCount"] == 1
    assert shown(after["budget"]["total"]) == Decimal(5)

    # And sending the same events again changes nothing: they are duplicates
    again = http("POST", stack.api + "/api/activity", token=token, body={"events": events})
    assert (again.body["accepted"], again.body["duplicates"]) == (0, len(events))
    past_the_batching_window()  # a wrongly stored copy would be rolled up by now
    assert shown(_summary(stack, token)["totalSpend"]) == money(expected_total)


def test_demo_summary_equals_the_cost_of_the_demo_events(stack: RunningStack) -> None:
    # Given the events the demo posted through the API (recorded by the local stack)
    events = [json.loads(line) for line in Path(stack.outputs["Demo"]["eventsFile"]).read_text().splitlines()]
    assert len(events) == stack.outputs["Demo"]["events"] >= 2000
    by_month: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for event in events:
        if event["eventType"] == "model_invocation":
            by_month[event["createdAt"][:7]][event["details"]["model"]] += event_cost(event["details"])
    assert len(by_month) >= 4

    # Then every month's summary shows their cost, in total and per model, to the cent
    token = stack.sign_in("demo@example.com", stack.demo_password("demo@example.com"))
    for month, models in sorted(by_month.items()):
        summary = _summary(stack, token, month)
        assert shown(summary["totalSpend"]) == money(sum(models.values(), Decimal(0))), month
        reported = {row["model"]: shown(row["cost"]) for row in summary["tokenCost"]["byModel"]}
        assert reported == {model: money(cost) for model, cost in models.items()}, month
