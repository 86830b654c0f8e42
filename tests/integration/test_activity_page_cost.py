"""What one activity page reads, counted in items (tests/capacity.py), at 1,000 and at 20,000 events in the
open hour: a page reads its `limit` events and `limit` + 1 index keys, and at most 10 other items (counters,
the agents' names), however many events the hour holds; an offset skips whole hours by their counters. And
the totals that avoid reading the open hour's keys stay exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from costmetrics.config import settings
from costmetrics.events import validate_event
from costmetrics.repositories import events as events_repo
from tests.capacity import items_read
from tests.clock import INSTANT
from tests.datasets import AGENTS, iso, make_events
from tests.harness import Api, Stream
from tests.integration.rollup_support import register_agents

LIMIT = 100
OTHER_ITEMS = 10  # counters and agents a page may read besides its keys and its events
OPEN_HOUR = INSTANT.replace(minute=0, second=0, microsecond=0)
BUSY_AGENT = "nova"


def store(workspace: str, events: list[dict[str, Any]], stream: Stream) -> None:
    """Events written as ingestion writes them (validated at the test's now; expiring after the default
    retention, 400 days, which validation here does not apply: a test stores events from its edge), then
    rolled up."""
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(settings().events_table)
    with table.batch_writer() as writer:
        for raw in events:
            stored = validate_event(raw, workspace_id=workspace, now=datetime.now(UTC), retention_days=800)
            assert not isinstance(stored, str), stored
            writer.put_item(Item=events_repo.item_of(stored, 400))
    stream.drain()


@pytest.fixture(scope="module", params=[1_000, 20_000], ids=lambda n: f"{n}-events")
def loaded(request: pytest.FixtureRequest, shared_stack: Any) -> tuple[Api, list[dict[str, Any]]]:
    """`param` events in the open hour (up to 4 minutes ahead, inside the allowed skew), 800 in the hour
    before."""
    volume = request.param
    workspace = f"ws-cost-{volume}"
    api = Api(workspace)
    register_agents(api, AGENTS)
    busy = make_events(
        volume, start=OPEN_HOUR, end=INSTANT + timedelta(minutes=4), seed=5, prefix=f"open{volume}"
    )
    before = make_events(800, start=OPEN_HOUR - timedelta(hours=1), end=OPEN_HOUR, seed=6, prefix="before")
    store(workspace, busy + before, Stream(shared_stack))
    return api, busy + before


def page_reads(api: Api, query: dict[str, str]) -> tuple[dict[str, Any], dict[str, int]]:
    """The page and the items it read: its events, its index keys, everything else."""
    names = settings()
    with items_read() as read:
        reply = api.get("/api/activity", query=query)
    assert reply.status == 200, reply.text
    events = read.pop(names.events_table, 0)
    keys = sum(read.pop(name) for name in list(read) if name.startswith(f"{names.events_table}/"))
    return reply.json, {"events": events, "keys": keys, "other": sum(read.values())}


def newest_first(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in sorted(events, key=lambda e: (e["createdAt"], e["id"]), reverse=True)]


@pytest.mark.parametrize("query", [{}, {"agentId": BUSY_AGENT}, {"eventType": "model_invocation"}], ids=str)
def test_a_first_page_and_a_cursor_page_read_their_limit_and_at_most_ten_other_items(
    loaded: tuple[Api, list[dict[str, Any]]], query: dict[str, str]
) -> None:
    api, events = loaded
    matching = [e for e in events if all(e[field] == value for field, value in query.items())]
    # When a client reads the first page, then the next by its cursor
    first, first_reads = page_reads(api, query | {"limit": str(LIMIT)})
    second, second_reads = page_reads(
        api, query | {"limit": str(LIMIT), "nextToken": first["pagination"]["nextToken"]}
    )
    # Then both pages are the right events, with the exact total
    ids = [item["id"] for item in first["data"] + second["data"]]
    assert ids == newest_first(matching)[: 2 * LIMIT]
    assert first["pagination"]["total"] == second["pagination"]["total"] == len(matching)
    # ...and each read its events, one key more than the page, and few other items, whatever the volume
    for reads in (first_reads, second_reads):
        assert reads["events"] == LIMIT, reads
        assert reads["keys"] <= LIMIT + 1, reads
        assert reads["other"] <= OTHER_ITEMS, reads


def test_an_offset_skips_a_whole_hour_by_its_counters(loaded: tuple[Api, list[dict[str, Any]]]) -> None:
    api, events = loaded
    mine = [e for e in events if e["agentId"] == BUSY_AGENT]
    in_open_hour = sum(e["createdAt"] >= iso(OPEN_HOUR) for e in mine)
    # When a page starts where the open hour's events of the agent end
    page, reads = page_reads(api, {"agentId": BUSY_AGENT, "limit": str(LIMIT), "offset": str(in_open_hour)})
    # Then it is the hour before's newest events, and it read none of the open hour's keys
    assert [item["id"] for item in page["data"]] == newest_first(mine)[in_open_hour : in_open_hour + LIMIT]
    assert reads["events"] == LIMIT, reads
    assert reads["keys"] <= LIMIT + 1, reads
    assert reads["other"] <= OTHER_ITEMS, reads


def test_an_offset_inside_an_hour_reads_the_keys_it_skips_in_that_hour_only(
    loaded: tuple[Api, list[dict[str, Any]]],
) -> None:
    api, events = loaded
    page, reads = page_reads(api, {"limit": str(LIMIT), "offset": "250"})
    assert [item["id"] for item in page["data"]] == newest_first(events)[250 : 250 + LIMIT]
    assert reads["keys"] <= 250 + LIMIT + 1, reads
    assert reads["other"] <= OTHER_ITEMS, reads


def test_the_open_hour_counts_from_its_counter_even_with_an_event_written_past_the_skew(
    shared_stack: Any,
) -> None:
    # Given events of the open hour, and one written straight into the table beyond the allowed skew
    workspace = "ws-cost-direct"
    api = Api(workspace)
    register_agents(api, AGENTS)
    stream = Stream(shared_stack)
    events = make_events(120, start=OPEN_HOUR, end=INSTANT, seed=8, prefix="direct")
    store(workspace, events, stream)
    ahead = events_repo.item_of(
        validate_event(
            {**events[0], "id": "ahead", "createdAt": iso(datetime.now(UTC) + timedelta(minutes=30))},
            workspace_id=workspace,
            now=datetime.now(UTC) + timedelta(minutes=30),
            retention_days=400,
        ),  # type: ignore[arg-type]
        400,
    )
    boto3.resource("dynamodb", region_name="us-east-1").Table(settings().events_table).put_item(Item=ahead)
    stream.drain()
    # When the log is read up to now (its open end is now + the skew)
    page, reads = page_reads(api, {"limit": "10"})
    # Then the total is the events up to now + the skew: the one past it is not counted, nor listed
    assert page["pagination"]["total"] == len(events)
    assert [item["id"] for item in page["data"]] == newest_first(events)[:10]
    assert reads["keys"] <= 10 + 1 + 1, reads  # the page's keys, and the one past the skew


def test_a_cut_hour_at_the_retention_edge_counts_its_keys_not_its_counter(
    shared_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys before the retention edge may be gone (TTL) while the counter still counts them: the hour the
    edge cuts is counted from its keys after the edge, never as its counter less the keys before it."""
    workspace = "ws-cost-edge"
    api = Api(workspace)
    register_agents(api, AGENTS)
    stream = Stream(shared_stack)
    edge = datetime.now(UTC) - timedelta(days=400)
    events = make_events(
        60, start=edge - timedelta(minutes=20), end=edge + timedelta(minutes=20), seed=9, prefix="edge"
    )
    store(workspace, events, stream)
    # Given the TTL has removed some of the expired events (the rollups keep counting them)
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(settings().events_table)
    expired = [e for e in events if e["createdAt"] < iso(edge - timedelta(minutes=1))]
    for event in expired[: len(expired) // 2]:
        table.delete_item(Key={"pk": events_repo.event_key(workspace, event["id"])})
    stream.drain()
    # Then the total is exactly the events the log serves
    body = api.get("/api/activity", query={"limit": "500"}).json
    assert body["pagination"]["total"] == len(body["data"])
    assert {item["id"] for item in body["data"]} <= {e["id"] for e in events if e["createdAt"] >= iso(edge)}
