"""GET /api/activity: the activity log, newest first, filtered by agent, event type and time, with an exact
total, offset paging and an O(limit) cursor; and GET /api/activity/feed, every event in ingestion order
for SIEM pollers.

Costs (docs/activity-log.md): the total reads the per-day counters of the range (one Query) and, for
the partial first and last day, that day's hour counters and the index entries of the partial first
and last hour. A page reads `limit` index keys and `limit` events, plus, for an offset, the skipped keys
of the hour it lands in (whole days and hours are skipped by their counters). A cursor page reads only
`limit` keys and events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from costmetrics import cursors, periods
from costmetrics.agents import Agent
from costmetrics.camel import CamelModel
from costmetrics.errors import InvalidRequest
from costmetrics.events import EVENT_TYPES, MAX_FUTURE_SKEW, EventType, StoredEvent
from costmetrics.repositories import agents as agents_repo
from costmetrics.repositories import events as events_repo
from costmetrics.repositories import rollups as rollups_repo

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_OFFSET = 10_000
# Counters follow ingestion through the stream within about a second; the newest days are always read
# from the index, so a page never skips a day whose counter has not caught up yet.
FRESH_DAYS = 2
# The feed serves events ingested at least this long ago: an ingest request stamps ingestedAt before
# its writes land, and index entries appear shortly after the writes (docs/activity-log.md).
FEED_LAG = timedelta(seconds=60)
# A feed without a position starts where the workspace's events can begin, not at the oldest retained day:
# the API stores events of registered agents only, after their registration (an update keeps the first
# one); events written straight into the table (docs/data-model.md) count in the rollups of their
# createdAt's month, and none is ingested before it was created. The margin covers clock differences and
# events the rollups have not reached yet (Lambda gives up on a stream record after an hour).
START_MARGIN = timedelta(hours=1)
ONE_MICROSECOND = timedelta(microseconds=1)


def parse_instant(value: str, param: str) -> datetime:
    """An ISO 8601 query parameter with a time zone, as an aware UTC datetime, or a 400 naming it."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        raise InvalidRequest(
            f"'{param}' is not an ISO 8601 date-time: {value!r}",
            details=[{"in": "query", "field": param, "problem": "expected e.g. 2026-03-17T08:00:00Z"}],
        ) from None
    if parsed.tzinfo is None:
        raise InvalidRequest(
            f"'{param}' has no time zone: add Z or an offset such as +02:00 ({value!r})",
            details=[{"in": "query", "field": param, "problem": "time zone missing"}],
        )
    try:
        return periods.to_utc(parsed)
    except ValueError as error:
        raise InvalidRequest(
            f"'{param}' is out of range: {error}",
            details=[{"in": "query", "field": param, "problem": "out of range"}],
        ) from None


@dataclass(frozen=True)
class Filters:
    agent_id: str | None = None
    event_type: str | None = None

    @property
    def index(self) -> tuple[str, str]:
        return events_repo.INDEXES[(self.agent_id is not None, self.event_type is not None)]

    def partition(self, workspace_id: str, day: str) -> str:
        parts = [workspace_id, self.agent_id, self.event_type, day]
        return "#".join(p for p in parts if p is not None)

    @property
    def counter(self) -> str:
        return f"evt_{self.event_type}" if self.event_type else "events"


@dataclass(frozen=True)
class Window:
    """An inclusive UTC time range, to the microsecond."""

    low: datetime
    high: datetime

    def days(self) -> list[str]:
        """The UTC days of the window, newest first."""
        found, day = [], periods.to_utc(self.high).date()
        while day >= self.low.date():
            found.append(day.isoformat())
            day -= timedelta(days=1)
        return found

    def clip(self, start: datetime, end: datetime) -> Window | None:
        """The part of this window inside [start, end), or None."""
        low, high = max(self.low, start), min(self.high, end - ONE_MICROSECOND)
        return Window(low, high) if low <= high else None

    @property
    def sort_low(self) -> str:
        return f"{periods.stored(self.low)}#"

    @property
    def sort_high(self) -> str:
        # '$' sorts right after '#': every key of the last microsecond, whatever its event id.
        return f"{periods.stored(self.high)}$"


def _day_bounds(day: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(day + "T00:00:00+00:00")
    return start, start + timedelta(days=1)


def _hour_bounds(hour: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(hour + ":00:00+00:00")
    return start, start + timedelta(hours=1)


@dataclass
class Census:
    """How many matching events each day of the window holds, from the counters (read lazily)."""

    workspace_id: str
    filters: Filters
    window: Window
    read: int = 0
    _days: dict[str, int] | None = None
    _in_window: dict[str, int] = field(default_factory=dict)
    _hours: dict[str, dict[str, int]] = field(default_factory=dict)

    def day_counts(self) -> dict[str, int]:
        if self._days is None:
            days = self.window.days()
            self._days = rollups_repo.day_counts(
                self.workspace_id, self.filters.agent_id, days[-1], days[0], self.filters.counter
            )
            self.read += len(self._days)
        return self._days

    def hour_counts(self, day: str) -> dict[str, int]:
        if day not in self._hours:
            self._hours[day] = rollups_repo.hour_counts(
                self.workspace_id, self.filters.agent_id, day, self.filters.counter
            )
            self.read += len(self._hours[day])
        return self._hours[day]

    def hours_in_window(self, day: str) -> Iterator[tuple[str, Window, int]]:
        """(hour, the window's part of it, its matching events), newest first, for hours with events."""
        for hour, count in sorted(self.hour_counts(day).items(), reverse=True):
            part = self.window.clip(*_hour_bounds(hour))
            if count and part is not None:
                start, end = _hour_bounds(hour)
                whole = part.low == start and part.high == end - ONE_MICROSECOND
                yield hour, part, count if whole else self._count_keys(day, part)

    def _count_keys(self, day: str, part: Window) -> int:
        index, attribute = self.filters.index
        counted = events_repo.count_in_partition(
            index, attribute, self.filters.partition(self.workspace_id, day), part.sort_low, part.sort_high
        )
        self.read += counted
        return counted

    def in_window(self, day: str) -> int:
        """Matching events of `day` inside the window."""
        if day not in self._in_window:
            count = self.day_counts().get(day, 0)
            part = self.window.clip(*_day_bounds(day))
            start, end = _day_bounds(day)
            if count and part is not None and not (part.low == start and part.high == end - ONE_MICROSECOND):
                count = sum(c for _, _, c in self.hours_in_window(day))
            self._in_window[day] = count if part is not None else 0
        return self._in_window[day]

    def total(self) -> int:
        return sum(self.in_window(day) for day in self.window.days())


class ActivityItem(CamelModel):
    id: str
    event_type: EventType
    agent_id: str
    agent_name: str | None
    details: dict[str, Any]
    created_at: periods.Instant
    ingested_at: periods.Instant


class Pagination(CamelModel):
    total: int
    limit: int
    offset: int
    has_more: bool
    next_token: str | None = None


class ActivityPage(CamelModel):
    data: list[ActivityItem]
    pagination: Pagination


class ActivityQuery(BaseModel):
    agent_id: str | None = None
    event_type: str | None = None
    start: str | None = None
    end: str | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    next_token: str | None = None


def _scope(query: ActivityQuery) -> str:
    """What a listing cursor is bound to: the filters as the client gave them."""
    raw = json.dumps([query.agent_id, query.event_type, query.start, query.end])
    return "activity:" + hashlib.sha256(raw.encode()).hexdigest()[:24]


def _resolve(query: ActivityQuery, now: datetime, retention_days: int) -> tuple[Filters, Window]:
    if query.event_type is not None and query.event_type not in EVENT_TYPES:
        raise InvalidRequest(
            f"eventType {query.event_type!r} is not one of: {', '.join(EVENT_TYPES)}",
            details=[{"in": "query", "field": "eventType", "problem": f"allowed: {', '.join(EVENT_TYPES)}"}],
        )
    if query.offset > MAX_OFFSET:
        raise InvalidRequest(
            f"offset is at most {MAX_OFFSET}: page further with the cursor, ?nextToken=pagination.nextToken",
            details=[{"in": "query", "field": "offset", "problem": f"at most {MAX_OFFSET}; use nextToken"}],
        )
    # Events older than the retention period are expired (or about to be): the log starts after them.
    oldest = now - timedelta(days=retention_days)
    # An empty value is a value, and not a date-time: a 400 like any other (absent is the default).
    low = parse_instant(query.start, "from") if query.start is not None else oldest
    high = parse_instant(query.end, "to") if query.end is not None else now + MAX_FUTURE_SKEW
    if query.start is not None and query.end is not None and low > high:
        raise InvalidRequest(
            "'from' is after 'to'",
            details=[{"in": "query", "field": "from", "problem": "must not be after 'to'"}],
        )
    # No event is later than this (createdAt is at most MAX_FUTURE_SKEW ahead of its ingestion): a far `to`
    # must not make the walk over the window's days millions of days long.
    newest = now + MAX_FUTURE_SKEW
    return Filters(query.agent_id, query.event_type), Window(max(low, oldest), min(high, newest))


def list_activity(
    workspace_id: str, query: ActivityQuery, now: datetime, retention_days: int
) -> ActivityPage:
    """One page of the activity log, newest first, with the exact total of the filter."""
    filters, window = _resolve(query, now, retention_days)
    census = Census(workspace_id, filters, window)
    start: dict[str, Any] | None = None
    position = query.offset
    if query.next_token:
        if query.offset:
            raise InvalidRequest(
                "give either offset or nextToken, not both",
                details=[{"in": "query", "field": "offset", "problem": "not with nextToken"}],
            )
        # A cursor keeps the window of its first page (so `total` stays put while events arrive).
        state = cursors.decode(query.next_token, workspace_id, _scope(query))
        window = Window(periods.parse_stored(state["low"]), periods.parse_stored(state["high"]))
        census = Census(workspace_id, filters, window)
        position, start = int(state["position"]), {"day": state["day"], "key": state["key"]}
    total = census.total() if window.low <= window.high else 0
    keys, last = _collect(
        workspace_id,
        filters,
        window,
        census,
        query.limit,
        skip=0 if start else position,
        start=start,
        now=now,
    )
    events = events_repo.events_by_keys([k["pk"] for k in keys])
    names = {a.id: a.name for a in agents_repo.agents_of_workspace(workspace_id)} if keys else {}
    data = [_item(events[k["pk"]], names) for k in keys if k["pk"] in events]
    after = position + len(keys)
    # The counters may trail the newest writes by a stream delay: a full page at or past `total` looks
    # one key further, so a cursor walk never stops before the last stored event.
    has_more = last is not None and (
        after < total
        or bool(_collect(workspace_id, filters, window, census, 1, skip=0, start=last, now=now)[0])
    )
    token = None
    if has_more and last is not None:
        token = cursors.encode(
            workspace_id,
            _scope(query),
            {
                "low": periods.stored(window.low),
                "high": periods.stored(window.high),
                "position": after,
                **last,
            },
        )
    return ActivityPage(
        data=data,
        pagination=Pagination(
            total=total, limit=query.limit, offset=position, has_more=has_more, next_token=token
        ),
    )


def _item(event: StoredEvent, names: dict[str, str]) -> ActivityItem:
    return ActivityItem(
        id=event.id,
        event_type=event.event_type,
        agent_id=event.agent_id,
        agent_name=names.get(event.agent_id),
        details=event.details,
        created_at=periods.display(event.created_at),
        ingested_at=periods.display(event.ingested_at),
    )


def _collect(
    workspace_id: str,
    filters: Filters,
    window: Window,
    census: Census,
    limit: int,
    *,
    skip: int,
    start: dict[str, Any] | None,
    now: datetime,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Walks the window's days newest first: skips `skip` matching events (whole days and hours by their
    counters) or resumes after `start`, then collects up to `limit` index keys. Returns the keys and the
    position after the last one (None when the window is exhausted)."""
    index, attribute = filters.index
    fresh = {periods.day_of(now - timedelta(days=back)) for back in range(FRESH_DAYS)}
    keys: list[dict[str, Any]] = []
    days = window.days()
    if start is not None:
        days = [d for d in days if d <= start["day"]]
    for day in days:
        part = window.clip(*_day_bounds(day))
        if part is None:
            continue
        resume = start["key"] if start is not None and day == start["day"] else None
        if resume is None and day not in fresh and census.day_counts().get(day, 0) == 0:
            continue
        if resume is None and skip:
            in_day = census.in_window(day)
            if skip >= in_day:
                skip -= in_day
                continue
            for _, hour_part, count in census.hours_in_window(day):
                if skip < count:
                    part = Window(part.low, hour_part.high)
                    break
                skip -= count
        partition = filters.partition(workspace_id, day)
        if skip:
            skipped = events_repo.keys_in_partition(
                index, attribute, partition, part.sort_low, part.sort_high, limit=skip
            )
            census.read += skipped.read
            skip = 0
            if skipped.last is None:
                continue
            resume = skipped.last
        page = events_repo.keys_in_partition(
            index, attribute, partition, part.sort_low, part.sort_high, limit=limit - len(keys), start=resume
        )
        census.read += page.read
        keys.extend(page.keys)
        if len(keys) >= limit:
            return keys, {"day": day, "key": {k: keys[-1][k] for k in ("pk", attribute, "gsSort")}}
    return keys, None


# --- The ingestion-order feed ------------------------------------------------------------------------


class FeedPage(CamelModel):
    data: list[ActivityItem]
    next_token: str
    caught_up: bool
    up_to: periods.Instant


def feed(
    workspace_id: str, since: str | None, token: str | None, limit: int, now: datetime, retention_days: int
) -> FeedPage:
    """Events in ingestion order, oldest first, up to `FEED_LAG` ago. The returned nextToken always
    resumes exactly after what was returned: keep it and poll with it, and every event comes once."""
    index, attribute, sort_attribute = events_repo.FEED_INDEX
    upper = now - FEED_LAG
    agents: list[Agent] | None = None
    if token:
        if since is not None:
            raise InvalidRequest(
                "give either since or nextToken, not both",
                details=[{"in": "query", "field": "since", "problem": "not with nextToken"}],
            )
        state = cursors.decode(token, workspace_id, "feed")
        day, after = state["day"], state["after"]
    else:
        # Never before the retention period: the walk reads one partition per day from `since` on.
        oldest = now - timedelta(days=retention_days)
        start = parse_instant(since, "since") if since is not None else oldest
        if start > now:
            raise InvalidRequest(
                f"'since' is in the future ({since}): no event has been ingested after now "
                f"({periods.display(now)})",
                details=[{"in": "query", "field": "since", "problem": "must not be after the current time"}],
            )
        start = max(start, oldest)
        agents = agents_repo.agents_of_workspace(workspace_id)
        months = rollups_repo.workspace_months(workspace_id, periods.month_of(oldest), periods.month_of(now))
        first_month = min(months, default=None)
        earliest = min(
            [now, *(a.created_at for a in agents)]
            + ([periods.month_bounds(first_month)[0]] if first_month else [])
        )
        start = max(start, earliest - START_MARGIN)
        day, after = periods.day_of(start), f"{periods.stored(start)}#"
    keys: list[dict[str, Any]] = []
    caught_up = True
    high = f"{periods.stored(upper)}$"
    # `after` is "0" (a whole day) or a stored timestamp: where the walk resumes, in one order with `high`.
    if (after if after != "0" else f"{day}T") > high:
        # Resuming after events younger than FEED_LAG (a `since` of the last minute): nothing is due yet,
        # and the position stays where it is.
        return FeedPage(
            data=[],
            next_token=cursors.encode(workspace_id, "feed", {"day": day, "after": after}),
            caught_up=True,
            up_to=periods.display(upper),
        )
    current = datetime.fromisoformat(day + "T00:00:00+00:00").date()
    while current.isoformat() <= periods.day_of(upper):
        page = events_repo.keys_in_partition(
            index,
            attribute,
            f"{workspace_id}#{current.isoformat()}",
            after,
            high,
            limit=limit - len(keys) + 1,
            newest_first=False,
            sort_attribute=sort_attribute,
        )
        # The lower bound is inclusive, and the key equal to it was returned by the previous page.
        keys.extend(k for k in page.keys if k[sort_attribute] != after)
        if len(keys) >= limit:
            keys = keys[:limit]
            caught_up = False
            day, after = current.isoformat(), str(keys[-1][sort_attribute])
            break
        current += timedelta(days=1)
        after = "0"  # below every timestamp: the whole next day
    else:
        # Everything ingested up to `upper` has been returned: the next poll starts right after it.
        day, after = periods.day_of(upper), high
    events = events_repo.events_by_keys([k["pk"] for k in keys])
    if keys and agents is None:
        agents = agents_repo.agents_of_workspace(workspace_id)
    names = {a.id: a.name for a in agents or []}
    return FeedPage(
        data=[_item(events[k["pk"]], names) for k in keys if k["pk"] in events],
        next_token=cursors.encode(workspace_id, "feed", {"day": day, "after": after}),
        caught_up=caught_up,
        up_to=periods.display(upper),
    )
