"""Every rule of docs/metrics.md for the workforce endpoints, against figures computed here from the events
and the registry's timeline, at the instants where a month-to-date figure breaks if it breaks: 00:30 and
00:00:30 on the 1st, day 2 (a month too young to project), one second before and exactly at three days,
mid-month, 30 seconds before the end of the last day, New Year and a leap day; on a clock standing still.

The workspace's story, the same at each instant:
- last month (registered on its 2nd): Nova and Atlas online (Support, Research), Ledger online (Finance),
  Echo a draft (Support), Pulse offline (Marketing) and Ghost online (Ops);
- this month, a third of the way to now: Ledger is paused, and Late is registered (online, Support);
- events of both months: Ledger keeps working while paused, the draft Echo has events, Pulse has none;
- now: Ghost's registry item is deleted straight from the table (there is no DELETE route), its costs stay.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import boto3
import pytest
import time_machine

from tests.clock import EDGES, parse
from tests.harness import Api, Stream
from tests.integration.test_calendar_edges import month_of, month_start, shift, stamp

WORKSPACE = "ws-metrics"
TOKENS_PER_DOLLAR = 400_000  # gpt-5.4's input price is $2.50 per million tokens
THREE_DAYS = timedelta(days=3)

INSTANTS = {
    **EDGES,
    "first-00:30": parse("2026-12-01T00:30:00Z"),
    "day-2": parse("2026-12-02T10:00:00Z"),
    "a-second-before-3-days": parse("2026-12-03T23:59:59Z"),
    "exactly-3-days": parse("2026-12-04T00:00:00Z"),
}


def agent(status: str, department: str, salary: int, hours: int, budget: int) -> dict[str, Any]:
    return {
        "status": status,
        "category": None,
        "department": department,
        "role_title": None,
        "model_provider": "openai",
        "model_name": "gpt-5.4",
        "human_equivalent_salary": salary,
        "estimated_hours_saved": hours,
        "cost_budget_monthly": budget,
    }


# Registered on the 2nd of last month.
FIRST = {
    "nova": agent("online", "Support", 60_000, 100, 50),
    "atlas": agent("online", "Research", 96_000, 80, 100),
    "ledger": agent("online", "Finance", 72_000, 40, 15),
    "echo": agent("draft", "Support", 50_000, 10, 5),
    "pulse": agent("offline", "Marketing", 48_000, 30, 0),
    "ghost": agent("online", "Ops", 30_000, 20, 10),
}
# Changed this month.
PAUSED = {**FIRST["ledger"], "status": "paused"}
LATE = agent("online", "Support", 36_000, 25, 20)
# (dollars, tasks) per agent: this month, last month.
THIS_MONTH = {
    "nova": (12, 3),
    "atlas": (30, 5),
    "ledger": (3, 1),
    "echo": (2, 0),
    "late": (5, 2),
    "ghost": (4, 1),
}
LAST_MONTH = {"nova": (20, 4), "atlas": (25, 6), "ledger": (9, 2), "echo": (1, 0), "ghost": (6, 1)}


def q(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def events_of(
    agent_id: str, dollars: int, tasks: int, start: datetime, end: datetime, prefix: str
) -> list[dict[str, Any]]:
    """`dollars` one-dollar invocations and `tasks` tasks, evenly over [start, end)."""
    count = dollars + tasks
    step = (end - start) / max(count, 1)
    events = []
    for n in range(count):
        invocation = n < dollars
        events.append(
            {
                "id": f"{prefix}-{agent_id}-{n}",
                "agentId": agent_id,
                "eventType": "model_invocation" if invocation else "task_completed",
                "createdAt": stamp(start + step * n),
                "details": (
                    {"model": "gpt-5.4", "inputTokens": TOKENS_PER_DOLLAR, "outputTokens": 0}
                    if invocation
                    else {"taskType": "research"}
                ),
            }
        )
    return events


@dataclass
class Expected:
    """The figures of one month, computed here from the story (never from the service's code)."""

    month: str
    now: datetime
    registry: dict[str, dict[str, Any]]  # agent -> its registration as of the month
    spend: dict[str, tuple[int, int]]  # agent -> (dollars, tasks) in the month

    @property
    def fraction(self) -> Decimal:
        start = datetime.fromisoformat(self.month + "-01T00:00:00+00:00")
        seconds = calendar.monthrange(start.year, start.month)[1] * 86_400
        elapsed = int((self.now - start).total_seconds())
        return Decimal(min(max(elapsed, 0), seconds)) / Decimal(seconds)

    @property
    def status(self) -> str:
        start = datetime.fromisoformat(self.month + "-01T00:00:00+00:00")
        if self.fraction == 1:
            return "month_complete"
        if self.fraction == 0:
            return "month_not_started"
        return "run_rate" if self.now - start >= THREE_DAYS else "too_early"

    def projected(self, cost: Decimal) -> Decimal | None:
        return {"month_complete": cost, "run_rate": cost / self.fraction if self.fraction else None}.get(
            self.status
        )

    def cost(self, agent_id: str) -> Decimal:
        return Decimal(self.spend.get(agent_id, (0, 0))[0])

    def events(self, agent_id: str) -> int:
        return sum(self.spend.get(agent_id, (0, 0)))

    def human(self, agent_id: str) -> Decimal:
        body = self.registry[agent_id]
        return Decimal(0) if body["status"] == "draft" else Decimal(body["human_equivalent_salary"]) / 12


@dataclass
class Story:
    api: Api
    now: datetime
    this: Expected
    last: Expected


def roi(savings: Decimal, cost: Decimal) -> Decimal:
    return q(savings / cost * 100, "0.1") if cost else Decimal(0)


def put(api: Api, agent_id: str, body: dict[str, Any]) -> None:
    reply = api.put(f"/api/agents/{agent_id}", {"name": agent_id.title(), **body})
    assert reply.status == 200, reply.text


@pytest.fixture(params=sorted(INSTANTS), ids=sorted(INSTANTS))
def story(request: pytest.FixtureRequest, stack: Any) -> Iterator[Story]:
    now = INSTANTS[request.param]
    start, previous = month_start(now), shift(now, -1)
    api = Api(WORKSPACE)
    with time_machine.travel(previous + timedelta(days=1), tick=False):
        for agent_id, body in FIRST.items():
            put(api, agent_id, body)
    with time_machine.travel(start + (now - start) / 3, tick=False):
        put(api, "ledger", PAUSED)
        put(api, "late", LATE)
    with time_machine.travel(now, tick=False):
        events = [
            e
            for agent_id, (dollars, tasks) in THIS_MONTH.items()
            for e in events_of(agent_id, dollars, tasks, start, now, "this")
        ] + [
            e
            for agent_id, (dollars, tasks) in LAST_MONTH.items()
            for e in events_of(agent_id, dollars, tasks, previous, start, "last")
        ]
        for offset in range(0, len(events), 100):
            reply = api.post("/api/activity", {"events": events[offset : offset + 100]})
            assert reply.json["rejectedCount"] == 0, reply.json["rejected"][:3]
        Stream(stack).drain()
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(stack.outputs["AgentsTableName"])
        table.delete_item(Key={"pk": WORKSPACE, "sk": "A#ghost"})
        this_registry = {**{k: v for k, v in FIRST.items() if k != "ghost"}, "ledger": PAUSED, "late": LATE}
        last_registry = {k: v for k, v in FIRST.items() if k != "ghost"}
        yield Story(
            api,
            now,
            Expected(month_of(now), now, this_registry, THIS_MONTH),
            Expected(month_of(previous), now, last_registry, LAST_MONTH),
        )


def test_the_workforce_figures_follow_docs_metrics_md(story: Story) -> None:
    for expected in (story.this, story.last):
        check_the_agents_rows(story.api, expected)
        check_the_summary(story.api, expected)
    check_trends_use_the_summary_meanings(story)
    check_projections_follow_the_rule_of_projected_cost(story)
    check_a_future_month_has_no_projection(story)


def check_the_agents_rows(api: Api, expected: Expected) -> None:
    rows = api.get("/api/agents/workforce/agents", query={"month": expected.month}).json
    # The month's registry: the deleted agent is gone, the agent registered this month is only in it.
    assert {r["id"] for r in rows} == set(expected.registry), expected.month
    savings_order = sorted(rows, key=lambda r: (-d(r["monthly_savings"]), r["id"]))  # type: ignore[operator]
    assert [r["id"] for r in rows] == [r["id"] for r in savings_order]
    for row in rows:
        agent_id, body = row["id"], expected.registry[row["id"]]
        cost, human = expected.cost(agent_id), expected.human(agent_id)
        tasks = expected.spend.get(agent_id, (0, 0))[1]
        draft = body["status"] == "draft"
        paused = body["status"] in ("paused", "draft")
        where = (expected.month, agent_id)
        assert row["status"] == body["status"], where
        # Registered values are shown as registered, drafts included.
        assert d(row["human_equivalent_salary"]) == body["human_equivalent_salary"], where
        assert d(row["estimated_hours_saved"]) == body["estimated_hours_saved"], where
        # A draft replaces no one: no human equivalent, no hours saved, no savings (its cost is a cost).
        assert d(row["monthly_human_equivalent"]) == q(human, "0.01"), where
        assert d(row["hours_saved_monthly"]) == (0 if draft else body["estimated_hours_saved"]), where
        assert d(row["actual_cost_monthly"]) == q(cost, "0.01"), where
        assert d(row["monthly_savings"]) == q(human - cost, "0.01"), where
        assert d(row["roi_percent"]) == roi(human - cost, cost), where
        assert d(row["cost_per_task"]) == (q(cost / tasks, "0.001") if tasks else 0), where
        assert row["tasks_completed"] == tasks, where
        # Events while paused: every event of a month whose status for the month is paused or draft.
        assert row["event_count"] == expected.events(agent_id), where
        assert row["events_while_paused"] == (expected.events(agent_id) if paused else 0), where
        assert row["activity_while_paused"] is (paused and expected.events(agent_id) > 0), where
        # Like for like: the month's cost projected by the run rate, or null with the reason.
        assert d(row["elapsed_fraction"]) == q(expected.fraction, "0.0001"), where
        assert row["projection_status"] == expected.status, where
        projected = expected.projected(cost)
        if projected is None:
            projections = ("projected_cost_monthly", "projected_savings", "projected_roi_percent")
            assert [row[name] for name in projections] == [None, None, None], where
        else:
            assert d(row["projected_cost_monthly"]) == q(projected, "0.01"), where
            assert d(row["projected_savings"]) == q(human - projected, "0.01"), where
            assert d(row["projected_roi_percent"]) == roi(human - projected, projected), where


def check_the_summary(api: Api, expected: Expected) -> None:
    body = api.get("/api/agents/workforce/summary", query={"month": expected.month}).json
    registry = expected.registry
    statuses = [b["status"] for b in registry.values()]
    replacing = [a for a, b in registry.items() if b["status"] != "draft"]
    cost = sum((expected.cost(a) for a in registry), Decimal(0))
    salary = sum(Decimal(registry[a]["human_equivalent_salary"]) for a in replacing)
    human = salary / 12
    where = expected.month
    assert body["month"] == expected.month
    assert body["total_agents"] == len(registry), where
    assert body["active_agents"] == statuses.count("online") + statuses.count("offline"), where
    assert (body["paused_agents"], body["draft_agents"]) == (statuses.count("paused"), 1), where
    assert d(body["total_human_salary"]) == salary, where
    assert d(body["monthly_human_equivalent"]) == q(human, "0.01"), where
    hours = sum(registry[a]["estimated_hours_saved"] for a in replacing)
    assert d(body["total_hours_saved_monthly"]) == hours, where
    assert d(body["total_budget_monthly"]) == sum(b["cost_budget_monthly"] for b in registry.values()), where
    assert d(body["total_agent_cost_monthly"]) == q(cost, "0.01"), where
    assert d(body["monthly_savings"]) == q(human - cost, "0.01"), where
    assert d(body["roi_percent"]) == roi(human - cost, cost), where
    assert body["total_tasks_completed"] == sum(expected.spend.get(a, (0, 0))[1] for a in registry), where
    assert body["total_invocations"] == sum(expected.spend.get(a, (0, 0))[0] for a in registry), where
    # Agents with activity: every agent with an event, registered or not (Ghost is deleted).
    assert body["agents_with_activity"] == len(expected.spend), where
    paused = [a for a, b in registry.items() if b["status"] in ("paused", "draft") and expected.events(a)]
    assert body["events_while_paused"] == sum(expected.events(a) for a in paused), where
    assert body["paused_agents_with_events"] == len(paused), where
    # The deleted agent's cost is not the fleet's, and the two add up to the month's spend.
    assert d(body["unregistered_cost_monthly"]) == expected.cost("ghost"), where
    spend = api.get("/api/cost-analysis/summary", query={"month": expected.month}).json["totalSpend"]
    assert d(spend) == q(cost + expected.cost("ghost"), "0.01"), where
    assert d(body["elapsed_fraction"]) == q(expected.fraction, "0.0001"), where
    assert body["projection_status"] == expected.status, where
    ready = datetime.fromisoformat(expected.month + "-01T00:00:00+00:00") + THREE_DAYS
    assert body["projection_ready_at"] == stamp(ready), where
    projected = expected.projected(cost)
    if projected is None:
        assert body["projected_cost_monthly"] is None, where
        assert body["projected_savings"] is None, where
        assert body["projected_roi_percent"] is None, where
    else:
        assert d(body["projected_cost_monthly"]) == q(projected, "0.01"), where
        assert d(body["projected_savings"]) == q(human - projected, "0.01"), where
        assert d(body["projected_roi_percent"]) == roi(human - projected, projected), where
    departments = {dep["department"]: dep for dep in body["departments"]}
    assert set(departments) == {b["department"] for b in registry.values()}, where
    support = [a for a, b in registry.items() if b["department"] == "Support"]
    dep = departments["Support"]
    dep_cost = sum((expected.cost(a) for a in support), Decimal(0))
    dep_human = sum((expected.human(a) for a in support), Decimal(0))
    assert dep["agent_count"] == len(support), where
    assert d(dep["monthly_human_equivalent"]) == q(dep_human, "0.01"), where
    assert d(dep["monthly_savings"]) == q(dep_human - dep_cost, "0.01"), where
    dep_projected = expected.projected(dep_cost)
    assert d(dep["projected_cost_monthly"]) == (None if dep_projected is None else q(dep_projected, "0.01"))


def check_trends_use_the_summary_meanings(story: Story) -> None:
    trends = story.api.get("/api/agents/workforce/trends", query={"months": "3"}).json["trends"]
    rows = {r["period"]: r for r in trends}
    for expected in (story.this, story.last):
        summary = story.api.get("/api/agents/workforce/summary", query={"month": expected.month}).json
        row = rows[expected.month]
        # One meaning per name: active_agents and agents_with_activity are the summary's.
        assert row["active_agents"] == summary["active_agents"], expected.month
        assert row["agents_with_activity"] == summary["agents_with_activity"] == len(expected.spend)
        assert row["elapsed_fraction"] == summary["elapsed_fraction"]
        assert row["projection_status"] == expected.status
        total = sum((expected.cost(a) for a in expected.spend), Decimal(0))
        projected = expected.projected(total)
        assert d(row["projected_total_cost"]) == (None if projected is None else q(projected, "0.01"))
    # Two months back nobody was registered yet and nothing happened.
    oldest = rows[month_of(shift(story.now, -2))]
    assert (oldest["active_agents"], oldest["agents_with_activity"], oldest["total_cost"]) == (0, 0, 0)
    assert oldest["projection_status"] == "month_complete"


def check_projections_follow_the_rule_of_projected_cost(story: Story) -> None:
    """The workforce projection of an agent is the cost-analysis projectedCost, whenever there is one."""
    costs = {r["id"]: r for r in story.api.get("/api/cost-analysis/agents").json["agents"]}
    for row in story.api.get("/api/agents/workforce/agents").json:
        if row["projected_cost_monthly"] is not None:
            assert row["projected_cost_monthly"] == costs[row["id"]]["projectedCost"], row["id"]
        else:
            assert story.this.status == "too_early"


def check_a_future_month_has_no_projection(story: Story) -> None:
    month = month_of(shift(story.now, 1))
    body = story.api.get("/api/agents/workforce/summary", query={"month": month}).json
    assert (body["elapsed_fraction"], body["projection_status"]) == (0, "month_not_started")
    assert body["projected_cost_monthly"] is None
    assert body["total_agent_cost_monthly"] == 0
