"""Helpers to read rollups straight from the table and compare them with the truth from raw events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3

from tests.harness import Api
from tests.truth import Truth


def register_agents(api: Api, agents: list[dict[str, Any]]) -> None:
    for agent in agents:
        body = {k: v for k, v in agent.items() if k != "id"}
        reply = api.put(f"/api/agents/{agent['id']}", body)
        assert reply.status == 200, reply.text


def ingest(api: Api, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 100):
        reply = api.post("/api/activity", {"events": events[start : start + 100]})
        assert reply.status == 200, reply.text
        assert reply.json["rejectedCount"] == 0, reply.json["rejected"][:3]


def rollup_items(table_name: str, workspace_id: str) -> dict[str, dict[str, Any]]:
    """Every rollup item of a workspace by sort key (a test may Query; the service never Scans)."""
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(table_name)
    items: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :ws",
        "ExpressionAttributeValues": {":ws": workspace_id},
    }
    while True:
        page = table.query(**kwargs)
        items.update({item["sk"]: item for item in page["Items"]})
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def pico(value: Decimal) -> int:
    scaled = value.scaleb(12)
    assert scaled == scaled.to_integral_value(), f"{value} is not a whole number of pico-dollars"
    return int(scaled)


def assert_rollups_equal_truth(items: dict[str, dict[str, Any]], truth: Truth) -> None:
    """Every agent-model, agent and workspace counter equals the figure computed from the raw events."""
    expected_models = {f"M#{m}#A#{a}#M#{model}": u for (m, a, model), u in truth.by_agent_model.items()}
    actual_models = {sk: item for sk, item in items.items() if item.get("kind") == "agent_model"}
    assert set(actual_models) == set(expected_models)
    for sk, usage in expected_models.items():
        item = actual_models[sk]
        assert int(item["invocations"]) == usage.invocations, sk
        assert int(item["inputTokens"]) == usage.input_tokens, sk
        assert int(item["outputTokens"]) == usage.output_tokens, sk
        assert int(item["cacheReadTokens"]) == usage.cache_read_tokens, sk
        assert int(item["cacheWriteTokens"]) == usage.cache_write_tokens, sk
        assert int(item.get("inputCostPico", 0)) == pico(usage.input_cost), sk
        assert int(item.get("outputCostPico", 0)) == pico(usage.output_cost), sk
        assert int(item.get("unpricedTokens", 0)) == usage.unpriced_tokens, sk
        assert int(item.get("durationUsTotal", 0)) == int(usage.duration_total * 1000), sk
        assert int(item.get("durationCount", 0)) == usage.duration_count, sk

    per_agent: dict[tuple[str, str], dict[str, int]] = {}
    for (month, agent, event_type), count in truth.events_by_agent.items():
        per_agent.setdefault((month, agent), {})[event_type] = count
    agents = {sk: item for sk, item in items.items() if item.get("kind") == "agent"}
    assert set(agents) == {f"M#{m}#A#{a}" for m, a in per_agent}
    for (month, agent), counts in per_agent.items():
        item = agents[f"M#{month}#A#{agent}"]
        assert int(item["events"]) == sum(counts.values())
        for event_type, count in counts.items():
            assert int(item[f"evt_{event_type}"]) == count, (month, agent, event_type)
        assert int(item.get("tasks", 0)) == counts.get("task_completed", 0)
        assert int(item.get("errors", 0)) == counts.get("error", 0)
        agent_cost = truth.agent_cost(month, agent)
        stored = int(item.get("inputCostPico", 0)) + int(item.get("outputCostPico", 0))
        assert stored == pico(agent_cost), (month, agent)

    workspaces = {sk: item for sk, item in items.items() if item.get("kind") == "workspace"}
    assert set(workspaces) == {f"W#{m}" for m in truth.active_agents}
    for month, active in truth.active_agents.items():
        item = workspaces[f"W#{month}"]
        assert set(item["activeAgents"]) == active
        total = int(item.get("inputCostPico", 0)) + int(item.get("outputCostPico", 0))
        assert total == pico(truth.month_cost(month)), month
        events = sum(c for (m, _, _), c in truth.events_by_agent.items() if m == month)
        assert int(item["events"]) == events, month
