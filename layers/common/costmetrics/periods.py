"""Time and period rules: UTC instants, `YYYY-MM` months, the sortable timestamp format we store."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from costmetrics.errors import InvalidRequest

# A month the service can have figures for: 2000-01 to 2099-12 (another year is a typo, such as
# 0226-03 or 2206-03). ASCII digits only ("\d" would take "２０２６-01"), and no look-around, so that the
# same pattern serves Python, pydantic's regex engine and the OpenAPI document's clients.
MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)
FIRST_MONTH, LAST_MONTH = "2000-01", "2099-12"
# Fixed width, so that lexicographic order of stored strings is chronological order.
_STORED_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


Instant = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
"""An instant as the API shows it (display()): an RFC 3339 date-time in UTC, documented as such."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is a caller bug (inputs are validated as aware)."""
    if value.tzinfo is None:
        raise ValueError("a timestamp must carry a time zone offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00, before datetime.min in UTC
        raise ValueError(f"{value.isoformat()} is out of range in UTC") from None


def _year(value: datetime) -> str:
    # strftime's %Y does not pad years before 1000 to 4 digits, which would break the fixed width.
    return f"{value.year:04d}"


def stored(value: datetime) -> str:
    """The sortable form kept in tables: `2026-03-17T08:01:44.000000Z`."""
    value = to_utc(value)
    return _year(value) + value.strftime(_STORED_FORMAT.removeprefix("%Y"))


def parse_stored(value: str) -> datetime:
    return datetime.strptime(value, _STORED_FORMAT).replace(tzinfo=UTC)


def display(value: datetime) -> str:
    """The API's form: `2026-03-17T08:01:44Z`, with fractional seconds only when there are any."""
    value = to_utc(value)
    if value.microsecond:
        return _year(value) + value.strftime("-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return _year(value) + value.strftime("-%m-%dT%H:%M:%SZ")


def month_of(value: datetime) -> str:
    return to_utc(value).strftime("%Y-%m")


def day_of(value: datetime) -> str:
    return to_utc(value).strftime("%Y-%m-%d")


def hour_of(value: datetime) -> str:
    return to_utc(value).strftime("%Y-%m-%dT%H")


def current_month(now: datetime | None = None) -> str:
    return month_of(now or utcnow())


def parse_month(value: str | None, *, param: str = "month", now: datetime | None = None) -> str:
    """A `YYYY-MM` query parameter, defaulting to the current UTC month."""
    if value is None or value == "":
        return current_month(now)
    if not _MONTH.fullmatch(value):
        raise InvalidRequest(
            f"'{param}' must be a month in the form YYYY-MM from {FIRST_MONTH} to {LAST_MONTH}, "
            f"got {value!r}",
            details=[{"field": param, "problem": "expected YYYY-MM"}],
        )
    return value


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a UTC calendar month."""
    year, mon = int(month[:4]), int(month[5:7])
    start = datetime(year, mon, 1, tzinfo=UTC)
    days = calendar.monthrange(year, mon)[1]
    return start, start + timedelta(days=days)


def shift_month(month: str, delta: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_ending(month: str, count: int) -> list[str]:
    """`count` consecutive months, oldest first, ending with `month`."""
    return [shift_month(month, offset) for offset in range(1 - count, 1)]


def elapsed_fraction(month: str, now: datetime | None = None) -> Decimal:
    """How much of `month` has elapsed at `now`, in (0, 1]; 1 for past months, 0 for future months."""
    now = to_utc(now or utcnow())
    start, end = month_bounds(month)
    if now >= end:
        return Decimal(1)
    if now <= start:
        return Decimal(0)
    elapsed = Decimal(int((now - start).total_seconds()))
    total = Decimal(int((end - start).total_seconds()))
    return elapsed / total
