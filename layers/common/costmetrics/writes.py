"""Request bodies read as models, with one 400 that names each bad field (docs/metrics.md, README "Registry
writes"). Writes cannot lose data: PUT replaces a whole resource and so needs every field (a field left out
would silently become its default); PATCH is a JSON Merge Patch (RFC 7396) that changes only the fields it
gives. Both end in the same full model, validated the same way; any other body (POST) is its model as is.

A resource model may name the JSON fields that are parameters of its write, not fields of the resource
(`WRITE_PARAMETERS`, e.g. a price's effectiveFrom): a PUT need not give them and a PATCH does not merge
them into the resource. A model's `NOUN` names the resource in the messages.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from costmetrics.errors import InvalidRequest

# The method whose body is a whole resource (every field given); PATCH's is a Patch, any other's as is.
WHOLE = "PUT"
MISSING = "missing"


def _name(name: str, field: FieldInfo) -> str:
    """The field's name in JSON (its alias when it has one)."""
    return field.alias or name


def nullable(field: FieldInfo) -> bool:
    """Whether the field takes null (an optional value such as a department), not only a value."""
    annotation = field.annotation
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def write_parameters(model: type[BaseModel]) -> frozenset[str]:
    """The JSON fields of `model` that are parameters of the write rather than fields of the resource."""
    return frozenset(getattr(model, "WRITE_PARAMETERS", ()))


def _noun(model: type[BaseModel]) -> str:
    return str(getattr(model, "NOUN", "resource"))


def problems(error: ValidationError, field: str = "") -> list[tuple[str, str]]:
    """(field, problem) of each error of a validation, in JSON names (under `field` when given)."""
    found = []
    for item in error.errors(include_url=False):
        parts = [field, *(str(part) for part in item["loc"])]
        loc = ".".join(part for part in parts if part and not part.startswith("function-"))
        found.append((loc, item["msg"].removeprefix("Value error, ")))
    return found


def _invalid(found: list[tuple[str, str]], lead: str = "") -> InvalidRequest:
    message = "; ".join(f"{field}: {problem}" if field else problem for field, problem in found)
    return InvalidRequest(
        f"{lead}{message}",
        details=[{"in": "body", "field": field or "body", "problem": problem} for field, problem in found],
    )


def _not_an_object(message: str) -> InvalidRequest:
    return InvalidRequest(
        message, details=[{"in": "body", "field": "body", "problem": "expected a JSON object"}]
    )


def read_body(kind: Any, body: Any, *, method: str) -> Any:
    """The JSON `body` of a `method` request as `kind`: a model, or `Patch[model]` (a PATCH's). A 400
    (InvalidRequest) names each missing and each bad field."""
    if get_origin(kind) is Patch:
        (model,) = get_args(kind)
        return Patch.read(model, body)
    if method == WHOLE:
        return replacement(kind, body)
    try:
        return kind.model_validate(body)
    except ValidationError as error:
        raise _invalid(problems(error)) from None


def replacement[M: BaseModel](model: type[M], body: Any) -> M:
    """A PUT body as `model`: a JSON object with every field of `model` (null where a field may be empty),
    except its write parameters. One 400 names each missing field and each bad one."""
    what = _noun(model)
    if not isinstance(body, dict):
        raise _not_an_object(f"the body must be a JSON object: the whole {what}")
    optional = write_parameters(model)
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
        bad = [(field, problem) for field, problem in problems(error) if field not in absent]
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


def _value_of(field: FieldInfo) -> TypeAdapter[Any]:
    """A validator of one field's value on its own (its type and constraints)."""
    annotation = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    return TypeAdapter(annotation)


class Patch[M: BaseModel]:
    """A PATCH body: a JSON Merge Patch of a whole `M`. Read on its own (an object of M's fields, null only
    where M's field may be empty, write parameters valid), it is applied to the resource as it stands when
    it is written (`applied_to`), so a write that retries after a concurrent change applies it again."""

    def __init__(self, model: type[M], changes: dict[str, Any], parameters: dict[str, Any]) -> None:
        self.model = model
        self.changes = changes
        # The write parameters the patch gives, validated (JSON name -> value), e.g. a price's effectiveFrom.
        self.parameters = parameters

    @classmethod
    def read(cls, model: type[M], patch: Any) -> Patch[M]:
        """`patch` as a merge patch of `model`, or a 400 naming each field it cannot change so."""
        what = _noun(model)
        if not isinstance(patch, dict):
            raise _not_an_object(f"a merge patch of the {what} is a JSON object of the fields to change")
        fields = {_name(name, field): field for name, field in model.model_fields.items()}
        # RFC 7396 would take {"unknown": null} as removing nothing; a field the resource cannot have is a
        # client's mistake all the same.
        unknown = [name for name in patch if name not in fields]
        if unknown:
            raise _invalid([(name, "Extra inputs are not permitted") for name in unknown])
        optional = write_parameters(model)
        kept = [name for name, value in patch.items() if value is None]
        required = [name for name in kept if not nullable(fields[name]) and name not in optional]
        if required:
            raise InvalidRequest(
                f"every {what} has {', '.join(required)}: null would remove it; give a value",
                details=[{"in": "body", "field": name, "problem": "cannot be null"} for name in required],
            )
        parameters = {}
        for name in optional & patch.keys():
            try:
                parameters[name] = _value_of(fields[name]).validate_python(patch[name])
            except ValidationError as error:
                raise _invalid(problems(error, name)) from None
        return cls(model, patch, parameters)

    def applied_to(self, current: dict[str, Any]) -> M:
        """`current` (a whole resource, in JSON names) with this patch applied, as the model. null removes
        an optional field (it becomes empty)."""
        merged = merge_patch(current, self.changes)
        for name, field in self.model.model_fields.items():
            if _name(name, field) not in merged and nullable(field):
                merged[_name(name, field)] = None
        try:
            return self.model.model_validate(merged)
        except ValidationError as error:
            raise _invalid(problems(error)) from None
