"""GET /api/activity and /api/activity/feed on 5,000 events: every filter combination walked by cursor and
by offset returns each event exactly once, newest first, with an exact total; ingestion between pages
changes nothing already walked; bad input is a 400 naming the parameter; cursors are bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from costmetrics import activity
from tests.clock import INSTANT
from tests.datasets import AGENTS, iso, make_events
from tests.harness import Api, Stream
from tests.integration.rollup_support import ingest, register_agents

NOW = INSTANT
START = NOW - timedelta(days=20)
# Edges inside days and hours, so totals need the partial-hour path.
MID_FROM = iso(START + timedelta(days=3, hours=7, minutes=13, seconds=5))
MID_TO = iso(NOW - timedelta(days=2, hours=3, minutes=41, seconds=9))


@pytest.fixture(scope="module")
def dataset() -> list[dict[str, Any]]:
    return make_events(5000, start=START, end=NOW - timedelta(minutes=1), seed=31)


@pytest.fixture(scope="module")
def stream(shared_stack: Any) -> Stream:
    """One reader for the module: it delivers each record once, as the event source mapping does."""
    return Stream(shared_stack)


@pytest.fixture(scope="module")
def api(stream: Stream, dataset: list[dict[str, Any]]) -> Api:
    api = Api("ws-acme")
    register_agents(api, AGENTS)
    ingest(api, dataset)
    stream.drain()
    return api


def expected_ids(events: list[dict[str, Any]], query: dict[str, str]) -> list[str]:
    """The log's answer, computed from the events: filtered, newest first (createdAt, then id)."""

    def keep(e: dict[str, Any]) -> bool:
        at = e["createdAt"]
        return (
            ("agentId" not in query or e["agentId"] == query["agentId"])
            and ("eventType" not in query or e["eventType"] == query["eventType"])
            and ("from" not in query or at >= query["from"])
            and ("to" not in query or at <= query["to"])
        )

    return [
        e["id"] for e in sorted(filter(keep, events), key=lambda e: (e["createdAt"], e["id"]), reverse=True)
    ]


def walk_by_cursor(api: Api, query: dict[str, str], limit: int) -> tuple[list[str], set[int]]:
    ids: list[str] = []
    totals: set[int] = set()
    token = None
    while True:
        page = api.get(
            "/api/activity", query=query | {"limit": str(limit)} | ({"nextToken": token} if token else {})
        )
        assert page.status == 200, page.text
        body = page.json
        ids += [item["id"] for item in body["data"]]
        totals.add(body["pagination"]["total"])
        assert body["pagination"]["offset"] == len(ids) - len(body["data"])
        if not body["pagination"]["hasMore"]:
            assert "nextToken" not in body["pagination"] or body["pagination"]["nextToken"] is None
            return ids, totals
        token = body["pagination"]["nextToken"]


def walk_by_offset(api: Api, query: dict[str, str], limit: int) -> tuple[list[str], set[int]]:
    ids: list[str] = []
    totals: set[int] = set()
    while True:
        body = api.get("/api/activity", query=query | {"limit": str(limit), "offset": str(len(ids))}).json
        ids += [item["id"] for item in body["data"]]
        totals.add(body["pagination"]["total"])
        if not body["pagination"]["hasMore"]:
            return ids, totals


FILTERS = [
    {},
    {"agentId": "nova"},
    {"eventType": "tool_call"},
    {"agentId": "atlas", "eventType": "model_invocation"},
    {"from": MID_FROM, "to": MID_TO},
    {"agentId": "pulse", "from": MID_FROM},
    {"eventType": "task_completed", "to": MID_TO},
    {"agentId": "sage", "eventType": "error", "from": MID_FROM, "to": MID_TO},
    {"agentId": "draft-bot"},
]


def test_the_dataset_is_large_enough(dataset: list[dict[str, Any]]) -> None:
    assert len(dataset) >= 5000


@pytest.mark.parametrize("query", FILTERS, ids=lambda q: "+".join(q) or "all")
def test_every_page_walk_returns_each_event_once_newest_first(
    api: Api, dataset: list[dict[str, Any]], query: dict[str, str]
) -> None:
    expected = expected_ids(dataset, query)
    by_cursor, cursor_totals = walk_by_cursor(api, query, limit=500)
    assert by_cursor == expected
    assert cursor_totals == {len(expected)}
    by_offset, offset_totals = walk_by_offset(api, query, limit=500)
    assert by_offset == expected
    assert offset_totals == {len(expected)}


def test_small_pages_and_page_items(api: Api, dataset: list[dict[str, Any]]) -> None:
    query = {"agentId": "echo", "from": MID_FROM, "to": MID_TO}
    assert walk_by_cursor(api, query, limit=7)[0] == expected_ids(dataset, query)
    first = api.get("/api/activity", query={"limit": "1"}).json
    (item,) = first["data"]
    source = next(e for e in dataset if e["id"] == item["id"])
    assert item == {
        "id": source["id"],
        "eventType": source["eventType"],
        "agentId": source["agentId"],
        "agentName": next(a["name"] for a in AGENTS if a["id"] == source["agentId"]),
        "details": source["details"],
        "createdAt": source["createdAt"],
        "ingestedAt": item["ingestedAt"],
    }
    assert first["pagination"] | {"nextToken": None} == {
        "total": 5000,
        "limit": 1,
        "offset": 0,
        "hasMore": True,
        "nextToken": None,
    }


def own_workspace(stream: Stream, workspace: str, count: int, seed: int) -> tuple[Api, list[dict[str, Any]]]:
    """A workspace of the test's own with `count` events of the dataset's span, rolled up: a test that adds
    events must not change what the module's other tests read from ws-acme."""
    api = Api(workspace)
    register_agents(api, AGENTS)
    events = make_events(count, start=START, end=NOW - timedelta(minutes=1), seed=seed, prefix=workspace)
    ingest(api, events)
    stream.drain()
    return api, events


def test_ingestion_between_pages_changes_nothing_already_walked(stream: Stream) -> None:
    # Given a walk that started before new events arrived
    api, dataset = own_workspace(stream, "ws-live", 1200, seed=32)
    query = {"to": iso(NOW)}
    expected = expected_ids(dataset, query)
    ids: list[str] = []
    token = None
    batch = 0
    while True:
        params = {"limit": "400"} | ({"nextToken": token} if token else {})
        body = api.get("/api/activity", query=params).json
        ids += [item["id"] for item in body["data"]]
        # When events keep arriving between pages (late ones inside the walked range too)
        late = [
            {
                "id": f"live-{batch}-{n}",
                "agentId": "nova",
                "eventType": "session_start",
                "createdAt": iso(NOW + timedelta(seconds=n + 1)),
                "details": {},
            }
            for n in range(20)
        ]
        ingest(api, late)
        stream.drain()
        batch += 1
        if not body["pagination"]["hasMore"]:
            break
        token = body["pagination"]["nextToken"]
    # Then the walk saw every earlier event once, in order, and its total never moved
    assert [i for i in ids if not i.startswith("live-")] == expected
    assert len(ids) == len(set(ids))
    # ...and an offset walk pinned with `to` is exactly the events up to it
    pinned, totals = walk_by_offset(api, query, limit=500)
    assert pinned == expected
    assert totals == {len(expected)}


def test_a_cursor_walk_does_not_stop_at_counters_that_trail_the_stream(api: Api, stream: Stream) -> None:
    # Given 250 events of the last hours, stored but not yet rolled up (the stream has not delivered them)
    trailing = Api("ws-trailing")
    register_agents(trailing, AGENTS)
    recent = make_events(250, start=NOW - timedelta(hours=20), end=NOW - timedelta(minutes=1), seed=7)
    ingest(trailing, recent)
    # When a client walks the log by cursor before the counters have caught up
    ids, totals = walk_by_cursor(trailing, {}, limit=100)
    # Then it still gets every stored event once, newest first: the total trails, the walk does not
    assert ids == expected_ids(recent, {})
    assert totals == {0}
    stream.drain()
    assert walk_by_cursor(trailing, {}, limit=100) == (expected_ids(recent, {}), {250})


@pytest.mark.parametrize(
    ("query", "field", "needle"),
    [
        ({"limit": "0"}, "limit", "greater than or equal to 1"),
        ({"limit": "501"}, "limit", "less than or equal to 500"),
        ({"limit": "ten"}, "limit", "valid integer"),
        ({"offset": "-1"}, "offset", "greater than or equal to 0"),
        ({"offset": "10001"}, "offset", "nextToken"),
        ({"offset": "x"}, "offset", "valid integer"),
        ({"from": "yesterday"}, "from", "ISO 8601"),
        ({"to": "2026-13-01T00:00:00Z"}, "to", "ISO 8601"),
        ({"from": "2026-03-17T08:00:00"}, "from", "time zone"),
        ({"from": "2026-03-18T00:00:00Z", "to": "2026-03-17T00:00:00Z"}, "from", "after"),
        ({"eventType": "teleport"}, "eventType", "tool_call"),
        ({"agentId": "not valid!"}, "agentId", "pattern"),
        ({"nextToken": "garbage"}, "nextToken", "cursor"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(
    api: Api, query: dict[str, str], field: str, needle: str
) -> None:
    reply = api.get("/api/activity", query=query)
    assert reply.status == 400, reply.text
    assert reply.json["details"][0]["field"] == field
    assert needle in reply.json["message"] + reply.json["details"][0].get("problem", "")


def test_a_cursor_is_bound_to_its_workspace_filters_and_bytes(api: Api) -> None:
    token = api.get("/api/activity", query={"agentId": "nova", "limit": "10"}).json["pagination"]["nextToken"]
    assert api.get("/api/activity", query={"agentId": "nova", "nextToken": token}).status == 200
    other = Api("ws-other").get("/api/activity", query={"agentId": "nova", "nextToken": token})
    assert other.status == 400
    assert "data" not in other.json
    assert api.get("/api/activity", query={"agentId": "atlas", "nextToken": token}).status == 400
    assert api.get("/api/activity", query={"nextToken": token}).status == 400
    for position in (5, len(token) // 2, len(token) - 3):
        altered = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
        assert api.get("/api/activity", query={"agentId": "nova", "nextToken": altered}).status == 400
    both = api.get("/api/activity", query={"agentId": "nova", "nextToken": token, "offset": "10"})
    assert both.status == 400


def test_another_workspace_sees_an_empty_log(api: Api) -> None:
    body = Api("ws-other").get("/api/activity").json
    assert body == {
        "data": [],
        "pagination": {"total": 0, "limit": 100, "offset": 0, "hasMore": False, "nextToken": None},
    }
    assert Api("ws-other").get("/api/activity/feed").json["data"] == []
    assert Api("ws-acme", ("ingest",)).get("/api/activity").status == 403


def test_the_feed_gives_every_event_once_in_ingestion_order_late_ones_too(
    stream: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, dataset = own_workspace(stream, "ws-feed", 1000, seed=33)
    monkeypatch.setattr(activity, "FEED_LAG", timedelta(0))
    seen: list[dict[str, Any]] = []
    token = None
    params: dict[str, str] = {"limit": "450", "since": iso(NOW - timedelta(days=1))}
    while True:
        body = api.get("/api/activity/feed", query=params).json
        seen += body["data"]
        token = body["nextToken"]
        params = {"limit": "450", "nextToken": token}
        if body["caughtUp"]:
            break
    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(expected_ids(dataset, {}))
    stamps = [item["ingestedAt"] for item in seen]
    assert stamps == sorted(stamps)
    # Events ingested after the poll, even with an old createdAt, come with the next poll, once.
    late = [
        {
            "id": f"late-{n}",
            "agentId": "sage",
            "eventType": "tool_call",
            "createdAt": iso(NOW - timedelta(days=15, minutes=n)),
            "details": {"tool": "sql", "success": True, "durationMs": 5},
        }
        for n in range(30)
    ]
    ingest(api, late)
    again = api.get("/api/activity/feed", query={"nextToken": token, "limit": "500"}).json
    assert sorted(item["id"] for item in again["data"]) == sorted(e["id"] for e in late)
    quiet = api.get("/api/activity/feed", query={"nextToken": again["nextToken"]}).json
    assert quiet["data"] == []
    assert quiet["caughtUp"] is True


@pytest.mark.parametrize("ahead", [timedelta(seconds=5), timedelta(hours=3), timedelta(days=2)])
def test_a_since_in_the_future_is_a_400_naming_it(api: Api, ahead: timedelta) -> None:
    now = datetime.now(UTC)
    reply = api.get("/api/activity/feed", query={"since": iso(now + ahead)})
    assert reply.status == 400, reply.text
    assert reply.json["details"][0]["field"] == "since"
    assert "future" in reply.json["message"]


def test_a_since_inside_the_feed_lag_waits_for_its_events_and_skips_none(stream: Stream) -> None:
    # Given a poller that starts from "now" (inside the feed's 60-second lag: nothing is due yet)
    api = Api("ws-feed-lag")
    register_agents(api, AGENTS)
    since = datetime.now(UTC) - timedelta(seconds=10)
    first = api.get("/api/activity/feed", query={"since": iso(since)})
    assert first.status == 200, first.text
    assert (first.json["data"], first.json["caughtUp"]) == ([], True)
    # When events arrive, and the lag passes
    arrived = [
        {
            "id": f"fresh-{n}",
            "agentId": "nova",
            "eventType": "session_start",
            "createdAt": iso(since - timedelta(hours=1)),
            "details": {},
        }
        for n in range(3)
    ]
    ingest(api, arrived)
    too_soon = api.get("/api/activity/feed", query={"nextToken": first.json["nextToken"]}).json
    assert too_soon["data"] == []
    with time_machine.travel(datetime.now(UTC) + activity.FEED_LAG + timedelta(seconds=5), tick=True):
        # Then the next poll with the token gets exactly them, once
        later = api.get("/api/activity/feed", query={"nextToken": too_soon["nextToken"]}).json
        assert sorted(item["id"] for item in later["data"]) == [e["id"] for e in arrived]
        after = api.get("/api/activity/feed", query={"nextToken": later["nextToken"]}).json
    assert after["data"] == []


def test_a_first_poll_without_since_starts_where_events_can_begin_and_misses_nothing(
    stream: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from costmetrics.config import settings
    from costmetrics.events import validate_event
    from costmetrics.repositories import events as events_repo

    monkeypatch.setattr(activity, "FEED_LAG", timedelta(0))
    partitions: list[str] = []
    real = events_repo.feed_keys

    def counted(workspace_id: str, day: str, *args: Any, **kwargs: Any) -> Any:
        partitions.append(day)
        return real(workspace_id, day, *args, **kwargs)

    monkeypatch.setattr(events_repo, "feed_keys", counted)
    api = Api("ws-feed-first")
    # Given an event written straight into the table 30 days ago by an agent nobody registered (rolled up)
    with time_machine.travel(datetime.now(UTC) - timedelta(days=30), tick=True):
        raw = {
            "id": "direct-1",
            "agentId": "ghost",
            "eventType": "session_start",
            "createdAt": iso(datetime.now(UTC) - timedelta(minutes=5)),
            "details": {},
        }
        direct = validate_event(raw, workspace_id="ws-feed-first", now=datetime.now(UTC), retention_days=400)
        assert not isinstance(direct, str), direct
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(settings().events_table)
        table.put_item(Item=events_repo.item_of(direct, 400))
    stream.drain()
    # and agents registered nine days ago, and events ingested then
    with time_machine.travel(datetime.now(UTC) - timedelta(days=9, hours=5), tick=True):
        register_agents(api, AGENTS)
        early = make_events(120, start=datetime.now(UTC) - timedelta(hours=2), end=datetime.now(UTC), seed=41)
        ingest(api, early)
    # and the agents updated today (an update keeps the first registration), then more events
    register_agents(api, AGENTS)
    later = make_events(
        80, start=NOW - timedelta(hours=3), end=NOW - timedelta(minutes=1), seed=42, prefix="l"
    )
    ingest(api, later)
    # When a poller starts with no position
    seen: list[str] = []
    params = {"limit": "100"}
    while True:
        body = api.get("/api/activity/feed", query=params).json
        seen += [item["id"] for item in body["data"]]
        params = {"limit": "100", "nextToken": body["nextToken"]}
        if body["caughtUp"]:
            break
    # Then it gets every event once, having read the days since the first rolled-up month began, not the
    # retention's 400
    assert sorted(seen) == sorted(["direct-1"] + [e["id"] for e in early + later])
    assert len(seen) == len(set(seen))
    first_month = direct.created_at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert len(set(partitions)) <= (NOW - first_month).days + 2, sorted(set(partitions))
