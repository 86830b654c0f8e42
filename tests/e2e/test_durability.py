"""The local stack keeps its data across restarts in the same state directory: stopped with SIGTERM, every
endpoint answers as before and an ID token issued before the stop still works; killed with `kill -9` in the
middle of an ingestion (and of the rollups behind it), no answered event is lost and, once the client has
sent the rest again, every rollup equals a computation from the events, each counted once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local_stack.template import routes
from tests import truth
from tests.datasets import AGENTS, make_events, months_back
from tests.e2e.conftest import STOP_TIMEOUT_SECONDS, _start, _stop, _wait_ready
from tests.e2e.support import RunningStack, fresh_workspace, http, shown, wait_for

pytestmark = [pytest.mark.e2e]


class Restartable:
    """A local stack of the test's own, in one state directory, started again as often as asked."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RunningStack:
        self.process = _start(self.state_dir, COSTMETRICS_DEMO="0", COSTMETRICS_ALERT_INTERVAL="3600")
        return _wait_ready(self.state_dir, self.process.pid)

    def stop(self) -> None:
        assert self.process is not None
        _stop(self.process.pid, self.state_dir)
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        # A killed stack leaves its outputs.json: the next start must not be taken as ready by it.
        (self.state_dir / "outputs.json").unlink(missing_ok=True)


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[Restartable]:
    stack = Restartable(tmp_path / "state")
    try:
        yield stack
    finally:
        if stack.process is not None and stack.process.poll() is None:
            with contextlib.suppress(Exception):
                stack.stop()


def _register(stack: RunningStack, token: str) -> None:
    for agent in AGENTS:
        body = {k: v for k, v in agent.items() if k != "id"}
        assert http("PUT", f"{stack.api}/api/agents/{agent['id']}", token=token, body=body).status == 200


def _post(stack: RunningStack, token: str, events: list[dict[str, Any]]) -> None:
    for offset in range(0, len(events), 100):
        reply = http(
            "POST", f"{stack.api}/api/activity", token=token, body={"events": events[offset : offset + 100]}
        )
        assert reply.status == 200, reply.body
        assert reply.body["rejectedCount"] == 0, reply.body["rejected"][:3]


def _without_run_rates(body: Any) -> Any:
    """A workforce answer without the figures that move with the clock (the elapsed fraction and the
    projections from it, docs/metrics.md): a restart keeps their inputs, which are compared."""
    if isinstance(body, list):
        return [_without_run_rates(item) for item in body]
    if isinstance(body, dict):
        return {
            key: _without_run_rates(value)
            for key, value in body.items()
            if key != "elapsed_fraction" and not key.startswith("projected_")
        }
    return body


def _answers(stack: RunningStack, token: str, months: list[str], since: datetime) -> dict[str, Any]:
    """Every read of the API's template routes that takes no path parameter, for each month."""
    answers = {}
    for route in routes():
        if (
            route.method != "GET"
            or not route.authorized
            or "{" in route.path
            or route.path == "/api/openapi.json"
        ):
            continue
        queries = (
            [f"month={m}" for m in months]
            if "cost-analysis" in route.path or "workforce" in route.path
            else [""]
        )
        if route.path.endswith("/trends"):
            queries = ["months=3"]
        if route.path == "/api/activity/feed":
            queries = [f"since={since:%Y-%m-%dT%H:%M:%SZ}&limit=500"]
        for query in queries:
            reply = stack.get(f"{route.path}?{query}", token)
            assert reply.status == 200, (route.path, reply.body)
            body = reply.body
            if route.path == "/api/activity/feed":
                body = {
                    "ids": sorted(item["id"] for item in body["data"])
                }  # the cursor names the poll's time
            if route.path == "/api/activity":
                body["pagination"].pop("nextToken", None)  # signed with the window: compared by its pages
            if "workforce" in route.path:
                body = _without_run_rates(body)
            answers[f"{route.path}?{query}"] = body
    return answers


def _drained(stack: RunningStack, token: str, events: list[dict[str, Any]]) -> bool:
    body = stack.get("/api/activity?limit=1", token).body
    return bool(body["pagination"]["total"] == len(events))


def test_a_restart_keeps_every_answer_and_a_kill_loses_no_event(restartable: Restartable) -> None:
    # Given a stack with a workspace, its agents and 800 events of this month and the last, rolled up
    stack = restartable.start()
    workspace = fresh_workspace()
    token = stack.new_user(workspace, "admin")
    _register(stack, token)
    now = datetime.now(UTC).replace(microsecond=0)
    months = [months_back(now, 1).strftime("%Y-%m"), now.strftime("%Y-%m")]
    first = make_events(
        800, start=months_back(now, 1), end=now - timedelta(minutes=2), seed=61, prefix="before"
    )
    _post(stack, token, first)
    assert wait_for(lambda: _drained(stack, token, first), timeout=60)
    before = _answers(stack, token, months, now - timedelta(days=1))

    # When it is stopped (SIGTERM) and started again in the same state directory
    restartable.stop()
    stack = restartable.start()

    # Then the token issued before still works and every endpoint answers exactly as before
    assert _answers(stack, token, months, now - timedelta(days=1)) == before

    # When it is killed (kill -9) while a client is ingesting 800 more events, and the rollups follow
    second = make_events(
        800, start=months_back(now, 1), end=now - timedelta(minutes=2), seed=62, prefix="during"
    )
    sent: list[int] = []

    def client() -> None:
        for offset in range(0, len(second), 100):
            try:
                _post(stack, token, second[offset : offset + 100])
            except Exception:
                return  # the stack is gone: the client will send the rest again
            sent.append(offset)

    thread = threading.Thread(target=client)
    thread.start()
    assert wait_for(lambda: len(sent) >= 3, timeout=60), "the ingestion did not start"
    restartable.kill()
    thread.join(timeout=60)
    answered = 100 * len(sent)
    assert 300 <= answered < len(second), "the kill must land in the middle of the ingestion"

    # Then after a restart every answered event is there, before the client sends anything again
    stack = restartable.start()
    ids: set[str] = set()
    token_page: str | None = None
    while True:
        page = stack.get(f"/api/activity?limit=500{'&nextToken=' + token_page if token_page else ''}", token)
        ids |= {item["id"] for item in page.body["data"]}
        token_page = page.body["pagination"].get("nextToken")
        if not token_page:
            break
    assert {e["id"] for e in first + second[:answered]} <= ids
    # And once the client has sent everything again (answers: stored or duplicate), each event counts once
    _post(stack, token, second)
    everything = first + second
    assert wait_for(lambda: _drained(stack, token, everything), timeout=90)
    expected = truth.compute(everything)
    for month in months:
        summary = stack.get(f"/api/cost-analysis/summary?month={month}", token).body
        assert shown(summary["totalSpend"]) == truth.money(expected.month_cost(month)), month
        models = stack.get(f"/api/cost-analysis/by-model?month={month}", token).body["models"]
        tokens = {m["model"]: m["inputTokens"] for m in models}
        assert tokens == {
            model: sum(
                u.input_tokens
                for (m, _, mo), u in expected.by_agent_model.items()
                if m == month and mo == model
            )
            for (m, _, model) in expected.by_agent_model
            if m == month
        }, month
    trends = {
        t["period"]: t for t in stack.get("/api/agents/workforce/trends?months=2", token).body["trends"]
    }
    for month in months:
        events = sum(c for (m, _, _), c in expected.events_by_agent.items() if m == month)
        assert trends[month]["events"] == events, month
        assert Decimal(str(trends[month]["total_cost"])) == truth.money(expected.month_cost(month))
