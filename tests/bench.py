"""`make bench`: what the service costs to run, measured, never asserted as wall-clock in tests.

1. DynamoDB writes of the rollup function for one stream batch of 100 events over 5 agents and 2 models.
2. DynamoDB requests and items read per read endpoint with 1,000 and with 100,000 events in the month.
3. Cold-start import time of each handler module under Python 3.13, as a ratio to `import boto3`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

sys.path[:0] = [str(__import__("pathlib").Path(__file__).resolve().parents[1] / "layers/common")]
import tests.conftest  # noqa: E402, F401 - the same fake credentials and Powertools settings as the tests
from local_stack.template import ROOT, function_module, resources  # noqa: E402
from tests.datasets import AGENTS  # noqa: E402

WORKSPACE = "ws-bench"
QUICK = False
READ_ROUTES = [
    "/api/cost-analysis/summary",
    "/api/cost-analysis/by-provider",
    "/api/cost-analysis/by-model",
    "/api/cost-analysis/agents",
    "/api/cost-analysis/recommendations",
    "/api/cost-analysis/budget-alerts",
    "/api/cost-analysis/pricing",
    "/api/agents/workforce/summary",
    "/api/agents/workforce/agents",
    "/api/agents/workforce/trends?months=24",
]


class DynamoCounter:
    """Counts DynamoDB requests, items read and write actions through botocore's event hooks."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items_read = 0
        self.write_actions = 0
        self.rollup_updates = 0

    def after_call(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        op = model.name
        self.requests[op] += 1
        if op in ("Query", "Scan"):
            self.items_read += int(parsed.get("ScannedCount", parsed.get("Count", 0)))
        elif op == "GetItem":
            self.items_read += 1 if parsed.get("Item") else 0
        elif op == "BatchGetItem":
            self.items_read += sum(len(v) for v in parsed.get("Responses", {}).values())

    def before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems":
            actions = params.get("TransactItems", [])
            self.write_actions += len(actions)
            self.rollup_updates += sum(1 for a in actions if "Update" in a)
        elif model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.write_actions += 1

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


@contextmanager
def counting() -> Iterator[DynamoCounter]:
    from costmetrics import aws

    counter = DynamoCounter()
    events = aws.dynamodb().meta.client.meta.events
    events.register("after-call.dynamodb", counter.after_call)
    events.register("before-parameter-build.dynamodb", counter.before_call)
    try:
        yield counter
    finally:
        events.unregister("after-call.dynamodb", counter.after_call)
        events.unregister("before-parameter-build.dynamodb", counter.before_call)


def stream_records(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stream INSERT records of events, as the events table would emit them (bypassing the API for volume)."""
    from costmetrics.events import validate_event

    records = []
    now = datetime.now(UTC)
    for seq, raw in enumerate(events):
        stored = validate_event(raw, workspace_id=WORKSPACE, now=now, retention_days=400)
        assert not isinstance(stored, str), stored
        item = stored.to_item(400)
        image = {k: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for k, v in item.items()}
        records.append(
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(10**20 + seq), "NewImage": image}}
        )
    return records


def month_events(count: int, start_index: int = 0) -> list[dict[str, Any]]:
    from tests.datasets import make_events

    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = max(now - timedelta(minutes=1), start + timedelta(minutes=1))
    models = {a: ["claude-haiku-3.5", "gpt-5.4"] for a in ("nova", "atlas", "pulse", "sage", "echo")}
    return make_events(count, start=start, end=end, agents=models, seed=start_index, prefix=f"b{start_index}")


def bench_rollup_batch() -> None:
    from costmetrics import stream

    events = [
        {
            **e,
            "eventType": "model_invocation",
            "details": {
                "model": ["claude-haiku-3.5", "gpt-5.4"][i % 2],
                "inputTokens": 1000,
                "outputTokens": 100,
            },
        }
        for i, e in enumerate(month_events(100, start_index=1))
    ]
    with counting() as counter:
        outcome = stream.process_records(stream_records(events))
    distinct = 1 + 5 + 10
    print("1. Rollup function, one stream batch of 100 events over 5 agents and 2 models")
    print(f"   distinct rollup items: {distinct}; events applied: {outcome.applied}")
    print(
        f"   DynamoDB requests: {dict(counter.requests)}; "
        f"write requests: {counter.requests['TransactWriteItems']}"
    )
    print(f"   rollup item updates: {counter.rollup_updates} (goal: ≤ {distinct} + a constant)")
    print(
        f"   all write actions: {counter.write_actions} (100 markers + rollup updates); "
        f"write units: {2 * counter.write_actions} (transactional writes cost 2 WCU per 1 KB item)"
    )


def load_month(total: int, loaded: int) -> int:
    from costmetrics import stream

    records_needed = total - loaded
    batch = 1000
    for offset in range(0, records_needed, batch):
        events = month_events(min(batch, records_needed - offset), start_index=loaded + offset + 1000)
        records = stream_records(events)
        for start in range(0, len(records), 100):
            outcome = stream.process_records(records[start : start + 100])
            assert not outcome.failed
    return total


def bench_reads(call: Callable[..., Any]) -> None:
    print("2. Read endpoints: DynamoDB requests and items read per call, by events in the month")
    rows: dict[str, list[str]] = {route: [] for route in READ_ROUTES}
    loaded = 0
    for total in (1_000,) if QUICK else (1_000, 100_000):
        started = time.perf_counter()
        loaded = load_month(total, loaded)
        print(f"   ({total:,} events rolled up in {time.perf_counter() - started:.0f} s)")
        for route in READ_ROUTES:
            with counting() as counter:
                path, _, query = route.partition("?")
                reply = call(path, query=query or None)
                assert reply.status == 200, reply.text
            rows[route].append(f"{counter.total_requests} requests / {counter.items_read} items")
    print(f"   {'endpoint':42} {'1,000 events':>26} {'100,000 events':>26}")
    for route, cells in rows.items():
        print(f"   {route:42} " + " ".join(f"{cell:>26}" for cell in cells))


def bench_imports(repeats: int = 7) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/common"), str(ROOT)])}

    def import_time(module: str) -> float:
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        samples = []
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            samples.append(float(out.stdout))
        return statistics.median(samples)

    baseline = import_time("boto3")
    print(
        f"3. Cold-start import (median of {repeats}, Python {sys.version.split()[0]}); bare `import boto3`: "
        f"{baseline * 1000:.0f} ms"
    )
    for name in sorted(resources("AWS::Serverless::Function")):
        module = function_module(name)
        seconds = import_time(module)
        print(
            f"   {name:24} {module:36} {seconds * 1000:6.0f} ms  {seconds / baseline:4.2f}× boto3"
            " (goal < 1.5×)"
        )


def main() -> None:
    quick = "--quick" in sys.argv  # skips the 100,000-event load (about 4 minutes)
    from tests.conftest import _emulated_stack
    from tests.harness import Api
    from tests.integration.rollup_support import register_agents

    with _emulated_stack():
        api = Api(WORKSPACE)
        register_agents(api, AGENTS)
        bench_rollup_batch()
    with _emulated_stack():
        api = Api(WORKSPACE)
        register_agents(api, AGENTS)
        global QUICK
        QUICK = quick
        bench_reads(api.get)
    bench_imports()


if __name__ == "__main__":
    main()
