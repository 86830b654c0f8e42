"""GET /api/activity: the activity log, newest first, filtered by agent, event type and time, with an exact
total, offset paging and an O(limit) cursor; and GET /api/activity/feed, every event in ingestion order
for SIEM pollers.

Costs (docs/activity-log.md): the total reads the per-day counters of the range (one Query); for a day the
window cuts, that day's hour counters, and for an hour it cuts, the index keys of the side of the cut that
can hold fewer events (none for the open end of a window that reaches now). A page reads `limit` + 1 index
keys and `limit` events, plus, for an offset, the skipped keys of the hour it lands in (whole days and
hours are skipped by their counters). A cursor page keeps its first page's total and reads only its keys,
its events and the counters of the days it walks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
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
# A walk reads the day counters a week at a time, from the day it stands on back (see Census.day_count).
DAY_COUNTERS_PER_READ = 7
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

    def log(self, workspace_id: str) -> events_repo.LogIndex:
        return events_repo.LogIndex(workspace_id, self.agent_id, self.event_type)

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

    def overlap(self, other: Window) -> timedelta:
        """How long this window and `other` share (zero when they do not meet)."""
        return max(timedelta(0), min(self.high, other.high) - max(self.low, other.low))


def _day_bounds(day: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(day + "T00:00:00+00:00")
    return start, start + timedelta(days=1)


def _hour_bounds(hour: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(hour + ":00:00+00:00")
    return start, start + timedelta(hours=1)


@dataclass
class Census:
    """How many matching events the window holds, by day and by hour, from the rollup counters (read as
    the walk needs them); for a day or an hour the window cuts, from the index keys of the side of the cut
    that holds fewer events (docs/activity-log.md).

    `span` is where stored events can be: from the retention edge (older ones may be gone already, while
    their counters stay) to now + MAX_FUTURE_SKEW (ingestion refuses a createdAt later than that)."""

    workspace_id: str
    filters: Filters
    window: Window
    span: Window
    _days: dict[str, int] = field(default_factory=dict)
    _loaded: tuple[str, str] | None = None  # the days whose counters are in _days, oldest and newest
    _in_window: dict[str, int] = field(default_factory=dict)
    _hours: dict[str, dict[str, int]] = field(default_factory=dict)

    def _load_days(self, first: str, last: str) -> None:
        self._days |= rollups_repo.day_counts(
            self.workspace_id, self.filters.agent_id, first, last, self.filters.counter
        )
        oldest, newest = self._loaded or (first, last)
        self._loaded = (min(first, oldest), max(last, newest))

    def day_count(self, day: str) -> int:
        """The counter of `day`. A walk goes back in time, so the counters are read a few days at a time,
        from `day` back: a cursor page reads those of the days it walks, not the whole window's."""
        if self._loaded is None or not self._loaded[0] <= day <= self._loaded[1]:
            first = max(self.window.days()[-1], _days_before(day, DAY_COUNTERS_PER_READ - 1))
            if self._loaded is not None and day < self._loaded[0]:
                self._load_days(first, _days_before(self._loaded[0], 1))
            else:
                self._load_days(first, day)
        return self._days.get(day, 0)

    def hour_counts(self, day: str) -> dict[str, int]:
        if day not in self._hours:
            self._hours[day] = rollups_repo.hour_counts(
                self.workspace_id, self.filters.agent_id, day, self.filters.counter
            )
        return self._hours[day]

    def hours_in_window(self, day: str) -> Iterator[tuple[str, Window, int]]:
        """(hour, the window's part of it, its matching events), newest first, for hours with events."""
        for hour, count in sorted(self.hour_counts(day).items(), reverse=True):
            part = self.window.clip(*_hour_bounds(hour))
            if count and part is not None:
                yield hour, part, self._cut(day, _hour_bounds(hour), part, count, cheaper_parts=None)

    def _cut(
        self,
        day: str,
        bounds: tuple[datetime, datetime],
        part: Window,
        count: int,
        cheaper_parts: Callable[[], int] | None,
    ) -> int:
        """The matching events of `part` of the range [start, end) whose counter is `count`: the counter
        itself for a whole range; else the counter less the keys outside the part, when that side can hold
        fewer events than the part (the open end of a window reaching now + the skew holds none); else
        `cheaper_parts()` (a day: its hour counters) or the keys of the part."""
        start, end = bounds
        whole = Window(start, end - ONE_MICROSECOND)
        if part == whole:
            return count
        outside = [
            piece
            for piece in (
                Window(start, part.low - ONE_MICROSECOND),
                Window(part.high + ONE_MICROSECOND, whole.high),
            )
            if piece.low <= piece.high
        ]
        # The counter counts an expired event the TTL has removed already: keys before the span miss it.
        removable = start < self.span.low and part.low > start
        outside_span = sum((self.span.overlap(piece) for piece in outside), timedelta(0))
        part_span = self.span.overlap(part)
        if not removable and (
            outside_span == timedelta(0) or (cheaper_parts is None and outside_span < part_span)
        ):
            return max(0, count - sum(self._count_keys(day, piece) for piece in outside))
        return cheaper_parts() if cheaper_parts is not None else self._count_keys(day, part)

    def _count_keys(self, day: str, part: Window) -> int:
        return self.filters.log(self.workspace_id).count(day, part.low, part.high)

    def in_window(self, day: str) -> int:
        """Matching events of `day` inside the window."""
        if day not in self._in_window:
            part = self.window.clip(*_day_bounds(day))
            count = self.day_count(day) if part is not None else 0
            if count and part is not None:
                count = self._cut(
                    day,
                    _day_bounds(day),
                    part,
                    count,
                    cheaper_parts=lambda: sum(c for _, _, c in self.hours_in_window(day)),
                )
            self._in_window[day] = count
        return self._in_window[day]

    def total(self) -> int:
        days = self.window.days()
        if not days:
            return 0
        self._load_days(days[-1], days[0])  # one Query for the whole window
        return sum(self.in_window(day) for day in days)


def _days_before(day: str, count: int) -> str:
    return (datetime.fromisoformat(day).date() - timedelta(days=count)).isoformat()


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


def _resolve(query: ActivityQuery, now: datetime, retention_days: int) -> tuple[Filters, Window, Window]:
    """The filters, the window asked for, and the span where stored events can be (see Census)."""
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
    # No event is later than this: ingestion refuses a createdAt more than MAX_FUTURE_SKEW ahead of its
    # `now` (events.validate_event). A far `to` must not make the walk over the window's days millions of
    # days long.
    newest = now + MAX_FUTURE_SKEW
    # An empty value is a value, and not a date-time: a 400 like any other (absent is the default).
    low = parse_instant(query.start, "from") if query.start is not None else oldest
    high = parse_instant(query.end, "to") if query.end is not None else newest
    if query.start is not None and query.end is not None and low > high:
        raise InvalidRequest(
            "'from' is after 'to'",
            details=[{"in": "query", "field": "from", "problem": "must not be after 'to'"}],
        )
    span = Window(oldest, newest)
    return Filters(query.agent_id, query.event_type), Window(max(low, oldest), min(high, newest)), span


def list_activity(
    workspace_id: str, query: ActivityQuery, now: datetime, retention_days: int
) -> ActivityPage:
    """One page of the activity log, newest first, with the exact total of the filter."""
    filters, window, span = _resolve(query, now, retention_days)
    start: dict[str, Any] | None = None
    position = query.offset
    total: int | None = None
    if query.next_token:
        if query.offset:
            raise InvalidRequest(
                "give either offset or nextToken, not both",
                details=[{"in": "query", "field": "offset", "problem": "not with nextToken"}],
            )
        # A cursor keeps the window and the total of its first page: `total` stays put while events
        # arrive, and a cursor page reads no counter for it.
        state = cursors.decode(query.next_token, workspace_id, _scope(query))
        window = Window(periods.parse_stored(state["low"]), periods.parse_stored(state["high"]))
        position, start = int(state["position"]), {"day": state["day"], "key": state["key"]}
        total = state.get("total")  # absent from the cursors issued before it was kept
    census = Census(workspace_id, filters, window, span)
    if total is None:
        total = census.total()
    # One key more than the page: whether there is more, in the same read.
    found = _collect(
        workspace_id,
        filters,
        window,
        census,
        query.limit + 1,
        skip=0 if start else position,
        start=start,
        now=now,
    )
    page = found[: query.limit]
    events = events_repo.events_of([key for _, key in page])
    names = {a.id: a.name for a in agents_repo.agents_of_workspace(workspace_id)} if page else {}
    data = [_item(event, names) for event in events]
    after = position + len(page)
    # The counters may trail the newest writes by a stream delay: a full page at or past `total` has more
    # when a next key exists, so a cursor walk never stops before the last stored event.
    full = len(page) == query.limit
    has_more = len(found) > query.limit or (full and after < total)
    token = None
    if has_more:
        day, key = page[-1]
        token = cursors.encode(
            workspace_id,
            _scope(query),
            {
                "low": periods.stored(window.low),
                "high": periods.stored(window.high),
                "position": after,
                "day": day,
                "key": filters.log(workspace_id).position(key),
                "total": total,
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
) -> list[tuple[str, dict[str, Any]]]:
    """Walks the window's days newest first: skips `skip` matching events (whole days and hours by their
    counters) or resumes after `start`, then collects up to `limit` index keys, each with its day."""
    log = filters.log(workspace_id)
    fresh = {periods.day_of(now - timedelta(days=back)) for back in range(FRESH_DAYS)}
    found: list[tuple[str, dict[str, Any]]] = []
    days = window.days()
    if start is not None:
        days = [d for d in days if d <= start["day"]]
    for day in days:
        part = window.clip(*_day_bounds(day))
        if part is None:
            continue
        resume = start["key"] if start is not None and day == start["day"] else None
        if resume is None and day not in fresh and census.day_count(day) == 0:
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
        if skip:
            skipped = log.keys(day, part.low, part.high, limit=skip)
            skip = 0
            if skipped.last is None:
                continue
            resume = skipped.last
        keys = log.keys(day, part.low, part.high, limit=limit - len(found), start=resume).keys
        found.extend((day, key) for key in keys)
        if len(found) >= limit:
            break
    return found


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
        day, after = periods.day_of(start), events_repo.feed_floor(start)
    keys: list[dict[str, Any]] = []
    caught_up = True
    high = events_repo.feed_ceiling(upper)
    # `after` is FEED_DAY_START (a whole day) or a position: where the walk resumes, in one order with `high`.
    if (after if after != events_repo.FEED_DAY_START else events_repo.feed_floor(_day_bounds(day)[0])) > high:
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
        page = events_repo.feed_keys(
            workspace_id, current.isoformat(), after, high, limit=limit - len(keys) + 1
        )
        # The lower bound is inclusive, and the key equal to it was returned by the previous page.
        keys.extend(k for k in page.keys if events_repo.feed_position(k) != after)
        if len(keys) >= limit:
            keys = keys[:limit]
            caught_up = False
            day, after = current.isoformat(), events_repo.feed_position(keys[-1])
            break
        current += timedelta(days=1)
        after = events_repo.FEED_DAY_START  # the whole next day
    else:
        # Everything ingested up to `upper` has been returned: the next poll starts right after it.
        day, after = periods.day_of(upper), high
    events = events_repo.events_of(keys)
    if keys and agents is None:
        agents = agents_repo.agents_of_workspace(workspace_id)
    names = {a.id: a.name for a in agents or []}
    return FeedPage(
        data=[_item(event, names) for event in events],
        next_token=cursors.encode(workspace_id, "feed", {"day": day, "after": after}),
        caught_up=caught_up,
        up_to=periods.display(upper),
    )
