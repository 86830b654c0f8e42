"""CSV of a list endpoint's rows, for spreadsheet reports: the JSON field names as the header, the same
rounded values, lists joined with ";"."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_cell(v) for v in value)
    text = str(value)
    # A cell starting with = + - @ (or a tab or CR before one) is a formula in spreadsheets; quote it.
    formula = text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and not _is_number(text))
    return "'" + text if formula else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(rows: Sequence[BaseModel], row_type: type[BaseModel]) -> str:
    """The rows as CSV with a header even when there are no rows."""
    columns = [field.alias or name for name, field in row_type.model_fields.items()]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        data = row.model_dump(mode="json", by_alias=True)
        writer.writerow([_cell(data[column]) for column in columns])
    return out.getvalue()
