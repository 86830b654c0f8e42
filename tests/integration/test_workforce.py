"""Workforce ROI against an independent computation, on 13 months of events crossing a year boundary:
departments of several agents, paused and draft agents, and an agent that completes no tasks."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from tests import truth
from tests.clock import INSTANT
from tests.datasets import AGENTS, make_events, months_back
from tests.harness import Api, Stream
from tests.integration.rollup_support import ingest, register_agents

NOW = INSTANT
THIS_MONTH = NOW.strftime("%Y-%m")
# "sage" completes no tasks at all in this dataset.
NO_TASKS = "sage"


def month_list(count: int) -> list[str]:
    return [months_back(NOW, back).strftime("%Y-%m") for back in range(count - 1, -1, -1)]


@pytest.fixture(scope="module")
def dataset() -> list[dict[str, Any]]:
    # 399 days: within the retention period, and always across a year boundary.
    events = make_events(2600, start=NOW - timedelta(days=399), end=NOW - timedelta(minutes=1), seed=23)
    # Leave one month out entirely: trends must still show it, with zeros.
    quiet = months_back(NOW, 4).strftime("%Y-%m")
    kept = [e for e in events if not e["createdAt"].startswith(quiet)]
    for event in kept:
        if event["agentId"] == NO_TASKS and event["eventType"] == "task_completed":
            event["eventType"] = "cron_execution"
    return kept


@pytest.fixture(scope="module")
def loaded(shared_stack: Any, dataset: list[dict[str, Any]]) -> tuple[Api, truth.Truth]:
    api = Api("ws-acme")
    register_agents(api, AGENTS)
    ingest(api, dataset)
    Stream(shared_stack).drain()
    return api, truth.compute(dataset)


def d(value: Any) -> Decimal:
    return Decimal(str(value))


def q(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def expected_roi(expected: truth.Truth, month: str, agent: dict[str, Any]) -> dict[str, Any]:
    usage = expected.agent_usage(month, agent["id"])
    cost = usage.cost
    tasks = expected.count(month, agent["id"], "task_completed")
    # A draft replaces no one (docs/metrics.md).
    human = Decimal(0) if agent["status"] == "draft" else Decimal(agent["human_equivalent_salary"]) / 12
    savings = human - cost
    return {
        "actual_cost_monthly": q(cost, "0.01"),
        "tasks_completed": tasks,
        "invocation_count": usage.invocations,
        "error_count": expected.count(month, agent["id"], "error"),
        "avg_response_ms": int(q(usage.duration_total / usage.duration_count, "1"))
        if usage.duration_count
        else 0,
        "monthly_human_equivalent": q(human, "0.01"),
        "monthly_savings": q(savings, "0.01"),
        "roi_percent": q(savings / cost * 100, "0.1") if cost else Decimal(0),
        "cost_per_task": q(cost / tasks, "0.001") if tasks else Decimal(0),
    }


def test_the_dataset_crosses_a_year_boundary(dataset: list[dict[str, Any]]) -> None:
    years = {e["createdAt"][:4] for e in dataset}
    assert len(years) == 2


@pytest.mark.parametrize("back", [0, 3, 11])
def test_agents_figures_equal_the_independent_computation(loaded: tuple[Api, truth.Truth], back: int) -> None:
    api, expected = loaded
    month = months_back(NOW, back).strftime("%Y-%m")
    body = api.get("/api/agents/workforce/agents", query={"month": month}).json
    assert isinstance(body, list), "a bare JSON array, as in the reference"
    rows = {r["id"]: r for r in body}
    registered = [a for a in AGENTS if month == THIS_MONTH or a["id"] in expected.active_agents[month]]
    assert set(rows) == {a["id"] for a in registered}
    for agent in registered:
        row = rows[agent["id"]]
        for name, value in expected_roi(expected, month, agent).items():
            assert d(row[name]) == value, (agent["id"], name, row[name], value)
        for name in (
            "name",
            "status",
            "category",
            "department",
            "role_title",
            "model_provider",
            "model_name",
        ):
            assert row[name] == agent[name]
        assert d(row["human_equivalent_salary"]) == Decimal(agent["human_equivalent_salary"])
        assert d(row["cost_budget_monthly"]) == Decimal(agent["cost_budget_monthly"])
    if month == THIS_MONTH:
        assert rows["draft-bot"]["roi_percent"] == 0
        assert rows["draft-bot"]["cost_per_task"] == 0
    assert rows[NO_TASKS]["cost_per_task"] == 0
    assert rows[NO_TASKS]["tasks_completed"] == 0


def test_summary_figures_equal_the_independent_computation(loaded: tuple[Api, truth.Truth]) -> None:
    api, expected = loaded
    body = api.get("/api/agents/workforce/summary").json
    rows = [expected_roi(expected, THIS_MONTH, a) for a in AGENTS]
    cost = sum((expected.agent_usage(THIS_MONTH, a["id"]).cost for a in AGENTS), Decimal(0))
    replacing = [a for a in AGENTS if a["status"] != "draft"]
    salary = sum(Decimal(a["human_equivalent_salary"]) for a in replacing)
    assert body["total_agents"] == len(AGENTS)
    statuses = [a["status"] for a in AGENTS]
    assert body["active_agents"] == statuses.count("online") + statuses.count("offline")
    assert (body["paused_agents"], body["draft_agents"]) == (1, 1)
    assert d(body["total_human_salary"]) == salary
    assert d(body["total_agent_cost_monthly"]) == q(cost, "0.01")
    assert d(body["total_budget_monthly"]) == sum(Decimal(a["cost_budget_monthly"]) for a in AGENTS)
    assert d(body["total_hours_saved_monthly"]) == sum(Decimal(a["estimated_hours_saved"]) for a in replacing)
    assert body["total_tasks_completed"] == sum(r["tasks_completed"] for r in rows)
    assert body["total_invocations"] == sum(r["invocation_count"] for r in rows)
    assert body["total_errors"] == sum(r["error_count"] for r in rows)
    assert d(body["monthly_human_equivalent"]) == q(salary / 12, "0.01")
    assert d(body["monthly_savings"]) == q(salary / 12 - cost, "0.01")
    assert d(body["roi_percent"]) == (q((salary / 12 - cost) / cost * 100, "0.1") if cost else 0)
    departments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for agent in AGENTS:
        departments[agent["department"]].append(agent)
    got = {dep["department"]: dep for dep in body["departments"]}
    assert set(got) == set(departments)
    for name, members in departments.items():
        human = sum(Decimal(a["human_equivalent_salary"]) for a in members if a["status"] != "draft") / 12
        dep_cost = sum((expected.agent_usage(THIS_MONTH, a["id"]).cost for a in members), Decimal(0))
        assert got[name]["agent_count"] == len(members)
        assert d(got[name]["monthly_savings"]) == q(human - dep_cost, "0.01")
    assert got["Operations"]["agent_count"] == 3


def test_trends_cover_every_month_oldest_first_with_zeros_for_a_quiet_month(
    loaded: tuple[Api, truth.Truth],
) -> None:
    api, expected = loaded
    body = api.get("/api/agents/workforce/trends", query={"months": "13"}).json
    assert body["months"] == 13
    assert [row["period"] for row in body["trends"]] == month_list(13)
    quiet = months_back(NOW, 4).strftime("%Y-%m")
    for row in body["trends"]:
        month = row["period"]
        usages = [u for (m, _, _), u in expected.by_agent_model.items() if m == month]
        durations = sum((u.duration_total for u in usages), Decimal(0))
        count = sum(u.duration_count for u in usages)
        assert d(row["total_cost"]) == truth.money(expected.month_cost(month)), month
        assert row["invocations"] == sum(u.invocations for u in usages)
        assert row["total_tokens"] == sum(
            u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens for u in usages
        )
        assert row["tasks_completed"] == sum(
            c for (m, _, t), c in expected.events_by_agent.items() if m == month and t == "task_completed"
        )
        assert row["errors"] == sum(
            c for (m, _, t), c in expected.events_by_agent.items() if m == month and t == "error"
        )
        assert row["avg_response_ms"] == (int(q(durations / count, "1")) if count else 0)
        # active_agents: agents of the month's registry that are online or offline; the agents were
        # registered this month, so a past month's registry holds those with activity then.
        active = expected.active_agents.get(month, set())
        in_registry = [a for a in AGENTS if month == THIS_MONTH or a["id"] in active]
        assert row["active_agents"] == sum(1 for a in in_registry if a["status"] in ("online", "offline"))
        assert row["agents_with_activity"] == len(active)
        if month == quiet:
            assert row == {
                **row,
                "tasks_completed": 0,
                "invocations": 0,
                "total_cost": 0,
                "active_agents": 0,
                "agents_with_activity": 0,
            }
    assert body["trends"][-1]["period"] == THIS_MONTH
    default = api.get("/api/agents/workforce/trends").json
    assert default["months"] == 6
    assert default["trends"] == body["trends"][-6:]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("0", "greater than or equal to 1"),
        ("25", "less than or equal to 24"),
        ("six", "valid integer"),
        ("2.5", "valid integer"),
    ],
)
def test_months_out_of_range_or_not_an_integer_is_a_400_naming_the_bound(
    loaded: tuple[Api, truth.Truth], value: str, needle: str
) -> None:
    api, _ = loaded
    reply = api.get("/api/agents/workforce/trends", query={"months": value})
    assert reply.status == 400
    assert reply.json["details"][0]["field"] == "months"
    assert needle in reply.json["details"][0]["problem"]


def test_a_salary_change_affects_this_month_on_not_the_past(loaded: tuple[Api, truth.Truth]) -> None:
    api, _ = loaded
    past = months_back(NOW, 2).strftime("%Y-%m")
    before = {r["id"]: r for r in api.get("/api/agents/workforce/agents", query={"month": past}).json}
    nova = next(a for a in AGENTS if a["id"] == "nova")
    changed = {k: v for k, v in nova.items() if k != "id"} | {
        "human_equivalent_salary": 120000,
        "cost_budget_monthly": 250,
    }
    assert api.put("/api/agents/nova", changed).status == 200
    try:
        now_row = next(r for r in api.get("/api/agents/workforce/agents").json if r["id"] == "nova")
        past_row = next(
            r
            for r in api.get("/api/agents/workforce/agents", query={"month": past}).json
            if r["id"] == "nova"
        )
        assert now_row["monthly_human_equivalent"] == 10000
        assert now_row["cost_budget_monthly"] == 250
        assert past_row == before["nova"]
        budget_then = api.get("/api/cost-analysis/agents", query={"month": past}).json["agents"]
        assert next(a for a in budget_then if a["id"] == "nova")["budget"] == 100
    finally:
        api.put("/api/agents/nova", {k: v for k, v in nova.items() if k != "id"})


def test_another_workspace_sees_an_empty_fleet(loaded: tuple[Api, truth.Truth]) -> None:
    other = Api("ws-other")
    assert other.get("/api/agents/workforce/agents").json == []
    summary = other.get("/api/agents/workforce/summary").json
    assert (summary["total_agents"], summary["total_agent_cost_monthly"], summary["departments"]) == (
        0,
        0,
        [],
    )
    trends = other.get("/api/agents/workforce/trends", query={"months": "3"}).json["trends"]
    assert all(row["total_cost"] == 0 and row["active_agents"] == 0 for row in trends)
