"""Output: aligned tables for people (money with 2 decimals), the API's JSON as it came, and CSV with the
JSON field names as the header (as the API's own CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

TENTH, CENT, MIL = Decimal("0.1"), Decimal("0.01"), Decimal("0.001")
NUMERIC = frozenset({"int", "money", "money3", "pct", "ratio", "price", "dec"})


@dataclass(frozen=True)
class Column:
    """One column of a table: the row's field, its header and how to show it.

    fmt: text, int (thousands separators), money (2 decimals), money3 (3 decimals), pct (already a
    percentage, 1 decimal), ratio (a fraction shown as a percentage), price (2 decimals or more), dec (as
    given), bool (yes / no), list."""

    key: str
    header: str
    fmt: str = "text"


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value)) if isinstance(value, int | float | str) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None


def cell(value: Any, fmt: str = "text") -> str:
    """A value as a table shows it."""
    if value is None:
        return ""
    if fmt == "bool":
        return "yes" if value is True else "no" if value is False else str(value)
    if fmt == "list":
        return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    number = _decimal(value) if fmt in NUMERIC else None
    if number is None:
        return str(value)
    if fmt == "money":
        return f"{number.quantize(CENT, rounding=ROUND_HALF_UP):,}"
    if fmt == "int":
        return f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,}"
    if fmt == "money3":
        return f"{number.quantize(MIL, rounding=ROUND_HALF_UP):,}"
    if fmt == "pct":
        return f"{number.quantize(TENTH, rounding=ROUND_HALF_UP):,}%"
    if fmt == "ratio":
        return f"{(number * 100).quantize(TENTH, rounding=ROUND_HALF_UP):,}%"
    if fmt == "price":  # at least 2 decimals, every digit the catalog has (0.075 stays 0.075)
        exponent = number.as_tuple().exponent
        return f"{number.quantize(CENT)}" if isinstance(exponent, int) and exponent > -2 else str(number)
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], *, empty: str = "(none)") -> str:
    """Rows as aligned columns under an upper-case header; numbers right-aligned."""
    if not rows:
        return empty
    grid = [[column.header.upper() for column in columns]]
    grid += [[cell(row.get(column.key), column.fmt) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(columns))]
    lines = []
    for line in grid:
        parts = [
            text.rjust(width) if column.fmt in NUMERIC else text.ljust(width)
            for text, width, column in zip(line, widths, columns, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def key_values(pairs: Iterable[tuple[str, str]]) -> str:
    """`label  value` lines, the values aligned."""
    items = [(label, value) for label, value in pairs if value != ""]
    width = max((len(label) for label, _ in items), default=0)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in items)


def section(title: str, body: str) -> str:
    return f"{title}\n{body}"


def to_json(document: Any) -> str:
    """The API's JSON, indented (numbers as the API wrote them: parsed as float, which round-trips)."""
    return json.dumps(document, indent=2, ensure_ascii=False)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_csv_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = str(value)
    # As the API's CSV: a cell that a spreadsheet would run as a formula (= + - @, or a tab or CR before
    # one) is kept as text.
    if text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and _decimal(text) is None):
        return "'" + text
    return text


def csv_table(rows: Sequence[Mapping[str, Any]], header: Sequence[str] | None = None) -> str:
    """Rows as CSV (CRLF, like the API's): the header is `header`, else every field in order of appearance."""
    if header is None:
        header = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(row.get(column)) for column in header])
    return out.getvalue()


_NAME_KEYS = ("provider", "model", "department", "id", "agentId", "period", "name")


def flatten(document: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """A nested JSON object as (dotted path, value) pairs, for a CSV of one document: a list of objects
    is keyed by each item's name (provider, model, department...) or its position."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            pairs += flatten(value, f"{prefix}{key}.")
    elif isinstance(document, list) and document and all(isinstance(v, dict) for v in document):
        for position, item in enumerate(document):
            key = next((k for k in _NAME_KEYS if isinstance(item.get(k), str)), None)
            name = str(item[key]) if key is not None else str(position)
            rest = {k: v for k, v in item.items() if k != key}
            if len(rest) == 1:
                pairs.append((f"{prefix}{name}", next(iter(rest.values()))))
            else:
                pairs += flatten(rest, f"{prefix}{name}.")
    else:
        pairs.append((prefix.rstrip("."), document))
    return pairs


def csv_document(document: Any) -> str:
    """One JSON document (a summary) as `field,value` CSV rows."""
    return csv_table(
        [{"field": path, "value": value} for path, value in flatten(document)], ["field", "value"]
    )
