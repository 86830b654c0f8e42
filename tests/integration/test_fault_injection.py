"""Faults injected into the rollup and budget-alert functions while they run, at chosen calls in the middle
of a batch: throttling that outlasted the SDK's retries, transaction conflicts, conditional-check failures
from a racing delivery, a write applied whose answer is lost, and the function dying (Lambda's timeout)
before or after a write. The stream is then delivered again as Lambda's event source mapping does (from
the lowest reported failure, bisected after a function error, replayed whole, out of order, overlapping),
and every rollup must equal the figures computed from the raw events: nothing counted twice, nothing lost.

Faults are injected with botocore event hooks on the function's own client, so the handler, the SDK and
moto run unchanged. COSTMETRICS_FAULT_EXAMPLES sets the hypothesis examples (25; `make soak` runs more);
the faults injected are counted by kind and written as JSON to COSTMETRICS_FAULT_REPORT when it is set.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.exceptions import ReadTimeoutError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costmetrics import aws, periods
from costmetrics import stream as stream_logic
from costmetrics.repositories import rollups as rollups_repo
from functions.budget_alerts.app import AlertsNotSent
from local_stack.apigw import LambdaContext
from local_stack.poller import MappingConfig
from tests import truth
from tests.clock import INSTANT
from tests.datasets import AGENTS, agent_body, make_events, months_back
from tests.harness import Api, Stream, handler_of
from tests.integration.rollup_support import assert_rollups_equal_truth, ingest, register_agents
from tests.integration.test_budget_alerts import received, run_alerts, spend, subscribe

WORKSPACE = "ws-faults"
EXAMPLES = int(os.environ.get("COSTMETRICS_FAULT_EXAMPLES", "25"))
# Every fault injected by this module, by kind: checked by each test, reported at the end.
INJECTED: Counter[str] = Counter()

THROTTLED = "throttled"  # ProvisionedThroughputExceededException once the SDK's retries are spent
THROTTLING = "throttling"  # ThrottlingException, the same
CONFLICT = "transaction_conflict"  # TransactionCanceledException, TransactionConflict on one item
RACE = "racing_delivery"  # another delivery applies some of the transaction's events first: real CCFs
LOST_ANSWER = "lost_answer"  # the write is applied and its answer lost; the SDK sends it again
ANSWER_NEVER_CAME = "applied_but_reported"  # applied; the answer lost beyond the SDK's retries
DIED_BEFORE = "died_before_write"  # Lambda's timeout just before a write
DIED_AFTER = "died_after_write"  # Lambda's timeout just after a write, before the next one
PRICES_THROTTLED = "prices_read_throttled"  # the price catalog Query throttled
WRITE_FAULTS = (
    THROTTLED,
    THROTTLING,
    CONFLICT,
    RACE,
    LOST_ANSWER,
    ANSWER_NEVER_CAME,
    DIED_BEFORE,
    DIED_AFTER,
)


@pytest.fixture(scope="module", autouse=True)
def fault_report() -> Iterator[None]:
    yield
    print(f"\nfaults injected: {sum(INJECTED.values())} {dict(sorted(INJECTED.items()))}")
    if path := os.environ.get("COSTMETRICS_FAULT_REPORT"):
        Path(path).write_text(json.dumps({"total": sum(INJECTED.values()), "by_kind": dict(INJECTED)}))


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's retry delays and the function's conflict back-off, recorded instead of slept."""
    slept: list[float] = []

    class Clock:
        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            slept.append(seconds)

    monkeypatch.setattr(botocore.endpoint, "time", Clock())
    kwdefaults = stream_logic.process_records.__kwdefaults__
    assert kwdefaults is not None
    monkeypatch.setitem(kwdefaults, "sleep", slept.append)
    return slept


# --- The rollup function's surroundings: Lambda's delivery, and the faults -----------------------------


class FunctionDied(BaseException):
    """The invocation stops where it is, as at Lambda's timeout: no except clause of the handler runs."""


Record = dict[str, Any]


def sequence(record: Record) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def event_id(record: Record) -> str:
    return str(record["dynamodb"]["NewImage"]["id"]["S"])


MAPPING = MappingConfig.from_template("RollupFunction")


@dataclass
class Lambda:
    """The event source mapping of template.yaml for one shard: batches of `batch_size`; a response naming
    failed records is retried from the lowest of them (that record and every later one of the batch); a
    function error (an exception, a timeout) splits the batch in two at `cut` (Lambda: the middle), each
    part retried on its own; after `max_retries` the records are discarded and their range reported to
    the DLQ. (The stack's own poller, local_stack/poller.py, is tested against the same rules elsewhere.)"""

    batch_size: int = MAPPING.batch_size
    cut: Callable[[int], int] = lambda n: n // 2
    max_retries: int = MAPPING.max_retries
    invocations: int = 0
    function_errors: int = 0
    partial_failures: int = 0
    discarded: list[list[Record]] = field(default_factory=list)

    def invoke(self, batch: list[Record]) -> int | None:
        """None when the batch went through, else the index to retry from (-1 after a function error)."""
        self.invocations += 1
        try:
            result = handler_of("functions.rollup.app")(
                {"Records": batch}, LambdaContext.named("RollupFunction")
            )
        except (FunctionDied, Exception):
            self.function_errors += 1
            return -1
        positions = {sequence(r): i for i, r in enumerate(batch)}
        failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
        assert set(failed) <= set(positions), "a reported failure must name a record of the batch"
        if not failed:
            return None
        self.partial_failures += 1
        return min(positions[s] for s in failed)

    def deliver(self, records: list[Record]) -> None:
        for start in range(0, len(records), self.batch_size):
            self._through(records[start : start + self.batch_size], retries=0)

    def _through(self, batch: list[Record], retries: int) -> None:
        while batch:
            retry_from = self.invoke(batch)
            if retry_from is None:
                return
            if retry_from < 0 and len(batch) > 1:
                cut = min(max(self.cut(len(batch)), 1), len(batch) - 1)
                self._through(batch[:cut], retries)
                self._through(batch[cut:], retries)
                return
            batch = batch[max(retry_from, 0) :]
            retries += 1
            if retries > self.max_retries:
                self.discarded.append(batch)
                return


class Faults:
    """botocore hooks on the rollup function's DynamoDB client: TransactWriteItems calls are numbered from
    1 (the SDK's own retries of a call keep its number) and `plan[n]` is injected into call n; Query calls
    (the price catalog) are numbered apart, `price_plan` their faults. Calls made by a racing delivery are
    neither numbered nor faulted."""

    def __init__(
        self,
        records: list[Record],
        plan: dict[int, str] | None = None,
        price_plan: set[int] | None = None,
        *,
        seed: int = 0,
        conflicts_in_a_row: int = 1,
    ) -> None:
        self.client = aws.dynamodb_client()
        self.by_id = {event_id(r): r for r in records}
        self.plan = dict(plan or {})
        self.price_plan = set(price_plan or ())
        self.rng = random.Random(seed)
        self.conflicts_in_a_row = conflicts_in_a_row
        self.calls = 0
        self.queries = 0
        self.injected: Counter[str] = Counter()
        self.applied: set[str] = set()  # ids of the events whose writes went through
        self._current: int | None = None
        self._current_ids: list[str] = []
        self._lose_answer = False
        self._conflicts_left = 0
        self._suspended = False
        self._hooks = [
            ("before-call.dynamodb.TransactWriteItems", self._before_write, "register"),
            ("after-call.dynamodb.TransactWriteItems", self._after_write, "register"),
            ("before-send", self._after_the_store_answered, "register_last"),
            ("before-call.dynamodb.Query", self._before_query, "register"),
        ]

    def __enter__(self) -> Faults:
        for event, hook, how in self._hooks:
            getattr(self.client.meta.events, how)(event, hook, unique_id=f"fault-{event}")
        return self

    def __exit__(self, *exc: object) -> None:
        for event, _hook, _ in self._hooks:
            self.client.meta.events.unregister(event, unique_id=f"fault-{event}")
        INJECTED.update(self.injected)

    def _error(self, code: str, message: str, **extra: Any) -> Exception:
        response: dict[str, Any] = {"Error": {"Code": code, "Message": message}, **extra}
        response["ResponseMetadata"] = {"HTTPStatusCode": 400}
        error: Exception = self.client.exceptions.from_code(code)(response, "TransactWriteItems")
        return error

    def _before_write(self, params: dict[str, Any], **_: Any) -> None:
        if self._suspended:
            return
        self.calls += 1
        self._current = self.calls
        actions = json.loads(params["body"])["TransactItems"]
        self._current_ids = [a["Put"]["Item"]["eventId"]["S"] for a in actions if "Put" in a]
        kind = self.plan.get(self.calls)
        if kind is None and self._conflicts_left:
            kind, self._conflicts_left = CONFLICT, self._conflicts_left - 1
        elif kind == CONFLICT:
            # The function's own retries of this transaction (the next calls) conflict too, if asked.
            self._conflicts_left = self.conflicts_in_a_row - 1
        if kind in (None, LOST_ANSWER, ANSWER_NEVER_CAME, DIED_AFTER):
            self._lose_answer = kind == LOST_ANSWER
            return  # these take effect once the store has answered
        self.injected[str(kind)] += 1
        if kind == THROTTLED:
            raise self._error(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            )
        if kind == THROTTLING:
            raise self._error("ThrottlingException", "Throughput exceeds the current capacity of your table.")
        if kind == CONFLICT:
            reasons = [{"Code": "None"} for _ in actions]
            reasons[self.rng.randrange(len(actions))] = {
                "Code": "TransactionConflict",
                "Message": "Transaction is ongoing for the item",
            }
            raise self._error(
                "TransactionCanceledException",
                "Transaction cancelled, please refer cancellation reasons for specific reasons",
                CancellationReasons=reasons,
            )
        if kind == RACE:
            racing = self.rng.sample(self._current_ids, max(1, len(self._current_ids) // 2))
            self._suspended = True
            try:
                outcome = stream_logic.process_records([self.by_id[i] for i in racing])
            finally:
                self._suspended = False
            assert not outcome.failed
            self.applied.update(racing)
            return  # the transaction goes on and meets the markers the racing delivery wrote
        if kind == DIED_BEFORE:
            raise FunctionDied(f"timed out before write {self.calls}")

    def _after_the_store_answered(self, request: Any, **_: Any) -> None:
        """Runs after moto has handled the request (registered last on every before-send)."""
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        if self._lose_answer and target.endswith(".TransactWriteItems"):
            self._lose_answer = False  # the SDK's retry of the call gets its answer
            self.injected[LOST_ANSWER] += 1
            self.applied.update(self._current_ids)
            raise ReadTimeoutError(endpoint_url=request.url)

    def _after_write(self, http_response: Any, **_: Any) -> None:
        if self._suspended or http_response.status_code != 200:
            return
        self.applied.update(self._current_ids)
        kind = self.plan.get(self._current or 0)
        if kind == ANSWER_NEVER_CAME:
            self.injected[kind] += 1
            raise ReadTimeoutError(endpoint_url=http_response.url)
        if kind == DIED_AFTER:
            self.injected[kind] += 1
            raise FunctionDied(f"timed out after write {self._current}")

    def _before_query(self, **_: Any) -> None:
        if self._suspended:
            return
        self.queries += 1
        if self.queries in self.price_plan:
            self.injected[PRICES_THROTTLED] += 1
            raise self._error(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            )


# --- The data: a realistic stream, the rollups it leads to, and the truth from the raw events ----------

NOW = INSTANT
COUNTER_KINDS = {"day", "agent_day", "hour", "agent_hour"}


def realistic_events() -> list[dict[str, Any]]:
    """What a stream holds: five agents' events of the last hours, with late arrivals of last month among
    them, so that a batch spans two months, days and hours, agents and models."""
    recent = make_events(200, start=NOW - timedelta(hours=6), end=NOW - timedelta(minutes=1), seed=41)
    late = make_events(16, start=months_back(NOW, 1), end=months_back(NOW, 0), seed=42, prefix="late")
    # This month's events however young the month is (in its first minute the last 6 hours are last month's)
    this_month = make_events(24, start=months_back(NOW, 0), end=NOW, seed=44, prefix="now")
    rng = random.Random(43)
    events = list(recent)
    for event in late + this_month:
        events.insert(rng.randrange(len(events) + 1), event)
    return events


@dataclass
class State:
    rollups: dict[str, dict[str, Any]]  # the workspace's rollup items by sort key
    markers: set[str]  # ids of the events marked as applied


def scan(stack: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of the rollups table (a test may Scan; the service never does)."""
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(stack.outputs["RollupsTableName"])
    items: list[dict[str, Any]] = []
    while True:
        page = table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def snapshot(stack: Any) -> State:
    items = scan(stack)
    markers = [i for i in items if str(i["pk"]).startswith(f"{WORKSPACE}#E#")]
    assert all(i["pk"] == f"{WORKSPACE}#E#{i['eventId']}" for i in markers)
    return State(
        {str(i["sk"]): i for i in items if i["pk"] == WORKSPACE}, {str(i["eventId"]) for i in markers}
    )


def reset(stack: Any) -> None:
    """Deletes the workspace's rollups and markers (the alert tests' workspaces stay)."""
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(stack.outputs["RollupsTableName"])
    with table.batch_writer() as batch:
        for item in scan(stack, ProjectionExpression="pk, sk"):
            if item["pk"] == WORKSPACE or str(item["pk"]).startswith(f"{WORKSPACE}#E#"):
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})


def expected_counters(events: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """The activity log's counters per UTC day and hour, of the workspace and of each agent."""
    counters: dict[str, Counter[str]] = {}
    for event in {e["id"]: e for e in events}.values():
        day, hour, agent = event["createdAt"][:10], event["createdAt"][:13], event["agentId"]
        for sk in (f"DT#{day}", f"DA#{agent}#{day}", f"HT#{hour}", f"HA#{agent}#{hour}"):
            counters.setdefault(sk, Counter())[event["eventType"]] += 1
    return counters


def assert_exact(state: State, events: list[dict[str, Any]], clean: State | None = None) -> None:
    """The rollups hold `events` exactly once: each marked once, every counter and cost equal to the truth
    from the raw events, and (given the rollups of a fault-free delivery) every item identical to them."""
    assert state.markers == {e["id"] for e in events}
    assert_rollups_equal_truth(state.rollups, truth.compute(events))
    counters = {sk: i for sk, i in state.rollups.items() if i.get("kind") in COUNTER_KINDS}
    expected = expected_counters(events)
    assert set(counters) == set(expected)
    for sk, counts in expected.items():
        assert int(counters[sk]["events"]) == sum(counts.values()), sk
        assert {t: int(counters[sk][f"evt_{t}"]) for t in counts} == dict(counts), sk
    kinds = {i.get("kind") for i in state.rollups.values()}
    assert kinds <= {"workspace", "agent", "agent_model", *COUNTER_KINDS}, kinds
    if clean is not None:
        assert state.rollups == clean.rollups


@dataclass
class Loaded:
    stack: Any
    records: list[Record]
    events: list[dict[str, Any]]
    clean: State  # the rollups after one fault-free delivery

    def of(self, records: list[Record]) -> list[dict[str, Any]]:
        """The source events of `records`."""
        ids = {event_id(r) for r in records}
        return [e for e in self.events if e["id"] in ids]

    def applied(self, ids: set[str]) -> list[dict[str, Any]]:
        return [e for e in self.events if e["id"] in ids]


@pytest.fixture(scope="module")
def prepared(shared_stack: Any) -> Loaded:
    """240 events ingested through the API and their stream records; the rollups of a fault-free delivery,
    checked against the truth. These agents have no budget: the alert tests have workspaces of their own."""
    api = Api(WORKSPACE)
    register_agents(api, [{**agent, "cost_budget_monthly": 0} for agent in AGENTS])
    events = realistic_events()
    ingest(api, events)
    records = Stream(shared_stack).pending()
    assert len(records) == len(events)
    Lambda().deliver(records)
    clean = snapshot(shared_stack)
    assert_exact(clean, events)
    assert {e["createdAt"][:7] for e in events} == {months_back(NOW, 1).strftime("%Y-%m"), f"{NOW:%Y-%m}"}
    return Loaded(shared_stack, records, events, clean)


@pytest.fixture
def loaded(prepared: Loaded) -> Loaded:
    """The prepared stream with the workspace's rollups cleared: nothing delivered yet."""
    reset(prepared.stack)
    return prepared


def invoke(batch: list[Record]) -> set[str]:
    """The rollup handler on one batch; the sequence numbers it reports as failed."""
    result = handler_of("functions.rollup.app")({"Records": batch}, LambdaContext.named("RollupFunction"))
    return {f["itemIdentifier"] for f in result["batchItemFailures"]}


def retry_from_lowest(batch: list[Record], failed: set[str]) -> list[Record]:
    """What Lambda delivers after a response naming `failed`: the lowest of them and every later record."""
    index = min(i for i, r in enumerate(batch) if sequence(r) in failed)
    return batch[index:]


# --- (a) throttling, (b) conflicts and conditional-check failures, (c) timeouts, (d) redeliveries -------


def test_the_delivery_follows_the_templates_event_source_mapping() -> None:
    assert MAPPING.report_item_failures
    assert MAPPING.bisect
    assert (MAPPING.batch_size, MAPPING.max_retries) == (100, 3)


@pytest.mark.parametrize("kind", [THROTTLED, THROTTLING])
def test_throttling_mid_batch_reports_its_records_and_the_retry_applies_them_once(
    loaded: Loaded, kind: str
) -> None:
    # Given a batch of 100 records that the function writes in three transactions
    batch = loaded.records[:100]
    # When the second one is throttled beyond the SDK's retries
    with Faults(loaded.records, {2: kind}) as faults:
        failed = invoke(batch)
    # Then exactly that transaction's records are reported, and the first and third are applied, in whole
    assert faults.injected == {kind: 1}
    assert faults.calls >= 3, "the fault must land in the middle of the batch"
    assert 0 < len(failed) < len(batch)
    assert_exact(snapshot(loaded.stack), loaded.of([r for r in batch if sequence(r) not in failed]))
    # When Lambda retries from the lowest reported record (applied records after it come again)
    retry = retry_from_lowest(batch, failed)
    assert len(retry) > len(failed)
    assert invoke(retry) == set()
    # Then every event of the batch counts once, and after the rest of the stream the rollups are those
    # of a delivery without faults
    assert_exact(snapshot(loaded.stack), loaded.of(batch))
    if kind == THROTTLED:
        Lambda().deliver(loaded.records[100:])
        assert_exact(snapshot(loaded.stack), loaded.events, loaded.clean)


@pytest.mark.parametrize(
    "in_a_row", [1, stream_logic.MAX_CONFLICT_RETRIES, stream_logic.MAX_CONFLICT_RETRIES + 1]
)
def test_transaction_conflicts_are_retried_in_the_function_and_reported_only_when_they_persist(
    loaded: Loaded, no_waiting: list[float], in_a_row: int
) -> None:
    batch = loaded.records[:100]
    with Faults(loaded.records, {2: CONFLICT}, conflicts_in_a_row=in_a_row, seed=in_a_row) as faults:
        failed = invoke(batch)
    assert faults.injected == {CONFLICT: in_a_row}
    backoffs = min(in_a_row, stream_logic.MAX_CONFLICT_RETRIES)
    assert len(no_waiting) == backoffs, "one back-off per conflict the function retries itself"
    if in_a_row <= stream_logic.MAX_CONFLICT_RETRIES:
        assert failed == set()
    else:
        assert 0 < len(failed) < len(batch)
        assert_exact(snapshot(loaded.stack), loaded.of([r for r in batch if sequence(r) not in failed]))
        assert invoke(retry_from_lowest(batch, failed)) == set()
    assert_exact(snapshot(loaded.stack), loaded.of(batch))


def test_conditional_check_failures_mid_batch_skip_exactly_the_events_already_applied(loaded: Loaded) -> None:
    # Given a batch whose second transaction meets markers that a racing delivery has just written
    batch = loaded.records[:100]
    with Faults(loaded.records, {2: RACE}, seed=5) as faults:
        outcome = stream_logic.process_records(batch)
    # Then the store cancels it with ConditionalCheckFailed on those markers; the function applies the
    # transaction's other events and never the raced ones again
    assert faults.injected == {RACE: 1}
    assert outcome.failed == []
    assert 0 < outcome.already_applied < len(batch)
    assert outcome.applied + outcome.already_applied == len(batch)
    assert_exact(snapshot(loaded.stack), loaded.of(batch))


@pytest.mark.parametrize("kind", [LOST_ANSWER, ANSWER_NEVER_CAME])
def test_a_write_applied_whose_answer_is_lost_is_counted_once(
    loaded: Loaded, no_waiting: list[float], kind: str
) -> None:
    batch = loaded.records[:100]
    with Faults(loaded.records, {2: kind}) as faults:
        failed = invoke(batch)
    assert faults.injected == {kind: 1}
    if kind == LOST_ANSWER:
        # The SDK sent the call again; it met the markers of its first attempt and changed nothing.
        assert no_waiting, "the SDK waited before sending the call again"
        assert failed == set()
    else:
        # The error reached the function: the applied transaction's records are reported, and Lambda's
        # retry meets their markers.
        assert failed
        assert invoke(retry_from_lowest(batch, failed)) == set()
    assert_exact(snapshot(loaded.stack), loaded.of(batch))


@pytest.mark.parametrize("kind", [DIED_BEFORE, DIED_AFTER])
def test_a_timeout_between_two_writes_then_lambdas_bisected_retries_apply_each_event_once(
    loaded: Loaded, kind: str
) -> None:
    # Given a batch whose invocation dies (Lambda's timeout) just before or just after its second write
    batch = loaded.records[:100]
    with Faults(loaded.records, {2: kind}) as faults, pytest.raises(FunctionDied):
        invoke(batch)
    # Then the writes that went through are applied, in whole, and nothing else
    assert faults.injected == {kind: 1}
    assert 0 < len(faults.applied) < len(batch)
    assert_exact(snapshot(loaded.stack), loaded.applied(faults.applied))
    # When Lambda bisects the batch after the function error and retries each half on its own (here the
    # second half first: a different subset, out of order), and later the whole batch comes again
    for part in (batch[50:], batch[:50], batch):
        assert invoke(part) == set()
    # Then each event counts once
    assert_exact(snapshot(loaded.stack), loaded.of(batch))


def test_a_price_read_throttled_mid_batch_reports_the_event_and_the_retry_applies_it(loaded: Loaded) -> None:
    batch = loaded.records[:100]
    with Faults(loaded.records, price_plan={1}) as faults:
        failed = invoke(batch)
    assert faults.injected == {PRICES_THROTTLED: 1}
    assert len(failed) == 1, "only the event whose price read failed; the next one reads the prices again"
    assert_exact(snapshot(loaded.stack), loaded.of([r for r in batch if sequence(r) not in failed]))
    assert invoke(retry_from_lowest(batch, failed)) == set()
    assert_exact(snapshot(loaded.stack), loaded.of(batch))


def test_a_batch_twice_then_out_of_order_and_overlapping_redeliveries_change_nothing(loaded: Loaded) -> None:
    records = loaded.records[:160]
    assert invoke(records[:100]) == set()
    before = snapshot(loaded.stack)
    assert invoke(records[:100]) == set()  # the same batch again
    assert snapshot(loaded.stack) == before
    # Later records before earlier ones, in windows that overlap each other and the first batch's edge
    for start in (100, 70, 40):
        assert invoke(list(reversed(records[start : start + 60]))) == set()
    assert_exact(snapshot(loaded.stack), loaded.of(records))


# --- Random faults at random calls, with random split points -------------------------------------------


@dataclass(frozen=True)
class Plan:
    batch_size: int
    faults: dict[int, str]  # write call number -> fault
    price_faults: frozenset[int]  # price-read call numbers throttled
    cut_tenths: int  # where a bisection cuts a batch, in tenths of it
    replay: tuple[int, int, bool] | None  # (start, length, reversed): a window delivered again afterwards
    seed: int


def test_random_faults_mid_batch_never_count_an_event_twice_nor_lose_one(loaded: Loaded) -> None:
    # The first 100 records of the stream: one to three batches, whatever the batch size drawn.
    records = loaded.records[:100]
    events = loaded.of(records)
    with Faults(records) as clean_run:
        Lambda().deliver(records)
    clean = snapshot(loaded.stack)
    writes = clean_run.calls
    examples: list[Counter[str]] = []
    fault = st.sampled_from(WRITE_FAULTS)

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        plan=st.builds(
            Plan,
            batch_size=st.sampled_from([100, 64, 37]),
            # One fault among the first writes (it always lands), up to three more anywhere after.
            faults=st.builds(
                lambda first, more: more | first,
                st.dictionaries(st.integers(1, writes), fault, min_size=1, max_size=1),
                st.dictionaries(st.integers(1, 3 * writes), fault, max_size=3),
            ),
            price_faults=st.frozensets(st.integers(1, 4), max_size=1),
            cut_tenths=st.integers(1, 9),
            replay=st.none() | st.tuples(st.integers(0, len(records) - 1), st.integers(1, 40), st.booleans()),
            seed=st.integers(0, 2**16),
        )
    )
    def run(plan: Plan) -> None:
        reset(loaded.stack)
        delivery = Lambda(batch_size=plan.batch_size, cut=lambda size: size * plan.cut_tenths // 10)
        with Faults(records, plan.faults, set(plan.price_faults), seed=plan.seed) as faults:
            delivery.deliver(records)
            # A range discarded after its retries is replayed from the stream, as its DLQ record allows.
            for _ in range(10):
                discarded, delivery.discarded = delivery.discarded, []
                for part in discarded:
                    delivery.deliver(part)
            assert not delivery.discarded
            if plan.replay:
                start, length, backwards = plan.replay
                window = records[start : start + length]
                delivery.deliver(window[::-1] if backwards else window)
        assert faults.injected, "at least one fault must land"
        examples.append(faults.injected)
        assert_exact(snapshot(loaded.stack), events, clean)

    run()
    assert len(examples) >= min(EXAMPLES, 10)
    # Each kind is also injected on its own by the tests above; here they come mixed, wherever they land.
    kinds = Counter(k for injected in examples for k in injected)
    assert len(kinds) >= min(EXAMPLES, 5), kinds


# --- The budget-alert function: a notice is published, then recorded -----------------------------------

ALERT_SETTINGS = {"thresholds": [50, 80, 100], "forecast": False}
# (agent, budget, dollars spent): 3 + 2 + 3 notices under ALERT_SETTINGS, none for an agent without budget.
ALERT_FLEET = [("atlas", 10, 12), ("nova", 20, 17), ("sage", 5, 6), ("free", 0, 30)]
ALERT_NOTICES = 8


@dataclass
class AlertFleet:
    stack: Any
    workspace: str
    queue: str

    def notices_recorded(self) -> set[tuple[str, str]]:
        return rollups_repo.notices_of_month(self.workspace, periods.current_month())

    def forget_notices(self) -> None:
        """Deletes the workspace's notice records and empties its queue: a new month, as it were."""
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(
            self.stack.outputs["RollupsTableName"]
        )
        for item in table.query(
            KeyConditionExpression="pk = :ws AND begins_with(sk, :n)",
            ExpressionAttributeValues={":ws": self.workspace, ":n": "N#"},
        )["Items"]:
            table.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
        received(self.queue)


def delivered(fleet: AlertFleet) -> list[tuple[str, str]]:
    return [(m["body"]["agentId"], m["body"]["kind"]) for m in received(fleet.queue)]


@pytest.fixture
def alert_fleet(prepared: Loaded) -> AlertFleet:
    """A workspace of its own with four agents, their spend rolled up, and an SQS subscription to its
    notices (the other workspaces of the module's stack have nothing due)."""
    workspace = f"ws-alerts-{uuid.uuid4().hex[:8]}"
    api = Api(workspace)
    for agent, budget, dollars in ALERT_FLEET:
        assert (
            api.put(f"/api/agents/{agent}", agent_body(agent.title(), cost_budget_monthly=budget)).status
            == 200
        )
        spend(api, agent, dollars, f"{agent}-spend")
    assert api.put("/api/cost-analysis/budget-alerts/settings", ALERT_SETTINGS).status == 200
    stream = Stream(prepared.stack)
    mine = [r for r in stream.pending() if r["dynamodb"]["NewImage"]["workspaceId"]["S"] == workspace]
    assert stream.deliver(mine) == {"batchItemFailures": []}
    return AlertFleet(prepared.stack, workspace, subscribe(prepared.stack, workspace))


class AlertFaults:
    """Hooks on the alert function's SNS and DynamoDB clients: the workspace's publishes and notice record
    writes are numbered from 1 each, and the planned faults injected into them."""

    def __init__(
        self, workspace: str, publish: dict[int, str] | None = None, record: dict[int, str] | None = None
    ) -> None:
        self.workspace = workspace
        self.publish_plan, self.record_plan = dict(publish or {}), dict(record or {})
        self.publishes = self.records = 0
        self.injected: Counter[str] = Counter()
        self.faulted: list[tuple[str, str]] = []  # (agent, kind) of each notice whose step failed
        self._after: str | None = None
        self._hooks = [
            (aws.sns(), "before-parameter-build.sns.Publish", self._before_publish),
            (aws.sns(), "after-call.sns.Publish", self._after_call),
            (aws.dynamodb_client(), "before-parameter-build.dynamodb.PutItem", self._before_record),
            (aws.dynamodb_client(), "after-call.dynamodb.PutItem", self._after_call),
        ]

    def __enter__(self) -> AlertFaults:
        for client, event, hook in self._hooks:
            client.meta.events.register(event, hook, unique_id=f"alert-fault-{event}")
        return self

    def __exit__(self, *exc: object) -> None:
        for client, event, _hook in self._hooks:
            client.meta.events.unregister(event, unique_id=f"alert-fault-{event}")
        INJECTED.update(self.injected)

    def _before_publish(self, params: dict[str, Any], **_: Any) -> None:
        if params["MessageAttributes"]["workspace_id"]["StringValue"] != self.workspace:
            return
        self.publishes += 1
        attributes = {name: value["StringValue"] for name, value in params["MessageAttributes"].items()}
        notice = (attributes["agent_id"], attributes["kind"])
        self._inject(self.publish_plan.get(self.publishes), aws.sns(), "Publish", notice)

    def _before_record(self, params: dict[str, Any], **_: Any) -> None:
        item = params.get("Item", {})
        sk = item.get("sk")
        sk = sk.get("S") if isinstance(sk, dict) else sk
        pk = item.get("pk")
        pk = pk.get("S") if isinstance(pk, dict) else pk
        if pk != self.workspace or not str(sk).startswith("N#"):
            return
        self.records += 1
        notice = tuple(str(v.get("S") if isinstance(v, dict) else v) for v in (item["agentId"], item["kind"]))
        self._inject(self.record_plan.get(self.records), aws.dynamodb_client(), "PutItem", notice)

    def _inject(self, kind: str | None, client: Any, operation: str, notice: tuple[str, ...]) -> None:
        if kind is None:
            return
        self.faulted.append((notice[0], notice[1]))
        if kind == "answer_lost":
            self._after = kind
            return
        self.injected[f"{operation.lower()}_{kind}"] += 1
        if kind == "died":
            raise FunctionDied(f"timed out before {operation}")
        code, status = {
            "throttled": (
                "Throttled" if operation == "Publish" else "ProvisionedThroughputExceededException",
                400,
            ),
            "internal": ("InternalError", 500),
        }[kind]
        response = {
            "Error": {"Code": code, "Message": f"injected {kind}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        raise client.exceptions.from_code(code)(response, operation)

    def _after_call(self, http_response: Any, model: Any, **_: Any) -> None:
        if self._after is None:
            return
        kind, self._after = self._after, None
        self.injected[f"{model.name.lower()}_{kind}"] += 1
        raise ReadTimeoutError(endpoint_url=http_response.url)


def test_failed_publishes_at_any_position_are_sent_on_a_later_run_exactly_once(
    alert_fleet: AlertFleet,
) -> None:
    every = sorted(
        [("atlas", k) for k in ("threshold_50", "threshold_80", "threshold_100")]
        + [("nova", k) for k in ("threshold_50", "threshold_80")]
        + [("sage", k) for k in ("threshold_50", "threshold_80", "threshold_100")]
    )
    assert len(every) == ALERT_NOTICES
    scenarios: list[tuple[dict[int, str], ...]] = [
        ({1: "throttled"},),
        ({4: "internal"},),
        ({ALERT_NOTICES: "throttled"},),
        ({2: "throttled", 3: "internal", 7: "throttled"},),
        # every publish fails, then the first of the next run too
        (dict.fromkeys(range(1, ALERT_NOTICES + 1), "throttled"), {1: "internal"}),
    ]
    for runs in scenarios:
        alert_fleet.forget_notices()
        seen: list[tuple[str, str]] = []
        for plan in runs:
            failing = len(plan)
            with AlertFaults(alert_fleet.workspace, publish=plan) as faults, pytest.raises(AlertsNotSent):
                run_alerts()
            assert sum(faults.injected.values()) == failing
            arrived = delivered(alert_fleet)
            # What failed was neither delivered nor recorded; everything else was, once.
            assert alert_fleet.notices_recorded() == set(seen) | set(arrived)
            seen += arrived
        assert run_alerts()["sent"] == ALERT_NOTICES - len(seen)
        seen += delivered(alert_fleet)
        assert run_alerts()["sent"] == 0
        assert delivered(alert_fleet) == []
        assert sorted(seen) == every, runs
        assert alert_fleet.notices_recorded() == set(every)


@pytest.mark.parametrize(
    ("where", "kind", "copies"),
    [
        # SNS accepted it, the record write is throttled beyond the SDK's retries: sent again next run.
        ("record", "throttled", 2),
        # The function dies (timeout) between the publish and the record: sent again next run.
        ("record", "died", 2),
        # SNS accepted it but its answer was lost: the function believes it failed, sends it again.
        ("publish", "answer_lost", 2),
        # The record was written but its answer lost: the next run finds it and sends nothing.
        ("record", "answer_lost", 1),
    ],
)
def test_a_failure_after_sns_accepted_a_notice_sends_it_at_least_once_and_never_loses_one(
    alert_fleet: AlertFleet, where: str, kind: str, copies: int
) -> None:
    # When the third notice's step fails after SNS accepted it
    expected = FunctionDied if kind == "died" else AlertsNotSent
    with AlertFaults(alert_fleet.workspace, **{where: {3: kind}}) as faults, pytest.raises(expected):
        run_alerts()
    assert sum(faults.injected.values()) == 1
    (third,) = faults.faulted
    first = delivered(alert_fleet)
    assert third in first, "SNS accepted it"
    # Then a failed record write affects only its own notice: the others of the run are sent and recorded
    # (a timeout stops the run where it is)
    assert len(first) == (3 if kind == "died" else ALERT_NOTICES)
    # And the next runs send whatever is unrecorded, so every notice arrives, that one `copies` times
    run_alerts()
    second = delivered(alert_fleet)
    assert run_alerts()["sent"] == 0
    counts = Counter(first + second)
    assert len(counts) == ALERT_NOTICES, "no notice is lost"
    assert counts[third] == copies
    assert all(n == 1 for notice, n in counts.items() if notice != third)
    assert len(alert_fleet.notices_recorded()) == ALERT_NOTICES
