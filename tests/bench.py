"""`make bench`: what the service costs to run, measured, never asserted as wall-clock in tests.

1. DynamoDB writes of the rollup function for one stream batch of 100 events over 5 agents and 2 models.
2. DynamoDB requests and items read per read endpoint with 1,000 and with 100,000 events in the month.
3. Cold start of each API function under Python 3.13, as a ratio to `import boto3`: importing its handler
   module, and its first request in a fresh process (imports, boto3 and client creation, the request
   against a stand-in AWS endpoint that answers at once).
4. The local stack (`make local`): ready time with the demo data (first start, and a restart that finds its
   data), the first SIEM feed poll without `since`, `costmetrics ingest` of 10,000 events flat out, and how
   far the rollups trail the ingestion (p95, from an event's acceptance to the counters that include it),
   flat out, at a steady 200 events/s for 30 s, and at 2 events/s sent one per request (where the stream's
   batching window is what the rollups wait for).
5. Write capacity per event, ingestion and rollups together (the event, its index entries, the marker and
   the counters), by DynamoDB's item-size, index and transaction rules, for stream batches of 100, 10 and 1,
   the batches the template's window gathers at 1 event/s, and a backfill, with the dollars per million
   events at the on-demand list price.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

sys.path[:0] = [str(__import__("pathlib").Path(__file__).resolve().parents[1] / "layers/common")]
import tests.conftest  # noqa: E402, F401 - the same fake credentials and Powertools settings as the tests
from costmetrics_cli.client import ApiClient  # noqa: E402
from costmetrics_cli.main import DEFAULT_PARALLEL  # noqa: E402
from costmetrics_cli.progress import Progress  # noqa: E402
from costmetrics_cli.stack import from_outputs  # noqa: E402
from costmetrics_cli.transfer import MAX_BATCH, ingest  # noqa: E402
from local_stack.template import ROOT, function_module, resources  # noqa: E402
from tests.capacity import metering  # noqa: E402
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
    from costmetrics.repositories import events as events_repo

    records = []
    now = datetime.now(UTC)
    for seq, raw in enumerate(events):
        stored = validate_event(raw, workspace_id=WORKSPACE, now=now, retention_days=400)
        assert not isinstance(stored, str), stored
        item = events_repo.item_of(stored, 400)
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


def recent_events(count: int) -> list[dict[str, Any]]:
    """A stream batch as it comes: events of the last few minutes (inside one hour when possible)."""
    from tests.datasets import make_events

    now = datetime.now(UTC)
    start = max(now - timedelta(minutes=10), now.replace(minute=0, second=0, microsecond=0))
    models = {a: ["claude-haiku-3.5", "gpt-5.4"] for a in ("nova", "atlas", "pulse", "sage", "echo")}
    return make_events(count, start=start, end=max(now, start + timedelta(seconds=1)), agents=models, seed=1)


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
        for i, e in enumerate(recent_events(100))
    ]
    with counting() as counter:
        outcome = stream.process_records(stream_records(events))
    # month items (1 workspace, 5 agents, 10 agent-models) + day and hour counters of the workspace and agents
    days = {(e["createdAt"][:10], e["agentId"]) for e in events}
    hours = {(e["createdAt"][:13], e["agentId"]) for e in events}
    distinct = 16 + len({d for d, _ in days}) + len(days) + len({h for h, _ in hours}) + len(hours)
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


def bench_planning(sizes: tuple[int, ...] = (100, 1_600, 6_400, 10_000)) -> None:
    """plan_chunks on batches far larger than the template's BatchSize (100): 50 agents, 3 models, a day."""
    from costmetrics.catalog import global_catalog
    from costmetrics.events import StoredEvent
    from costmetrics.rollups import Contribution, contributions, plan_chunks

    price = next(v for v in global_catalog() if v.model_id == "claude-haiku-3.5")
    start = datetime(2026, 3, 10, tzinfo=UTC)
    print("1b. Planning a stream batch into transactions (plan_chunks), by records in the batch")
    for size in sizes:
        entries = []
        for n in range(size):
            event = StoredEvent(
                workspace_id=WORKSPACE,
                id=f"p{n}",
                agent_id=f"agent-{n % 50}",
                event_type="model_invocation",
                created_at=start + timedelta(seconds=n * 86_400 // size),
                details={
                    "model": ("claude-haiku-3.5", "gpt-5.4", "gemini-2.5-pro")[n % 3],
                    "inputTokens": 10,
                    "outputTokens": 5,
                },
                ingested_at=start,
            )
            entries.append(Contribution(event, str(n), contributions(event, price)))
        began = time.perf_counter()
        chunks = plan_chunks(entries)
        elapsed = time.perf_counter() - began
        print(
            f"   {size:>6,} records: {elapsed * 1000:8.1f} ms ({elapsed * 1e6 / size:.0f} µs per record), "
            f"{len(chunks)} transactions"
        )


def load_month(total: int, loaded: int) -> int:
    """Events of the month into the events table (its indexes feed the activity log) and their stream
    records through the rollup logic, bypassing the API for volume."""
    from costmetrics import aws, stream
    from costmetrics.config import settings

    records_needed = total - loaded
    batch = 1000
    table = aws.table(settings().events_table)
    for offset in range(0, records_needed, batch):
        events = month_events(min(batch, records_needed - offset), start_index=loaded + offset + 1000)
        records = stream_records(events)
        with table.batch_writer() as writer:
            for record in records:
                image = record["dynamodb"]["NewImage"]
                writer.put_item(Item={k: (int(v["N"]) if "N" in v else v["S"]) for k, v in image.items()})
        for start in range(0, len(records), 100):
            outcome = stream.process_records(records[start : start + 100])
            assert not outcome.failed
    return total


def read_cost(counter: DynamoCounter, capacity: Any) -> str:
    return f"{counter.total_requests} req / {counter.items_read} items / {capacity.read_units:g} RRU"


def bench_reads(call: Callable[..., Any]) -> None:
    print(
        "2. Read endpoints: DynamoDB requests, items and read units per call (RRU by DynamoDB's rules;"
        " $0.125 per million), by events in the month"
    )
    rows: dict[str, list[str]] = {route: [] for route in READ_ROUTES}
    loaded = 0
    for total in (1_000,) if QUICK else (1_000, 100_000):
        started = time.perf_counter()
        loaded = load_month(total, loaded)
        print(f"   ({total:,} events rolled up in {time.perf_counter() - started:.0f} s)")
        for route in READ_ROUTES:
            with counting() as counter, metering() as capacity:
                path, _, query = route.partition("?")
                reply = call(path, query=query or None)
                assert reply.status == 200, reply.text
            rows[route].append(read_cost(counter, capacity))
        for name, measure in activity_measures(call).items():
            rows.setdefault(name, []).append(measure)
    print(f"   {'endpoint':54} {'1,000 events':>26} {'100,000 events':>26}")
    for route, cells in rows.items():
        print(f"   {route:54} " + " ".join(f"{cell:>26}" for cell in cells))


def activity_measures(call: Callable[..., Any]) -> dict[str, str]:
    """The activity log: page 1, a page at offset 5,000, the same page reached by cursor, and the exact
    total over the last 30 days (a 1-item page: what it reads is the total's cost)."""

    def measured(query: dict[str, str]) -> tuple[str, Any]:
        with counting() as counter, metering() as capacity:
            reply = call("/api/activity", query=query)
            assert reply.status == 200, reply.text
        return (
            f"{counter.total_requests} req / {counter.items_read} items / {capacity.read_units:g} RRU",
            reply.json,
        )

    found: dict[str, str] = {}
    found["GET /api/activity (page 1, limit 100)"], page = measured({"limit": "100"})
    total = page["pagination"]["total"]
    if total > 5_100:
        found["GET /api/activity (offset 5,000, limit 100)"], at_offset = measured(
            {"limit": "100", "offset": "5000"}
        )
        token = None
        for _ in range(50):  # walk to position 5,000 by cursor, unmeasured
            body = call(
                "/api/activity", query={"limit": "100"} | ({"nextToken": token} if token else {})
            ).json
            token = body["pagination"]["nextToken"]
        found["GET /api/activity (same page by nextToken)"], by_cursor = measured(
            {"limit": "100", "nextToken": token}
        )
        assert [i["id"] for i in by_cursor["data"]] == [i["id"] for i in at_offset["data"]]
    now = datetime.now(UTC)
    window = {
        "from": (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.123Z"),
        "to": now.strftime("%Y-%m-%dT%H:%M:%S.456Z"),
        "limit": "1",
    }
    found["GET /api/activity total over 30 days (limit 1)"], _ = measured(window)
    return found


def _seconds(command: list[str], env: dict[str, str]) -> float:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])  # the last line: a handler also prints its EMF metrics


def _ratio(measure: Callable[[], float], baseline: Callable[[], float], repeats: int) -> tuple[float, float]:
    """Median seconds of `measure` and its ratio to `baseline`, the two run in turn (a busy machine slows
    both alike)."""
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(measure())
        theirs.append(baseline())
    return statistics.median(ours), statistics.median(ours) / statistics.median(theirs)


def bench_imports(repeats: int = 7) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/common"), str(ROOT)])}

    def import_time(module: str) -> float:
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        return _seconds([sys.executable, "-c", code], env)

    baseline = statistics.median(import_time("boto3") for _ in range(repeats))
    print(
        f"3. Cold start (median of {repeats}, each run in turn with a bare `import boto3`, Python "
        f"{sys.version.split()[0]}); `import boto3` alone: {baseline * 1000:.0f} ms"
    )
    print("   importing the handler module:")
    for name in sorted(resources("AWS::Serverless::Function")):
        module = function_module(name)
        seconds, ratio = _ratio(lambda m=module: import_time(m), lambda: import_time("boto3"), repeats)  # type: ignore[misc]
        print(f"   {name:24} {module:36} {seconds * 1000:6.0f} ms  {ratio:4.2f}× boto3")
    bench_cold_start(lambda: import_time("boto3"), repeats)


# The first request of each API function, and the event file it is measured with.
FIRST_REQUESTS = {
    "HealthFunction": "health-get.json",
    "ActivityFunction": "activity-get.json",
    "AgentsFunction": "agents-list.json",
    "CostAnalysisFunction": "cost-analysis-summary.json",
    "WorkforceFunction": "workforce-summary.json",
    "DocsFunction": "docs-get.json",
    "ConsoleFunction": "console-get.json",
}
# What the stand-in endpoint answers, by X-Amz-Target (anything else: an empty JSON object).
STAND_IN_ANSWERS = {
    "DynamoDB_20120810.Query": {"Items": [], "Count": 0, "ScannedCount": 0},
    "DynamoDB_20120810.BatchGetItem": {"Responses": {}, "UnprocessedKeys": {}},
    "secretsmanager.GetSecretValue": {"ARN": "arn", "Name": "cursor", "SecretString": "k" * 32},
}
FIRST_REQUEST = """
import json, sys, time
from local_stack.apigw import LambdaContext
event = json.load(open(sys.argv[2]))
context = LambdaContext.named(sys.argv[3])
started = time.perf_counter()
module = __import__(sys.argv[1], fromlist=["lambda_handler"])
answer = module.lambda_handler(event, context)
assert answer["statusCode"] == 200, answer
print(time.perf_counter() - started)
"""

# The floor under every API function's first request: the libraries it is built on and nothing of ours
# (Powertools' REST resolver and logger, a pydantic model, boto3's DynamoDB resource and one GetItem).
LIBRARIES_ONLY = """
import sys, time
started = time.perf_counter()
import boto3, pydantic
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
class Answer(pydantic.BaseModel):
    item: dict
app, logger = APIGatewayRestResolver(), Logger()
@app.get("/api/health")
def health():
    item = boto3.resource("dynamodb").Table("t").get_item(Key={"pk": "x"}).get("Item", {})
    return Answer(item=item).model_dump()
answer = app.resolve({"httpMethod": "GET", "path": "/api/health", "resource": "/api/health",
                      "requestContext": {}, "headers": {}}, None)
assert answer["statusCode"] == 200, answer
print(time.perf_counter() - started)
"""


@contextmanager
def stand_in_aws() -> Iterator[str]:
    """An HTTP endpoint that answers every AWS JSON request at once, for timing the code, not the network."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Answer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(STAND_IN_ANSWERS.get(self.headers.get("X-Amz-Target", ""), {})).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("x-amzn-RequestId", "stand-in")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def bench_cold_start(baseline: Callable[[], float], repeats: int, *, deployed: bool = True) -> None:
    from costmetrics.config import TABLES, VARIABLES

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/common"), str(ROOT)]),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        **{VARIABLES[table]: f"bench-{table}" for table in TABLES},
        "CURSOR_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:cursor",
        "POWERTOOLS_TRACE_DISABLED": "true",  # deployed, X-Ray's SDK loads on the first request too
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    }
    print("   first request in a fresh process (tracing off; deployed, X-Ray's SDK adds its import):")
    with stand_in_aws() as endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
        for name, event in FIRST_REQUESTS.items():
            command = [
                sys.executable,
                "-c",
                FIRST_REQUEST,
                function_module(name),
                str(ROOT / "events" / event),
                name,
            ]
            function_env = {**env, "AWS_LAMBDA_FUNCTION_NAME": name}
            seconds, ratio = _ratio(lambda c=command, e=function_env: _seconds(c, e), baseline, repeats)  # type: ignore[misc]
            print(f"   {name:24} {event:36} {seconds * 1000:6.0f} ms  {ratio:4.2f}× boto3 (goal ≤ 1.5×)")
        command = [sys.executable, "-c", LIBRARIES_ONLY]
        seconds, ratio = _ratio(lambda: _seconds(command, env), baseline, repeats)
        label = "the libraries alone (the floor)"
        print(f"   {label:61} {seconds * 1000:6.0f} ms  {ratio:4.2f}× boto3")
        if deployed:  # `sam build` for this machine, then the same requests from its package
            bench_deployed_layout(env, baseline, repeats)


def bench_deployed_layout(env: dict[str, str], baseline: Callable[[], float], repeats: int) -> None:
    """The first request from the package as Lambda runs it: `sam build` for this machine, the function's
    directory then the layer's on the path, and nothing written back (Lambda's file system is read-only),
    once as `sam build` leaves the package (sources only) and once as `make build` does (with bytecode)."""
    import platform
    import shutil
    import tempfile
    from pathlib import Path

    architecture = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    with tempfile.TemporaryDirectory(prefix="bench-build-") as directory:
        sources, compiled = Path(directory) / "sources", Path(directory) / "compiled"
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        sam = [str(Path(sys.executable).with_name("sam")), "build", "--build-dir", str(sources)]
        built = subprocess.run(
            [*sam, "--parameter-overrides", f"Architecture={architecture}"],
            cwd=ROOT, env={**os.environ, "PATH": path, "SAM_CLI_TELEMETRY": "0"},
            capture_output=True, text=True,
        )  # fmt: skip
        if built.returncode != 0:
            print(f"   as deployed: not measured, sam build failed: {built.stderr.strip()[-300:]}")
            return
        shutil.copytree(sources, compiled, symlinks=True)
        # What `make build` does after sam build, to this copy.
        subprocess.run(["make", "-s", "bytecode", f"BUILD_DIR={compiled}"], cwd=ROOT, check=True)
        print(f"   first request from the package as deployed ({architecture} here), read-only:")
        for label, build in (("as sam build leaves it", sources), ("as make build leaves it", compiled)):
            for name, event in FIRST_REQUESTS.items():
                command = [sys.executable, "-c", FIRST_REQUEST, "app", str(ROOT / "events" / event), name]
                deployed = {
                    **env,
                    "AWS_LAMBDA_FUNCTION_NAME": name,
                    "PYTHONDONTWRITEBYTECODE": "1",
                    "PYTHONPATH": os.pathsep.join(
                        [str(build / name), str(build / "CommonLayer" / "python"), str(ROOT)]
                    ),
                }
                seconds, ratio = _ratio(lambda c=command, e=deployed: _seconds(c, e), baseline, repeats)  # type: ignore[misc]
                print(f"   {label:24} {name:36} {seconds * 1000:6.0f} ms  {ratio:4.2f}× boto3")


# --- 5. Capacity per event --------------------------------------------------------------------------------


def _kind(table: str, item: Any) -> str:
    """What a write is, for the capacity bench: the event, an index entry, a marker, a counter."""
    if "events" in table:
        return "event"
    if "rollups" in table:
        pk = item.get("pk", {}).get("S", "") if isinstance(item, dict) else ""
        return "marker" if "#E#" in pk else "counter"
    return table.rsplit("-", 1)[-1]


def bench_capacity() -> None:
    """WRU per event, ingestion (the event and its index entries) and rollups (markers and counters), for 100
    events of one hour delivered in stream batches of 1, 10 and 100, and for a backfill over 30 days."""
    from local_stack.poller import MappingConfig
    from tests.capacity import WRITE_PRICE
    from tests.conftest import _emulated_stack
    from tests.harness import Api, Stream
    from tests.integration.rollup_support import ingest, register_agents

    print("5. Write capacity per event (DynamoDB's rules; on-demand list price $0.625 per million WRU)")
    print(
        f"   {'scenario':40} {'ingest':>7} {'indexes':>8} {'markers':>8} {'counters':>9} {'total':>7}"
        f" {'$/M events':>11}"
    )
    now = datetime.now(UTC)
    last_hour = now - timedelta(minutes=59)
    # At a steady 1 event/s, Lambda gathers what the template's batching window lets it: its batches.
    window = MappingConfig.from_template("RollupFunction").batching_window
    steady = max(1, int(window))
    scenarios = [
        ("100 events of the last hour, batch 100", 100, last_hour, 100),
        ("100 events of the last hour, batch 10", 100, last_hour, 10),
        (f"1 event/s, {window:g} s window: batch {steady}", 100, last_hour, steady),
        ("100 events of the last hour, batch 1", 100, last_hour, 1),
        ("backfill: 100 over 30 days, batch 100", 100, now - timedelta(days=30), 100),
    ]
    from tests.datasets import make_events

    for title, count, start, batch in scenarios:
        with _emulated_stack() as stack:
            api = Api(WORKSPACE)
            register_agents(api, AGENTS)
            events = make_events(
                count,
                start=start,
                end=max(start + timedelta(minutes=59), now - timedelta(minutes=1))
                if batch != 100 or "backfill" not in title
                else now - timedelta(minutes=1),
                seed=3,
            )
            with metering(_kind) as ingested:
                ingest(api, events)
            stream = Stream(stack)
            with metering(_kind) as rolled:
                stream.drain(batch_size=batch)
            index = sum(v for k, v in ingested.wru.items() if "/" in k)
            parts = [ingested.wru["event"], index, rolled.wru["marker"], rolled.wru["counter"]]
            total = sum(parts)
            per = [part / count for part in parts]
            dollars = Decimal(str(total / count)) * WRITE_PRICE
            print(
                f"   {title:40} {per[0]:7.2f} {per[1]:8.2f} {per[2]:8.2f} {per[3]:9.2f} "
                f"{total / count:7.2f} {dollars:11.2f}"
            )


# --- 4. The local stack ---------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_stack(state: Any) -> tuple[subprocess.Popen[bytes], float, dict[str, Any]]:
    """`python -m local_stack` with the demo data in `state`: the process, seconds until ready, outputs."""
    import json

    env = {
        **os.environ,
        "COSTMETRICS_STATE_DIR": str(state),
        "COSTMETRICS_MOTO_PORT": str(_free_port()),
        "COSTMETRICS_API_PORT": str(_free_port()),
        "COSTMETRICS_ALERT_INTERVAL": "3600",
    }
    started = time.monotonic()
    with (state / "stack.log").open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_stack"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    outputs = state / "outputs.json"
    while not outputs.exists():
        if process.poll() is not None:
            raise RuntimeError((state / "stack.log").read_text())
        time.sleep(0.1)
    return process, time.monotonic() - started, json.loads(outputs.read_text())


def _stop_stack(process: subprocess.Popen[bytes]) -> None:
    import signal

    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)


@dataclass(frozen=True)
class FixedToken:
    """The CLI's token source for a token the bench already holds."""

    value: str

    def token(self) -> str:
        return self.value

    def renewed(self, rejected: str) -> str:
        return self.value


class Accepted(Progress):
    """The CLI's progress, recording when each count of events was settled (stored by the API)."""

    def __init__(self) -> None:
        super().__init__("bench", enabled=False)
        self.accepted: list[tuple[float, int]] = []

    def update(self, done: int, counts: Mapping[str, int] | None = None) -> None:
        self.accepted.append((time.monotonic(), done))


PACED_RATE = 200  # events/s: the steady traffic at which the rollups must stay within 5 s


def _call(outputs: dict[str, Any], token: str, method: str, path: str, body: Any = None) -> Any:
    import json
    import urllib.request

    request = urllib.request.Request(
        outputs["ApiUrl"] + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=300) as reply:
        return json.loads(reply.read())


def _paced(lines: list[tuple[int, str]], rate: float | None) -> Iterator[tuple[int, str]]:
    """The lines, the n-th not before n / rate seconds from the first (all at once without a rate)."""
    started = time.monotonic()
    for position, line in enumerate(lines):
        if rate is not None:
            delay = started + position / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        yield line


def ingest_and_watch(
    outputs: dict[str, Any],
    token: str,
    events: int,
    now: datetime,
    *,
    prefix: str,
    offered: float | None = None,
    batch_size: int = MAX_BATCH,
) -> tuple[float, float]:
    """Sends `events` new events with `costmetrics ingest`'s own code (its default requests in flight), at
    the `offered` rate or flat out, while a reader watches the month's counters twice a second. Returns the
    events/s sent and the p95 of the lag from a batch's acceptance to the first reading that includes it
    (so it errs on the long side by up to half a second)."""
    import json
    import threading

    from tests.datasets import make_events

    sent = make_events(events, start=now - timedelta(days=2), end=now - timedelta(minutes=1), prefix=prefix)
    sent = [{**e, "agentId": f"bench-{e['agentId']}"} for e in sent]
    lines = [(number, json.dumps(event)) for number, event in enumerate(sent, 1)]
    trends = "/api/agents/workforce/trends?months=2"
    before = sum(row["events"] for row in _call(outputs, token, "GET", trends)["trends"])
    counted: list[tuple[float, int]] = []  # (when, events of this run the month's counters include)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set() or not counted or counted[-1][1] < events:
            rows = _call(outputs, token, "GET", trends)["trends"]
            counted.append((time.monotonic(), sum(row["events"] for row in rows) - before))
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    progress = Accepted()
    started = time.monotonic()
    client = ApiClient(from_outputs(outputs, label="bench", source="bench"), FixedToken(token))
    report = ingest(
        client, _paced(lines, offered), batch_size=batch_size, parallel=DEFAULT_PARALLEL, progress=progress
    )
    elapsed = time.monotonic() - started
    done.set()
    watcher.join(timeout=600)
    assert report.error is None, report.error
    assert report.sent == events, report
    lags = []
    for when, total in progress.accepted:
        seen = next((at for at, count in counted if count >= total), None)
        if seen is not None:
            lags.append(max(0.0, seen - when))
    lags.sort()
    p95 = lags[int(len(lags) * 0.95) - 1] if lags else float("nan")
    return events / elapsed, p95


def bench_local_stack(events: int = 10_000) -> None:
    import tempfile
    from pathlib import Path

    def token(state: Path, username: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "local_stack.token", username],
            cwd=ROOT, env={**os.environ, "COSTMETRICS_STATE_DIR": str(state)},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    print("4. The local stack (make local), on this machine")
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as directory:
        state = Path(directory)
        process, first, outputs = _start_stack(state)
        demo = outputs["Demo"]["events"]
        print(f"   ready with the demo data ({demo:,} events), first start: {first:6.1f} s (goal ≤ 30 s)")
        _stop_stack(process)
        process, again, outputs = _start_stack(state)
        print(f"   ready again, its data restored:                {again:6.1f} s")
        try:
            admin = token(state, "demo@example.com")
            # The first SIEM poll without `since` walks the retention period from its start.
            started = time.monotonic()
            _call(outputs, admin, "GET", "/api/activity/feed?limit=100")
            poll = time.monotonic() - started
            print(f"   first /api/activity/feed poll without since: {poll:6.2f} s (goal ≤ 1 s)")
            for agent in AGENTS:
                whole = {k: v for k, v in agent.items() if k != "id"}  # a PUT gives every field
                _call(outputs, admin, "PUT", f"/api/agents/bench-{agent['id']}", whole)
            now = datetime.now(UTC)
            # Flat out: as fast as `costmetrics ingest` goes, the rollups trailing as they may.
            rate, lag = ingest_and_watch(outputs, admin, events, now, prefix="flat")
            print(
                f"   costmetrics ingest of {events:,} events ({DEFAULT_PARALLEL} requests in flight): "
                f"{rate:6.0f} events/s (goal ≥ 200)"
            )
            print(f"   rollups behind, p95, ingesting flat out:       {lag:6.1f} s")
            # The goal's steady traffic: 200 events/s offered for 30 s.
            rate, lag = ingest_and_watch(outputs, admin, 6000, now, prefix="paced", offered=PACED_RATE)
            print(
                f"   rollups behind, p95, ingesting at {PACED_RATE} events/s: {lag:6.1f} s (goal ≤ 5 s;"
                f" {rate:.0f} events/s sent)"
            )
            # Low traffic, one event per request: the stream's batching window is what the rollups wait.
            rate, lag = ingest_and_watch(outputs, admin, 60, now, prefix="slow", offered=2, batch_size=1)
            print(f"   rollups behind, p95, at 2 events/s, one per request: {lag:6.1f} s (goal ≤ 5 s)")
        finally:
            _stop_stack(process)


def main() -> None:
    quick = "--quick" in sys.argv  # skips the 100,000-event load (about 4 minutes)
    if "--local-stack" in sys.argv:  # only section 4
        bench_local_stack()
        return
    if "--capacity" in sys.argv:  # only section 5
        bench_capacity()
        return
    if "--planning" in sys.argv:  # only section 1b
        bench_planning()
        return
    if "--cold-start" in sys.argv:  # only section 3
        bench_imports()
        return
    from tests.conftest import _emulated_stack
    from tests.harness import Api
    from tests.integration.rollup_support import register_agents

    reads_only = "--reads" in sys.argv  # only section 2
    if not reads_only:
        with _emulated_stack():
            api = Api(WORKSPACE)
            register_agents(api, AGENTS)
            bench_rollup_batch()
        bench_planning()
    with _emulated_stack():
        api = Api(WORKSPACE)
        register_agents(api, AGENTS)
        global QUICK
        QUICK = quick
        bench_reads(api.get)
    if reads_only:
        return
    bench_imports()
    bench_local_stack()
    bench_capacity()


if __name__ == "__main__":
    main()
