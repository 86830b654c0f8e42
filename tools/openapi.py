"""The OpenAPI 3.1 document of the whole API, merged from the Powertools resolvers of the template's API
functions. `python -m tools.openapi` (or `make openapi`) writes it to docs/openapi.json, the one
committed document; DocsFunction serves it through functions/docs/openapi.json, a symbolic link that
`sam build` copies as the file. tests/unit/test_openapi.py fails when the document differs from what this
produces or when the template's routes and the document's operations differ.

Who documents what:
- each route's decorator: its summary, tag, parameters, 200 body (return type, or `responses=` where the
  handler returns a Response) and the error answers of its handler (costmetrics.api.openapi_responses);
- each route's `openapi_extensions=`: the request body it reads; for a body read with parse_body(),
  `request_body(...)`, whose schema this module builds from the request model
  (costmetrics.api.REQUEST_MODELS);
- this module: what API Gateway does in front of the handlers, read from template.yaml (the Cognito
  bearer scheme and its 401 on authorized routes, none on the others), and the document's info, tags and
  servers.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, get_args, get_origin

from pydantic.json_schema import models_json_schema

from local_stack.template import ROOT, routes

DOCS_FILE = ROOT / "docs" / "openapi.json"
# A symbolic link to DOCS_FILE: `sam build` (without --use-container) copies the document in its place.
SERVED_FILE = ROOT / "functions" / "docs" / "openapi.json"
OUTPUT_FILES = (DOCS_FILE,)

TITLE = "Cost & Metrics API"
DESCRIPTION = (
    "What a fleet of AI agents costs (by provider, model and agent), whether each agent stays within "
    "its monthly budget, the fleet's ROI against human labour, and what every agent did.\n\n"
    "Every route but /api/health, /api/docs and the console's (/console...) needs a Cognito ID token "
    "of the stack's user pool in `Authorization: Bearer <IdToken>`; the workspace comes from its "
    "`custom:workspace_id` claim and the caller's rights from its group (admin, viewer or ingest). "
    "POST /api/activity and POST /v1/traces also take an ingest key (`Authorization: Bearer cmk_...`, "
    "see /api/ingest-keys), which may do nothing else. "
    "Errors are JSON: "
    '`{"error": "<code>", "message": "<what is wrong>", "details": [...]}`. Money is in USD, rounded '
    "half-up to 2 places; months are UTC, `YYYY-MM`."
)
SECURITY_SCHEME = "CognitoIdToken"
SECURITY_SCHEMES = {
    SECURITY_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A Cognito ID token (IdToken, not the access token) of the stack's user pool, "
        "verified by API Gateway's Cognito authorizer.",
    },
    "IngestKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An ingest key (`cmk_...`, from POST /api/ingest-keys), verified by the ingest "
        "authorizer; it may only ingest (POST /api/activity, POST /v1/traces). Those routes also take an "
        "ID token.",
    },
}
INGEST_SECURITY: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}, {"IngestKey": []}]
TAGS = [
    {"name": "Cost analysis", "description": "What the workspace spends, by provider, model and agent"},
    {"name": "Workforce ROI", "description": "The fleet's cost against the human labour it replaces"},
    {"name": "Activity log", "description": "Ingesting events, the activity log and the SIEM feed"},
    {"name": "Agents", "description": "The agent registry"},
    {"name": "Ingest keys", "description": "Machine credentials that may only ingest"},
    {"name": "OpenTelemetry", "description": "OTLP/HTTP traces: GenAI spans become activity events"},
    {"name": "Health", "description": "Liveness"},
    {"name": "Documentation", "description": "This document and Swagger UI"},
    {"name": "Console", "description": "The web console: a page that signs in and calls this API"},
]
LOCAL_SERVER = {"url": "http://127.0.0.1:3000", "description": "make local (the served copy names its own)"}
REF = "#/components/schemas/"


# --- Request bodies: the routes' request models (costmetrics.api.request_body) ---------------------


REPLACE = "PUT replaces the whole resource: every field is required (null for an empty optional one)."
MERGE_PATCH = (
    "A JSON Merge Patch (RFC 7396), sent as application/merge-patch+json or application/json: the fields "
    "given replace the current ones, the others are kept; null empties an optional field (and is a 400 "
    "for a field every resource has)."
)


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _standard(schema: Any) -> Any:
    """JSON Schema keywords for what pydantic leaves in its own terms on input Decimals: a JsonDecimal is a
    JSON number (strings are rejected), ge/le are minimum/maximum, decimal_places is a multipleOf (and said
    in the text)."""
    if isinstance(schema, list):
        return [_standard(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _standard(value) for key, value in schema.items()}
    variants = result.get("anyOf")
    if isinstance(variants, list) and [v.get("type") for v in variants] == ["number", "string"]:
        del result["anyOf"]
        result["type"] = "number"
    for old, new in _BOUNDS.items():
        if old in result:
            result[new] = _number(result.pop(old))
    if (places := result.pop("decimal_places", None)) is not None:
        result["description"] = f"A JSON number with at most {places} decimal places"
        result["multipleOf"] = _number(Decimal(1).scaleb(-places))
    if result.get("type") == "number" and "default" in result:
        result["default"] = _number(result["default"])
    return result


def _number(value: Any) -> int | float:
    exact = Decimal(str(value))
    return int(exact) if exact == exact.to_integral_value() else float(exact)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query or path parameter is absent or a string, never JSON null: drop pydantic's null branch."""
    variants = schema.get("anyOf")
    if not isinstance(variants, list) or {"type": "null"} not in variants:
        return schema
    rest = [variant for variant in variants if variant != {"type": "null"}]
    result = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**rest[0], **result} if len(rest) == 1 else {**result, "anyOf": rest}


def _request_schemas(paths: dict[str, Any], components: dict[str, Any]) -> None:
    """The schemas that the routes' requestBodies refer to, built from their request models and added to
    `components`: a PUT's requires every field but the model's write parameters; a Patch's is the same
    without `required` (<Model>Patch); any other's is the model's own."""
    from costmetrics.api import REQUEST_MODELS
    from costmetrics.writes import WHOLE, Patch, write_parameters

    used: dict[str, str] = {}  # schema name -> the method of the routes that read it
    for path, method, operation in _operations(paths):
        for name in _referenced(operation.get("requestBody", {})):
            if used.setdefault(name, method) != method:
                raise ValueError(f"{name} is read by {used[name]} and {method} routes ({path})")
    kinds = {name: REQUEST_MODELS[name] for name in used}
    models = {name: get_args(kind)[0] if get_origin(kind) is Patch else kind for name, kind in kinds.items()}
    keys = list(dict.fromkeys((model, "validation") for model in models.values()))
    refs, defs = models_json_schema(keys, by_alias=True, ref_template=REF + "{model}")  # type: ignore[arg-type]
    whole = {model.__name__: model for name, model in models.items() if used[name] == WHOLE}
    renamed: dict[str, str] = {}
    for name, schema in defs.get("$defs", {}).items():
        standard = _standard(schema)
        if name in whole:
            optional = write_parameters(whole[name])
            standard["required"] = [p for p in standard["properties"] if p not in optional]
            standard["description"] = f"{standard.get('description', '')}\n\n{REPLACE}".strip()
            # A default never applies to a field that must be given (nor, in a patch, to one left out).
            for field in standard["required"]:
                standard["properties"][field].pop("default", None)
        # A model documented for its answers (serialization) and its input (validation) may differ.
        if name in components and components[name] != standard:
            renamed[REF + name] = REF + name + "Input"
            name += "Input"
            standard["title"] = name  # a generated client names its classes after the titles
        components[name] = standard
    for name, kind in kinds.items():
        if get_origin(kind) is Patch:
            whole_name = _renamed(refs[(models[name], "validation")], renamed)["$ref"].removeprefix(REF)
            patch = {k: v for k, v in components[whole_name].items() if k != "required"}
            components[name] = {**patch, "title": name, "description": MERGE_PATCH}
    for name in list(components):
        components[name] = _renamed(components[name], renamed)
    for _, _, operation in _operations(paths):
        if "requestBody" in operation:
            operation["requestBody"] = _renamed(operation["requestBody"], renamed)


def _renamed(schema: Any, renamed: dict[str, str]) -> Any:
    if isinstance(schema, list):
        return [_renamed(item, renamed) for item in schema]
    if isinstance(schema, dict):
        return {
            key: (renamed.get(value, value) if key == "$ref" else _renamed(value, renamed))
            for key, value in schema.items()
        }
    return schema


# --- Merging the functions' documents ----------------------------------------------------------------


def version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def _importable() -> None:
    """The layer's package and the functions, importable as the local stack has them."""
    for path in (ROOT / "layers" / "common", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def function_documents() -> dict[str, dict[str, Any]]:
    """Module of each API function of the template -> its resolver's own OpenAPI document."""
    _importable()
    documents = {}
    for module in sorted({route.module for route in routes()}):
        app = importlib.import_module(module).app
        documents[module] = json.loads(app.get_openapi_json_schema(title=TITLE, version=version()))
    return documents


def _operations(paths: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in paths.items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def _referenced(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith(REF):
                yield item.removeprefix(REF)
            else:
                yield from _referenced(item)
    elif isinstance(value, list):
        for item in value:
            yield from _referenced(item)


def _reachable(document: dict[str, Any]) -> set[str]:
    schemas = document["components"]["schemas"]
    seen: set[str] = set()
    pending = list(_referenced(document["paths"]))
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(_referenced(schemas[name]))
    return seen


def build() -> dict[str, Any]:
    """The whole API's OpenAPI document."""
    authorized = {(route.method, route.path): route.authorized for route in routes()}
    key_routes = {
        (r.method, r.path) for r in routes() if r.authorizer and r.authorizer != "CognitoAuthorizer"
    }
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for module, own in function_documents().items():
        for name, schema in own.get("components", {}).get("schemas", {}).items():
            if name in components and components[name] != schema:
                raise ValueError(f"two different schemas are named {name} (the last from {module})")
            components[name] = schema
        for path, method, operation in _operations(own.get("paths", {})):
            if method.lower() in paths.get(path, {}):
                raise ValueError(f"{method} {path} is served by two functions (the last: {module})")
            paths.setdefault(path, {})[method.lower()] = operation

    from costmetrics.api import ERROR_MEANINGS

    _request_schemas(paths, components)
    for path, method, operation in _operations(paths):
        responses = operation["responses"]
        # Powertools documents its validation errors as a 422 HTTPValidationError; costmetrics.api answers
        # them as a 400 with the ApiError body, which the route's decorator declares.
        if "HTTPValidationError" in json.dumps(responses.get("422", {})):
            del responses["422"]
        if authorized.get((method, path), True):
            responses["401"] = {
                "description": ERROR_MEANINGS[401],
                "content": {"application/json": {"schema": {"$ref": REF + "ApiError"}}},
            }
        else:
            operation["security"] = []
        if (method, path) in key_routes:
            operation["security"] = INGEST_SECURITY
        for parameter in operation.get("parameters", []):
            parameter["schema"] = _without_null(parameter["schema"])

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": version(), "description": DESCRIPTION},
        "servers": [LOCAL_SERVER],
        "security": [{SECURITY_SCHEME: []}],
        "tags": TAGS,
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }
    if "ApiError" not in components:
        raise ValueError("no route documents an error answer: costmetrics.api.ApiError is missing")
    keep = _reachable(document)
    document["components"]["schemas"] = {name: components[name] for name in sorted(keep)}
    return copy.deepcopy(document)


def render(document: dict[str, Any] | None = None) -> str:
    """The document as committed: sorted keys, two-space indents, a final newline."""
    return json.dumps(build() if document is None else document, indent=2, sort_keys=True) + "\n"


def main() -> None:
    text = render()
    for path in OUTPUT_FILES:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
