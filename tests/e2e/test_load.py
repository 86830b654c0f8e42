"""Concurrent load on the local stack: N clients each post M events through POST /api/activity in batches
of at most 100, re-sending 10% of their batches (same ids), while readers page through GET /api/activity
by cursor and by offset. Once the stream poller has rolled everything up, every event is stored exactly
once and every rollup figure (summary, by-model tokens, agents' costs, workforce tasks and invocations,
activity totals) equals what is computed here from the events sent, with tests/truth.py.

`make test` runs 20 clients x 50 events; `make soak` 20 x 1,000 (the issue's figure). Settings, by
environment variable: COSTMETRICS_LOAD_CLIENTS (20), COSTMETRICS_LOAD_EVENTS (per client, 50),
COSTMETRICS_LOAD_READERS (2), COSTMETRICS_LOAD_RESEND (0.1); COSTMETRICS_LOAD_REPORT=<file> gets the
figures as JSON.

The load runs on a stack of its own, started empty (no demo data), so that its stream backlog never
delays the rollups that the other e2e tests wait for on the shared stack, and so that its timing is its own.
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests import truth
from tests.datasets import AGENTS, make_events, months_back
from tests.e2e.support import RunningStack, fresh_workspace, http, past_the_batching_window, shown

pytestmark = [pytest.mark.e2e]

CLIENTS = int(os.environ.get("COSTMETRICS_LOAD_CLIENTS", "20"))
EVENTS = int(os.environ.get("COSTMETRICS_LOAD_EVENTS", "50"))
READERS = int(os.environ.get("COSTMETRICS_LOAD_READERS", "2"))
RESEND = float(os.environ.get("COSTMETRICS_LOAD_RESEND", "0.1"))
REPORT = os.environ.get("COSTMETRICS_LOAD_REPORT")
NOW = datetime.now(UTC).replace(microsecond=0)


# --- The clients -------------------------------------------------------------------------------------


@dataclass
class Figures:
    clients: int = CLIENTS
    events_per_client: int = EVENTS
    events: int = 0  # distinct events
    batches: int = 0
    resent_batches: int = 0
    resent_events: int = 0
    events_sent: int = 0  # every event of every request, re-sent ones included
    requests: int = 0
    retried_requests: int = 0  # after a transport error or a 5xx
    accepted: int = 0
    duplicates_detected: int = 0
    max_post_seconds: float = 0.0
    reader_walks: int = 0
    reader_pages: int = 0
    stored: int = 0  # the activity log's total once rolled up
    cursor_walk_ids: int = 0
    cursor_walk_distinct: int = 0
    rollup_figures_checked: int = 0
    rollup_mismatches: int = 0
    ingest_seconds: float = 0.0
    rollup_catch_up_seconds: float = 0.0
    total_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: float) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "lock"}


def client_events(client: int) -> list[dict[str, Any]]:
    """A client's events: its agents' work of last month and this one, ids unique to the client."""
    return make_events(
        EVENTS,
        start=months_back(NOW, 1),
        end=NOW - timedelta(minutes=1),
        seed=1000 + client,
        prefix=f"c{client:02d}",
    )


def send_plan(client: int, events: list[dict[str, Any]]) -> tuple[list[list[dict[str, Any]]], int]:
    """Batches of random sizes (at most 100 events; 8 to 16 per client), a RESEND share of them sent again
    (the same ids) at a later point, as a client does that lost an answer; returns the requests in order
    and how many are re-sends."""
    rng = random.Random(client)
    most = min(100, max(4, len(events) // 5))
    batches: list[list[dict[str, Any]]] = []
    start = 0
    while start < len(events):
        size = rng.randint(max(1, most // 4), most)
        batches.append(events[start : start + size])
        start += size
    share = RESEND * len(batches)  # rounded at random, so that the share holds over all the clients
    again = rng.sample(range(len(batches)), math.floor(share) + (rng.random() < share % 1))
    plan = list(batches)
    for index in sorted(again, reverse=True):
        plan.insert(rng.randint(index + 1, len(plan)), batches[index])
    return plan, len(again)


def post(stack: RunningStack, token: str, batch: list[dict[str, Any]], figures: Figures) -> dict[str, Any]:
    """POST /api/activity, sent again after a transport error or a 5xx (its events may be stored already)."""
    for attempt in range(5):
        started = time.monotonic()
        try:
            reply = http("POST", stack.api + "/api/activity", token=token, body={"events": batch})
        except OSError:
            reply = None
        elapsed = time.monotonic() - started
        with figures.lock:
            figures.requests += 1
            figures.max_post_seconds = max(figures.max_post_seconds, round(elapsed, 2))
        if reply is not None and reply.status == 200:
            body: dict[str, Any] = reply.body
            return body
        assert reply is None or reply.status >= 500, (reply.status, reply.body)
        figures.add(retried_requests=1)
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError("POST /api/activity failed five times")


def ingest(stack: RunningStack, token: str, client: int, figures: Figures) -> None:
    plan, resent = send_plan(client, client_events(client))
    first: set[str] = set()
    for batch in plan:
        body = post(stack, token, batch, figures)
        assert body["rejectedCount"] == 0, body["rejected"][:3]
        assert body["accepted"] + body["duplicates"] == len(batch), body
        ids = {e["id"] for e in batch}
        if ids <= first:
            assert body["duplicates"] == len(batch), "a re-sent batch is all duplicates"
        first |= ids
        figures.add(events_sent=len(batch), accepted=body["accepted"], duplicates_detected=body["duplicates"])
    figures.add(
        batches=len(plan) - resent,
        resent_batches=resent,
        resent_events=sum(len(b) for b in plan) - len(first),
    )


# --- The readers -------------------------------------------------------------------------------------


def page(stack: RunningStack, token: str, query: dict[str, Any]) -> dict[str, Any]:
    reply = stack.get("/api/activity?" + urlencode(query), token)
    assert reply.status == 200, (query, reply.status, reply.body)
    body: dict[str, Any] = reply.body
    return body


def walk_by_cursor(stack: RunningStack, token: str, limit: int, **query: str) -> tuple[list[str], int]:
    """Every id of a cursor walk (newest first), and the pages read."""
    ids: list[str] = []
    params: dict[str, Any] = {"limit": limit, **query}
    pages = 0
    while True:
        body = page(stack, token, params)
        pages += 1
        ids += [item["id"] for item in body["data"]]
        token_next = body["pagination"].get("nextToken")
        if not body["pagination"]["hasMore"] or not token_next:
            return ids, pages
        params = {"limit": limit, "nextToken": token_next, **query}


def walk_by_offset(stack: RunningStack, token: str, limit: int, **query: str) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    while True:
        body = page(stack, token, {"limit": limit, "offset": len(ids), **query})
        pages += 1
        ids += [item["id"] for item in body["data"]]
        if not body["pagination"]["hasMore"] or not body["data"] or len(ids) + limit > 10_000:
            return ids, pages


def read_while_ingesting(
    stack: RunningStack, token: str, reader: int, sent: set[str], done: threading.Event, figures: Figures
) -> None:
    """Cursor and offset walks until the clients are done: every page answers, a cursor walk never repeats
    an id, and no walk shows an id that was never sent."""
    rng = random.Random(reader)
    while not done.is_set():
        limit = rng.choice([50, 100, 250, 500])
        if rng.random() < 0.5:
            ids, pages = walk_by_cursor(stack, token, limit)
            assert len(ids) == len(set(ids)), "a cursor walk returned an id twice"
        else:
            # Offsets shift under concurrent inserts (an id may show on two pages): only validity here.
            ids, pages = walk_by_offset(stack, token, limit)
        assert set(ids) <= sent
        figures.add(reader_walks=1, reader_pages=pages)
        done.wait(0.2)


# --- What the rollups must say ----------------------------------------------------------------------


def month_bounds(month: str) -> tuple[str, str]:
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(seconds=1)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")


def rollup_mismatches(stack: RunningStack, token: str, events: list[dict[str, Any]]) -> tuple[list[str], int]:
    """Every figure the API derives from the rollups, against tests/truth.py on the events sent; returns the
    mismatches (as text) and how many figures were compared."""
    expected = truth.compute(events)
    problems: list[str] = []
    checked = 0

    def check(what: str, actual: Any, wanted: Any) -> None:
        nonlocal checked
        checked += 1
        if actual != wanted:
            problems.append(f"{what}: {actual!r} != {wanted!r}")

    def get(path: str) -> Any:
        reply = stack.get(path, token)
        assert reply.status == 200, (path, reply.body)
        return reply.body

    this_month = f"{NOW:%Y-%m}"
    for month in sorted(expected.active_agents):
        summary = get(f"/api/cost-analysis/summary?month={month}")
        check(f"{month} totalSpend", shown(summary["totalSpend"]), truth.money(expected.month_cost(month)))
        check(
            f"{month} summary byModel",
            {row["model"]: shown(row["cost"]) for row in summary["tokenCost"]["byModel"]},
            {model: truth.money(cost) for model, cost in expected.model_costs(month).items()},
        )
        unpriced = sum(u.unpriced_tokens for (m, _, _), u in expected.by_agent_model.items() if m == month)
        check(f"{month} unpricedTokens", summary["unpricedTokens"], unpriced)

        rows = {row["model"]: row for row in get(f"/api/cost-analysis/by-model?month={month}")["models"]}
        models: dict[str, truth.Usage] = {}
        for (m, _, model), usage in expected.by_agent_model.items():
            if m == month:
                total = models.setdefault(model, truth.Usage())
                for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
                    setattr(total, name, getattr(total, name) + getattr(usage, name))
                total.unpriced_tokens += usage.unpriced_tokens
                total.input_cost += usage.input_cost
                total.output_cost += usage.output_cost
        check(f"{month} by-model models", set(rows), set(models))
        for model, usage in models.items():
            row = rows.get(model, {})
            check(f"{month} {model} inputTokens", row.get("inputTokens"), usage.input_tokens)
            check(f"{month} {model} outputTokens", row.get("outputTokens"), usage.output_tokens)
            check(f"{month} {model} cacheReadTokens", row.get("cacheReadTokens"), usage.cache_read_tokens)
            check(
                f"{month} {model} totalTokens",
                row.get("totalTokens"),
                usage.input_tokens + usage.output_tokens + usage.cache_read_tokens + usage.cache_write_tokens,
            )
            check(f"{month} {model} unpricedTokens", row.get("unpricedTokens"), usage.unpriced_tokens)
            check(f"{month} {model} totalCost", shown(row.get("totalCost", 0)), truth.money(usage.cost))

        agents = {r["id"]: r for r in get(f"/api/cost-analysis/agents?month={month}")["agents"]}
        workforce = {r["id"]: r for r in get(f"/api/agents/workforce/agents?month={month}")}
        for agent in sorted(expected.active_agents[month]):
            usage = expected.agent_usage(month, agent)
            check(f"{month} {agent} actualCost", shown(agents[agent]["actualCost"]), truth.money(usage.cost))
            row = workforce[agent]
            check(
                f"{month} {agent} tasks",
                row["tasks_completed"],
                expected.count(month, agent, "task_completed"),
            )
            check(f"{month} {agent} invocations", row["invocation_count"], usage.invocations)
            check(f"{month} {agent} errors", row["error_count"], expected.count(month, agent, "error"))
        if month == this_month:
            # The month asked for: the stack's clock ticks on, and at 23:59:30 it is next month by now.
            fleet = get(f"/api/agents/workforce/summary?month={month}")
            active = expected.active_agents[month]
            check(
                "workforce total_tasks_completed",
                fleet["total_tasks_completed"],
                sum(expected.count(month, a, "task_completed") for a in active),
            )
            check(
                "workforce total_invocations",
                fleet["total_invocations"],
                sum(expected.agent_usage(month, a).invocations for a in active),
            )

        first, last = month_bounds(month)
        in_month = [e for e in events if first <= e["createdAt"] <= last]
        check(
            f"{month} activity total",
            page(stack, token, {"from": first, "to": last, "limit": 1})["pagination"]["total"],
            len(in_month),
        )
        for agent, count in Counter(e["agentId"] for e in in_month).items():
            body = page(stack, token, {"from": first, "to": last, "agentId": agent, "limit": 1})
            check(f"{month} activity total of {agent}", body["pagination"]["total"], count)
        for kind, count in Counter(e["eventType"] for e in in_month).items():
            body = page(stack, token, {"from": first, "to": last, "eventType": kind, "limit": 1})
            check(f"{month} activity total of {kind}", body["pagination"]["total"], count)
    return problems, checked


def stored_total(stack: RunningStack, token: str) -> int:
    total: int = page(stack, token, {"limit": 1})["pagination"]["total"]
    return total


# --- The test ------------------------------------------------------------------------------------------


def test_concurrent_clients_store_each_event_once_and_the_rollups_are_exact(own_stack: RunningStack) -> None:
    stack = own_stack
    figures = Figures()
    started = time.monotonic()
    # Given a fresh workspace with its agents, an ingest user per client and a viewer per reader
    workspace = fresh_workspace()
    admin = stack.new_user(workspace, "admin")
    for agent in AGENTS:
        body = {k: v for k, v in agent.items() if k != "id"}
        assert http("PUT", f"{stack.api}/api/agents/{agent['id']}", token=admin, body=body).status == 200
    ingesters = [stack.new_user(workspace, "ingest") for _ in range(CLIENTS)]
    viewers = [stack.new_user(workspace, "viewer") for _ in range(READERS)]
    events = [e for client in range(CLIENTS) for e in client_events(client)]
    sent = {e["id"] for e in events}
    assert len(sent) == len(events) == CLIENTS * EVENTS
    figures.events = len(events)

    # When the clients post concurrently while the readers page through the log
    done = threading.Event()
    ingest_started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS + READERS) as pool:
        readers = [
            pool.submit(read_while_ingesting, stack, viewers[r], r, sent, done, figures)
            for r in range(READERS)
        ]
        clients = [pool.submit(ingest, stack, ingesters[c], c, figures) for c in range(CLIENTS)]
        try:
            for future in clients:
                future.result()
        finally:
            done.set()
        figures.ingest_seconds = round(time.monotonic() - ingest_started, 1)
        for future in readers:
            future.result()

    # Then every request was answered: each event accepted once, every re-sent one detected as a duplicate
    assert figures.accepted + figures.duplicates_detected == figures.events_sent
    if not figures.retried_requests:
        assert figures.accepted == len(events)
        assert figures.duplicates_detected == figures.resent_events

    # When the stream poller has rolled everything up (the log's total comes from the rollups' counters)
    caught_up = time.monotonic()
    timeout = 120 + len(events) * 0.05
    while stored_total(stack, admin) < len(events) and time.monotonic() - caught_up < timeout:
        time.sleep(1)
    figures.rollup_catch_up_seconds = round(time.monotonic() - caught_up, 1)
    past_the_batching_window()  # a record applied twice would show by now
    figures.stored = stored_total(stack, admin)

    # Then each event is stored once: the total, and a full cursor walk, with each id exactly once
    walked, _ = walk_by_cursor(stack, admin, 500)
    figures.cursor_walk_ids, figures.cursor_walk_distinct = len(walked), len(set(walked))
    by_agent: list[str] = []
    for agent in sorted({e["agentId"] for e in events}):
        by_agent += walk_by_offset(stack, admin, 500, agentId=agent)[0]
    # And every rollup figure equals the independent computation
    problems, figures.rollup_figures_checked = rollup_mismatches(stack, admin, events)
    figures.rollup_mismatches = len(problems)
    figures.total_seconds = round(time.monotonic() - started, 1)
    report = figures.as_dict()
    print("\nload figures:", json.dumps(report))
    if REPORT:
        Path(REPORT).write_text(json.dumps(report, indent=2))

    assert figures.stored == len(events), f"stored {figures.stored} of {len(events)} after {timeout:.0f} s"
    assert figures.cursor_walk_ids == figures.cursor_walk_distinct == len(events)
    assert set(walked) == sent
    assert sorted(by_agent) == sorted(sent), "offset walks, agent by agent, give each event once"
    assert problems == [], problems[:10]
    assert figures.rollup_figures_checked > 10 * len(AGENTS)
