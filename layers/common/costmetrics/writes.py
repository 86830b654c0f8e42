"""Writes that cannot lose data (docs/metrics.md, README "Registry writes"): PUT replaces a whole resource and
so needs every field (a field left out would silently become its default); PATCH is a JSON Merge Patch
(RFC 7396) that changes only the fields it gives. Both end in the same full model, validated the same way.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from costmetrics.errors import InvalidRequest


def _name(name: str, field: FieldInfo) -> str:
    """The field's name in JSON (its alias when it has one)."""
    return field.alias or name


def nullable(field: FieldInfo) -> bool:
    """Whether the field takes null (an optional value such as a department), not only a value."""
    annotation = field.annotation
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


MISSING = "missing"


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    """(field, problem) of each error of a validation, in JSON names."""
    found = []
    for item in error.errors(include_url=False):
        parts = [str(part) for part in item["loc"]]
        loc = ".".join(part for part in parts if not part.startswith("function-"))
        found.append((loc, item["msg"].removeprefix("Value error, ")))
    return found


def _invalid(problems: list[tuple[str, str]], lead: str = "") -> InvalidRequest:
    message = "; ".join(f"{field}: {problem}" if field else problem for field, problem in problems)
    return InvalidRequest(
        f"{lead}{message}",
        details=[{"in": "body", "field": field or "body", "problem": problem} for field, problem in problems],
    )


def replacement[M: BaseModel](
    model: type[M], body: Any, what: str, *, optional: frozenset[str] = frozenset()
) -> M:
    """A PUT body as `model`: a JSON object with every field of `model` (null where a field may be empty),
    except the names in `optional` (parameters of the write, not fields of the resource). One 400 names
    each missing field and each bad one."""
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"the body must be a JSON object: the whole {what}",
            details=[{"in": "body", "field": "body", "problem": "expected a JSON object"}],
        )
    fields = [_name(name, field) for name, field in model.model_fields.items()]
    absent = {name for name in fields if name not in body and name not in optional}
    missing = [(name, MISSING) for name in fields if name in absent]
    lead = (
        f"PUT replaces the whole {what}: give every field (null for an empty optional one), or PATCH to "
        "change some; "
        if missing
        else ""
    )
    try:
        validated = model.model_validate(body)
    except ValidationError as error:
        # pydantic's own "Field required" says less than MISSING about the same fields.
        bad = [(field, problem) for field, problem in _problems(error) if field not in absent]
        raise _invalid(missing + bad, lead) from None
    if missing:
        raise _invalid(missing, lead)
    return validated


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: `patch` applied to `target` (neither is changed). An object patch merges member by
    member, a null member removes it; anything else (an array, a string...) replaces the target."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def patched[M: BaseModel](
    model: type[M], current: dict[str, Any], patch: Any, what: str, *, optional: frozenset[str] = frozenset()
) -> M:
    """`current` (a whole resource, in JSON names) with a merge `patch` applied, as `model`. null removes an
    optional field (it becomes empty); a field every resource has cannot be removed (a 400 names it)."""
    if not isinstance(patch, dict):
        raise InvalidRequest(
            f"a merge patch of the {what} is a JSON object of the fields to change",
            details=[{"in": "body", "problem": "expected a JSON object"}],
        )
    fields = {_name(name, field): field for name, field in model.model_fields.items()}
    # RFC 7396 would take {"unknown": null} as removing nothing; a field the resource cannot have is a
    # client's mistake all the same.
    unknown = [name for name in patch if name not in fields]
    if unknown:
        raise _invalid([(name, "Extra inputs are not permitted") for name in unknown])
    kept = [name for name, value in patch.items() if value is None]
    required = [name for name in kept if not nullable(fields[name]) and name not in optional]
    if required:
        raise InvalidRequest(
            f"every {what} has {', '.join(required)}: null would remove it; give a value",
            details=[{"in": "body", "field": name, "problem": "cannot be null"} for name in required],
        )
    merged = merge_patch(current, patch)
    for name, field in fields.items():
        if name not in merged and nullable(field):
            merged[name] = None
    try:
        return model.model_validate(merged)
    except ValidationError as error:
        raise _invalid(_problems(error)) from None
