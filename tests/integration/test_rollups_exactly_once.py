"""Exactly-once effect of the rollup function: ingestion -> stream records -> rollup handler, with the
stream's at-least-once deliveries (replays, bisected retries, retries after partial failure), TTL
expiry and poison records. Every check compares the rollups with figures computed from the raw events."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from costmetrics.repositories import rollups as rollups_repo
from tests import truth
from tests.datasets import AGENTS, make_events, months_back
from tests.harness import Api, Stream
from tests.integration.rollup_support import assert_rollups_equal_truth, ingest, register_agents, rollup_items

WORKSPACE = "ws-acme"


@pytest.fixture
def loaded(stack: Any) -> tuple[Stream, list[dict[str, Any]], list[dict[str, Any]]]:
    """1,000 events over three months ingested through the API; their stream records, not yet delivered."""
    api = Api(WORKSPACE)
    register_agents(api, AGENTS)
    now = datetime.now(UTC)
    events = make_events(1000, start=months_back(now, 2), end=now - timedelta(minutes=1))
    ingest(api, events)
    stream = Stream(stack)
    records = stream.pending()
    assert len(records) == 1000
    return stream, records, events


def event_id(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["NewImage"]["id"]["S"])


def items(stack: Any) -> dict[str, dict[str, Any]]:
    return rollup_items(stack.outputs["RollupsTableName"], WORKSPACE)


def deliver_all(stream: Stream, records: list[dict[str, Any]], batch_size: int = 100) -> None:
    for start in range(0, len(records), batch_size):
        assert stream.deliver(records[start : start + batch_size]) == {"batchItemFailures": []}


def test_rollups_equal_the_events_after_two_further_replays(stack: Any, loaded: Any) -> None:
    # Given 1,000 events ingested and their stream records delivered once
    stream, records, events = loaded
    deliver_all(stream, records)
    expected = truth.compute(events)
    assert_rollups_equal_truth(items(stack), expected)
    before = items(stack)
    # When the same records are delivered twice more, in other batch sizes
    deliver_all(stream, records, batch_size=37)
    deliver_all(stream, list(reversed(records)), batch_size=100)
    # Then no rollup changed
    assert items(stack) == before
    assert_rollups_equal_truth(items(stack), expected)


def test_bisected_and_overlapping_retries_change_nothing_twice(stack: Any, loaded: Any) -> None:
    stream, records, events = loaded
    rng = random.Random(3)
    # A batch fails, is bisected, halves are retried, and some records come again in later batches.
    for start in range(0, len(records), 100):
        batch = records[start : start + 100]
        half = len(batch) // 2
        for part in (batch[:half], batch[half:], batch[half // 2 : half + 10], rng.sample(batch, 20)):
            assert stream.deliver(part) == {"batchItemFailures": []}
    assert_rollups_equal_truth(items(stack), truth.compute(events))


def test_retry_after_a_partial_failure_applies_each_event_once(
    stack: Any, loaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, records, events = loaded
    batch = records[:100]
    real_apply = rollups_repo.apply_chunk
    calls = {"n": 0}

    def failing_second_chunk(chunk: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("injected: Lambda timed out between two transactions")
        return real_apply(chunk)

    # Given the second transaction of a batch fails after the first one was applied
    monkeypatch.setattr(rollups_repo, "apply_chunk", failing_second_chunk)
    response = stream.deliver(batch)
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert failed, "the failed chunk's records must be reported"
    monkeypatch.setattr(rollups_repo, "apply_chunk", real_apply)
    # When Lambda retries from the lowest failed sequence number (that record and every later one)
    lowest = min(int(s) for s in failed)
    retry = [r for r in batch if int(r["dynamodb"]["SequenceNumber"]) >= lowest]
    assert stream.deliver(retry) == {"batchItemFailures": []}
    # ...and the whole batch is delivered again for good measure
    assert stream.deliver(batch) == {"batchItemFailures": []}
    deliver_all(stream, records[100:])
    # Then every event counts exactly once
    assert_rollups_equal_truth(items(stack), truth.compute(events))


def test_throttled_transactions_are_retried_without_double_counting(
    stack: Any, loaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, records, events = loaded
    real_apply = rollups_repo.apply_chunk
    calls = {"n": 0}

    def throttled_every_third(chunk: Any) -> Any:
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            raise rollups_repo.RollupWriteConflict("injected: TransactionConflict")
        return real_apply(chunk)

    monkeypatch.setattr(rollups_repo, "apply_chunk", throttled_every_third)
    monkeypatch.setattr("costmetrics.stream.time.sleep", lambda _: None)
    deliver_all(stream, records)
    assert calls["n"] > len(records) / 100
    assert_rollups_equal_truth(items(stack), truth.compute(events))


def test_ttl_expiry_and_other_removals_change_nothing(stack: Any, loaded: Any) -> None:
    stream, records, _events = loaded
    deliver_all(stream, records)
    before = items(stack)
    expiries = []
    for record in records[:50]:
        removal = copy.deepcopy(record)
        removal["eventName"] = "REMOVE"
        removal["dynamodb"]["OldImage"] = removal["dynamodb"].pop("NewImage")
        removal["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        expiries.append(removal)
    modify = copy.deepcopy(records[60])
    modify["eventName"] = "MODIFY"
    assert stream.deliver([*expiries, modify]) == {"batchItemFailures": []}
    assert items(stack) == before


def test_a_poison_record_is_reported_and_the_rest_of_its_batch_applied(stack: Any, loaded: Any) -> None:
    stream, records, events = loaded
    batch = copy.deepcopy(records[:100])
    poison_no_agent, poison_bad_tokens = batch[10], batch[20]
    del poison_no_agent["dynamodb"]["NewImage"]["agentId"]
    image = poison_bad_tokens["dynamodb"]["NewImage"]
    image["eventType"] = {"S": "model_invocation"}
    image["details"] = {"S": '{"model": "gpt-5.4", "inputTokens": "many", "outputTokens": 1}'}
    response = stream.deliver(batch)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {
        poison_no_agent["dynamodb"]["SequenceNumber"],
        poison_bad_tokens["dynamodb"]["SequenceNumber"],
    }
    # Everything else of the batch is applied now, once, even when the retries deliver it again.
    poisoned = {event_id(records[10]), event_id(records[20])}
    delivered = {event_id(r) for r in records[:100]} - poisoned
    good = [e for e in events if e["id"] in delivered]
    deliver_all(stream, [r for i, r in enumerate(records[:100]) if i not in (10, 20)])
    assert_rollups_equal_truth(items(stack), truth.compute(good))


def test_the_same_event_twice_in_one_batch_counts_once(stack: Any, loaded: Any) -> None:
    stream, records, events = loaded
    assert stream.deliver(records[:50] + records[:50]) == {"batchItemFailures": []}
    delivered = {event_id(r) for r in records[:50]}
    assert_rollups_equal_truth(items(stack), truth.compute([e for e in events if e["id"] in delivered]))


def test_writes_are_aggregated_per_batch(stack: Any) -> None:
    # 100 events over 5 agents and 2 models in one month: 1 workspace + 5 agent + 10 agent-model items.
    api = Api(WORKSPACE)
    register_agents(api, AGENTS)
    now = datetime.now(UTC)
    models = {a: ["claude-haiku-3.5", "gpt-5.4"] for a in ("nova", "atlas", "pulse", "sage", "echo")}
    events = [
        {
            **e,
            "eventType": "model_invocation",
            "details": {"model": models[e["agentId"]][i % 2], "inputTokens": 100, "outputTokens": 10},
        }
        # The last half hour, within this month however young it is: one month's items.
        for i, e in enumerate(
            make_events(
                100, start=max(now - timedelta(minutes=30), months_back(now, 0)), end=now, agents=models
            )
        )
    ]
    assert len({e["createdAt"][:7] for e in events}) == 1
    ingest(api, events)
    stream = Stream(stack)
    from costmetrics import stream as stream_logic

    outcome = stream_logic.process_records(stream.pending())
    assert outcome.applied == 100
    assert not outcome.failed
    # workspace, agent and agent-model months, plus the activity counters per day and hour (workspace
    # and agent) that the events fall in
    days = {(e["createdAt"][:10], e["agentId"]) for e in events}
    hours = {(e["createdAt"][:13], e["agentId"]) for e in events}
    counters = len({d for d, _ in days}) + len(days) + len({h for h, _ in hours}) + len(hours)
    distinct = 1 + 5 + 10 + counters
    assert outcome.rollup_updates <= distinct + 4, (outcome, distinct)
    assert outcome.transactions <= 2, outcome


def test_markers_expire_after_the_last_possible_replay_not_with_the_event(stack: Any, loaded: Any) -> None:
    import boto3

    from local_stack.template import resources

    stream, records, _ = loaded
    applied = int(datetime.now(UTC).timestamp())
    deliver_all(stream, records[:100])
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(stack.outputs["RollupsTableName"])
    marker = table.get_item(Key={"pk": f"{WORKSPACE}#E#{event_id(records[0])}", "sk": "applied"})["Item"]
    # Lambda retries a record for MaximumRecordAgeInSeconds; the stream keeps it 24 hours.
    mapping = resources()["RollupFunction"]["Properties"]["Events"]
    max_age = max(int(e["Properties"].get("MaximumRecordAgeInSeconds", 0)) for e in mapping.values())
    last_replay = applied + max(max_age, 24 * 3600)
    assert last_replay < int(marker["expiresAt"]) <= applied + rollups_repo.MARKER_LIFETIME_SECONDS + 60
