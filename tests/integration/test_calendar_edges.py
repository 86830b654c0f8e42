"""Every month-sensitive figure at the calendar's edges (tests/clock.py EDGES): 30 seconds into the 1st of a
month, 30 seconds before the end of the last day, 30 seconds into a new year, on a leap day, and mid-month.

At each instant, on a clock that stands still there, a workspace gets events of the month so far (from its
first microsecond on), of the previous month (up to its last microsecond) and none two months back; the
API's answers are then compared with figures computed here from the events: month-to-date cost, the month-end
projection and forecastOverBudget, the budget-alerts list, the scheduled notices (once per agent, kind and
month, and anew in the next month), workforce figures, trends with their zero-filled months, activity
windows and totals across the month boundary, and the retention limit."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import time_machine

from tests.clock import EDGES
from tests.datasets import agent_body
from tests.harness import Api, Stream
from tests.integration.test_budget_alerts import received, run_alerts, subscribe

WORKSPACE = "ws-calendar"
RETENTION_DAYS = 400  # template.yaml's EventRetentionDays default, which the test stack uses
# gpt-5.4's input price is $2.50 per million tokens: 400,000 input tokens cost exactly one dollar.
TOKENS_PER_DOLLAR = 400_000
FORECAST_MIN_ELAPSED = timedelta(days=3)

# (agent, monthly budget, dollars this month, dollars last month, salary)
AGENTS = [
    ("atlas", 10, 12, 30, 90_000),  # over budget this month (and last month, which must not count)
    ("nova", 100, 85, 5, 75_000),  # past 80% of its budget
    ("pulse", 20, 15, 0, 60_000),  # on a pace that depends on how much of the month has passed
    ("sage", 0, 7, 3, 80_000),  # no budget: never alerted, never over
]


def month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_of(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def shift(at: datetime, months: int) -> datetime:
    """The first instant of the month `months` away from `at`'s month."""
    index = at.year * 12 + at.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def stamp(at: datetime) -> str:
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{at.microsecond:06d}".rstrip("0") if at.microsecond else "") + "Z"


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class Calendar:
    now: datetime
    api: Api
    stream: Stream
    this_month: list[dict[str, Any]]
    last_month: list[dict[str, Any]]

    @property
    def month(self) -> str:
        return month_of(self.now)

    @property
    def previous(self) -> str:
        return month_of(shift(self.now, -1))

    def spent(self, agent: str, events: list[dict[str, Any]]) -> Decimal:
        return (
            Decimal(
                sum(e["details"]["inputTokens"] for e in events if e["agentId"] == agent and e["details"])
            )
            / TOKENS_PER_DOLLAR
        )

    def elapsed_fraction(self) -> Decimal:
        """Whole seconds of the month so far over the month's seconds (the service's run-rate rule)."""
        start = month_start(self.now)
        days = calendar.monthrange(self.now.year, self.now.month)[1]
        return Decimal(int((self.now - start).total_seconds())) / Decimal(days * 86_400)


def spending(agent: str, dollars: int, start: datetime, end: datetime, prefix: str) -> list[dict[str, Any]]:
    """`dollars` one-dollar invocations of `agent`, evenly over [start, end), the first exactly at start;
    plus a session_start at each end, the last a microsecond before `end`."""
    events = []
    step = (end - start) / max(dollars, 1)
    for n in range(dollars):
        events.append(
            {
                "id": f"{prefix}-{agent}-{n}",
                "agentId": agent,
                "eventType": "model_invocation",
                "createdAt": stamp(start + step * n),
                "details": {"model": "gpt-5.4", "inputTokens": TOKENS_PER_DOLLAR, "outputTokens": 0},
            }
        )
    for n, at in enumerate((start, end - timedelta(microseconds=1))):
        events.append(
            {
                "id": f"{prefix}-{agent}-edge-{n}",
                "agentId": agent,
                "eventType": "session_start",
                "createdAt": stamp(at),
                "details": {},
            }
        )
    return events


@pytest.fixture(params=sorted(EDGES), ids=sorted(EDGES))
def edge(request: pytest.FixtureRequest, stack: Any) -> Iterator[Calendar]:
    """The workspace at one edge instant, its events ingested and rolled up, on a clock standing there."""
    now = EDGES[request.param]
    with time_machine.travel(now, tick=False):
        api = Api(WORKSPACE)
        for agent, budget, _, _, salary in AGENTS:
            body = agent_body(
                agent.title(),
                status="online",
                department="Ops",
                cost_budget_monthly=budget,
                human_equivalent_salary=salary,
                estimated_hours_saved=10,
            )
            assert api.put(f"/api/agents/{agent}", body).status == 200
        start = month_start(now)
        this_month = [e for a, _, dollars, _, _ in AGENTS for e in spending(a, dollars, start, now, "this")]
        previous = shift(now, -1)
        last_month = [
            e for a, _, _, dollars, _ in AGENTS for e in spending(a, dollars, previous, start, "last")
        ]
        for batch in (this_month, last_month):
            for offset in range(0, len(batch), 100):
                reply = api.post("/api/activity", {"events": batch[offset : offset + 100]})
                assert reply.json["rejectedCount"] == 0, reply.json["rejected"][:3]
        stream = Stream(stack)
        stream.drain()
        yield Calendar(now, api, stream, this_month, last_month)


def test_every_month_sensitive_figure_of_the_api(edge: Calendar) -> None:
    # One workspace per instant, read by every check (none of them writes).
    check_month_to_date_cost_and_the_projection(edge)
    check_the_budget_alerts_list_is_this_months(edge)
    check_workforce_figures_are_this_months(edge)
    check_trends_end_with_this_month_and_fill_quiet_months_with_zeros(edge)
    check_activity_windows_and_totals_across_the_month_boundary(edge)


def check_month_to_date_cost_and_the_projection(edge: Calendar) -> None:
    fraction = edge.elapsed_fraction()
    assert 0 < fraction <= 1
    summary = edge.api.get("/api/cost-analysis/summary").json
    total = sum((edge.spent(a, edge.this_month) for a, *_ in AGENTS), Decimal(0))
    assert summary["month"] == edge.month
    assert Decimal(str(summary["totalSpend"])) == money(total)
    assert edge.api.get("/api/cost-analysis/summary", query={"month": edge.previous}).json[
        "totalSpend"
    ] == float(money(sum((edge.spent(a, edge.last_month) for a, *_ in AGENTS), Decimal(0))))
    rows = {r["id"]: r for r in edge.api.get("/api/cost-analysis/agents").json["agents"]}
    ready = edge.now - month_start(edge.now) >= FORECAST_MIN_ELAPSED
    for agent, budget, *_ in AGENTS:
        actual = edge.spent(agent, edge.this_month)
        projected = actual / fraction
        row = rows[agent]
        assert Decimal(str(row["actualCost"])) == money(actual), agent
        assert Decimal(str(row["projectedCost"])) == money(projected), agent
        assert row["overBudget"] is (budget > 0 and actual > budget), agent
        over = budget > 0 and actual > budget
        assert row["forecastOverBudget"] is (budget > 0 and projected > budget and (ready or over)), agent
    # The previous month is complete: its projection is its actual cost.
    past = {
        r["id"]: r
        for r in edge.api.get("/api/cost-analysis/agents", query={"month": edge.previous}).json["agents"]
    }
    for agent, *_ in AGENTS:
        assert (
            past[agent]["projectedCost"]
            == past[agent]["actualCost"]
            == float(money(edge.spent(agent, edge.last_month)))
        )
        assert past[agent]["forecastOverBudget"] is past[agent]["overBudget"]


def check_the_budget_alerts_list_is_this_months(edge: Calendar) -> None:
    body = edge.api.get("/api/cost-analysis/budget-alerts").json
    expected = {
        agent: edge.spent(agent, edge.this_month) - budget
        for agent, budget, *_ in AGENTS
        if budget and edge.spent(agent, edge.this_month) > budget
    }
    assert body["month"] == edge.month
    assert {a["agentId"]: Decimal(str(a["overage"])) for a in body["alerts"]} == {
        a: money(v) for a, v in expected.items()
    }
    last = edge.api.get("/api/cost-analysis/budget-alerts", query={"month": edge.previous}).json
    assert [a["agentId"] for a in last["alerts"]] == ["atlas"]  # $30 of $10 last month


def test_notices_go_once_per_agent_kind_and_month_and_anew_next_month(edge: Calendar, stack: Any) -> None:
    queue = subscribe(stack, WORKSPACE)
    fraction, ready = edge.elapsed_fraction(), edge.now - month_start(edge.now) >= FORECAST_MIN_ELAPSED
    expected = set()
    for agent, budget, *_ in AGENTS:
        actual = edge.spent(agent, edge.this_month)
        if not budget:
            continue
        expected |= {(agent, f"threshold_{pct}") for pct in (80, 100) if actual * 100 > budget * pct}
        if actual / fraction > budget and (ready or actual > budget):
            expected.add((agent, "forecast"))
    with time_machine.travel(edge.now, tick=False):
        run_alerts()
        first = received(queue)
        assert {(m["body"]["agentId"], m["body"]["kind"]) for m in first} == expected
        assert {m["body"]["month"] for m in first} <= {edge.month}
        assert run_alerts()["sent"] == 0
        assert received(queue) == []
    # One minute into the next month (from the last day's edge; a month later from the others), Atlas
    # spends $12 again: its threshold notices of that month go out, once, and nothing of the month before.
    later = max(edge.now + timedelta(minutes=1), shift(edge.now, 1) + timedelta(minutes=1))
    with time_machine.travel(later, tick=False):
        assert month_of(later) != edge.month
        fresh = spending("atlas", 12, month_start(later), later, "next")
        assert edge.api.post("/api/activity", {"events": fresh}).json["accepted"] == len(fresh)
        edge.stream.drain()
        run_alerts()
        second = received(queue)
        assert {m["body"]["month"] for m in second} == {month_of(later)}
        assert {(m["body"]["agentId"], m["body"]["kind"]) for m in second} >= {
            ("atlas", "threshold_80"),
            ("atlas", "threshold_100"),
        }
        assert run_alerts()["sent"] == 0


def check_workforce_figures_are_this_months(edge: Calendar) -> None:
    summary = edge.api.get("/api/agents/workforce/summary").json
    cost = sum((edge.spent(a, edge.this_month) for a, *_ in AGENTS), Decimal(0))
    human = sum(Decimal(salary) for *_, salary in AGENTS) / 12
    assert summary["month"] == edge.month
    assert Decimal(str(summary["total_agent_cost_monthly"])) == money(cost)
    assert Decimal(str(summary["monthly_savings"])) == money(human - cost)
    assert Decimal(str(summary["roi_percent"])) == ((human - cost) / cost * 100).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    assert summary["total_invocations"] == sum(dollars for _, _, dollars, _, _ in AGENTS)
    rows = {r["id"]: r for r in edge.api.get("/api/agents/workforce/agents").json}
    for agent, _, _, _, salary in AGENTS:
        actual = edge.spent(agent, edge.this_month)
        assert Decimal(str(rows[agent]["actual_cost_monthly"])) == money(actual)
        assert Decimal(str(rows[agent]["monthly_savings"])) == money(Decimal(salary) / 12 - actual)
    # Like for like: the run rate once the month is 3 days old, else no projection (null) and why.
    ready = edge.now - month_start(edge.now) >= FORECAST_MIN_ELAPSED
    assert summary["projection_status"] == ("run_rate" if ready else "too_early")
    if ready:
        projected = cost / edge.elapsed_fraction()
        assert Decimal(str(summary["projected_cost_monthly"])) == money(projected)
        assert Decimal(str(summary["projected_savings"])) == money(human - projected)
    else:
        assert summary["projected_cost_monthly"] is summary["projected_savings"] is None


def check_trends_end_with_this_month_and_fill_quiet_months_with_zeros(edge: Calendar) -> None:
    body = edge.api.get("/api/agents/workforce/trends", query={"months": "4"}).json
    periods = [month_of(shift(edge.now, back)) for back in (-3, -2, -1, 0)]
    assert [row["period"] for row in body["trends"]] == periods
    rows = {row["period"]: row for row in body["trends"]}
    for quiet in periods[:2]:
        assert rows[quiet] | {"period": None} == {
            "period": None,
            "tasks_completed": 0,
            "invocations": 0,
            "total_tokens": 0,
            "total_cost": 0,
            "errors": 0,
            "avg_response_ms": 0,
            "active_agents": 0,
            "events": 0,
            "unpriced_tokens": 0,
            "agents_with_activity": 0,
            "elapsed_fraction": 1,
            "projection_status": "month_complete",
            "projected_total_cost": 0,
        }
    assert rows[edge.previous]["total_cost"] == float(
        money(sum((edge.spent(a, edge.last_month) for a, *_ in AGENTS), Decimal(0)))
    )
    assert rows[edge.month]["events"] == len(edge.this_month)
    assert rows[edge.month]["invocations"] == sum(dollars for _, _, dollars, _, _ in AGENTS)


def check_activity_windows_and_totals_across_the_month_boundary(edge: Calendar) -> None:
    start = month_start(edge.now)

    def ids(query: dict[str, str]) -> tuple[list[str], int]:
        body = edge.api.get("/api/activity", query={**query, "limit": "500"}).json
        assert body["pagination"]["hasMore"] is False
        return [item["id"] for item in body["data"]], body["pagination"]["total"]

    def at(event: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(event["createdAt"].replace("Z", "+00:00"))

    def newest_first(events: list[dict[str, Any]]) -> list[str]:
        return [e["id"] for e in sorted(events, key=lambda e: (at(e), e["id"]), reverse=True)]

    everything = edge.this_month + edge.last_month
    assert ids({}) == (newest_first(everything), len(everything))
    assert ids({"from": stamp(start), "to": stamp(edge.now)}) == (
        newest_first(edge.this_month),
        len(edge.this_month),
    )
    before = [e for e in everything if at(e) < start]
    assert ids({"to": stamp(start - timedelta(microseconds=1))}) == (newest_first(before), len(before))
    # One second either side of midnight: the last microsecond of one month, the first of the next.
    low, high = start - timedelta(seconds=1), start + timedelta(seconds=1)
    around = {"from": stamp(low), "to": stamp(high)}
    inside = [e for e in everything if low <= at(e) <= high]
    assert {e["createdAt"] for e in inside} >= {stamp(start), stamp(start - timedelta(microseconds=1))}
    assert ids(around) == (newest_first(inside), len(inside))


@pytest.mark.parametrize("name", sorted(EDGES))
def test_retention_ends_exactly_400_days_back(name: str, stack: Any) -> None:
    now = EDGES[name]
    oldest = now - timedelta(days=RETENTION_DAYS)
    with time_machine.travel(now, tick=False):
        api = Api(WORKSPACE)
        assert api.put("/api/agents/sage", agent_body("Sage")).status == 200

        def attempt(at: datetime, event_id: str) -> dict[str, Any]:
            event = {"id": event_id, "agentId": "sage", "eventType": "session_start", "createdAt": stamp(at)}
            reply: dict[str, Any] = api.post("/api/activity", {"events": [{**event, "details": {}}]}).json
            return reply

        too_old = attempt(oldest - timedelta(seconds=1), "too-old")
        kept = attempt(oldest + timedelta(seconds=1), "just-kept")
        Stream(stack).drain()
        assert too_old["accepted"] == 0
        assert "retention" in too_old["rejected"][0]["reason"]
        assert kept["accepted"] == 1
        body = api.get("/api/activity", query={"limit": "5"}).json
        assert [item["id"] for item in body["data"]] == ["just-kept"]
        assert body["pagination"]["total"] == 1
