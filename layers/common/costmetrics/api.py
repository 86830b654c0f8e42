"""The HTTP edge shared by every API function: one resolver factory, domain errors mapped to HTTP in
one place, request bodies parsed safely, callers authorized from the authorizer's claims."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Annotated, Any, cast, get_args, get_origin

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

from costmetrics import sam_local
from costmetrics.auth import Principal, authorize_principal, principal_of_request
from costmetrics.errors import (
    DomainError,
    InvalidRequest,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from costmetrics.observability import logger, metrics
from costmetrics.periods import FIRST_MONTH, LAST_MONTH, MONTH_PATTERN
from costmetrics.writes import Patch, read_body

MAX_BODY_BYTES = 2 * 1024 * 1024


class ApiError(BaseModel):
    """The body of every error answer, the functions' and API Gateway's own (template GatewayResponses)."""

    error: str = Field(
        description="A stable code: invalid_request, bad_request, unauthorized, forbidden, not_found, "
        "conflict, payload_too_large, unsupported_media_type, unavailable, internal_error"
    )
    message: str = Field(description="What is wrong, naming the parameter or field")
    details: list[dict[str, Any]] = Field(
        default_factory=list,
        description='One entry per problem, e.g. {"in": "query", "field": "limit", "problem": "..."}; '
        "absent when there is nothing to add",
    )


ERROR_MEANINGS = {
    400: "Bad input (invalid_request): the message names the parameter or field",
    401: "No token, or not a valid ID token of the user pool (unauthorized); answered by API Gateway",
    403: "The caller's group may not do this (forbidden)",
    404: "Not found (not_found)",
    409: "The resource kept changing while this request was applied; send it again (conflict)",
    413: f"The body is over {MAX_BODY_BYTES} bytes (payload_too_large)",
    415: "The body is not application/json (unsupported_media_type)",
    503: "Storage is busy (unavailable): send the same request again after Retry-After seconds",
}
MERGE_PATCH = "application/merge-patch+json"
SCHEMAS = "#/components/schemas/"
# The request models of the routes' bodies, by the schema name their requestBody refers to (request_body);
# the OpenAPI document builds those schemas from the models (tools/openapi.py).
REQUEST_MODELS: dict[str, Any] = {}

MonthQuery = Annotated[
    str | None,
    Query(
        pattern=MONTH_PATTERN,
        description=f"UTC month YYYY-MM, from {FIRST_MONTH} to {LAST_MONTH}; default: the current month",
    ),
]
"""The ?month= of every cost-analysis and workforce read."""


def file_name(names: Sequence[str], what: str) -> Path:
    """A path parameter naming one of the files a route serves: documented as their list (an enum), checked
    by the handler, to which any other name is a 404 (one with characters no name has: a 400)."""
    return Path(json_schema_extra={"enum": list(names)}, description=f"{what}; any other name is a 404")


def openapi_responses(
    *errors: int, ok: OpenAPIResponse | None = None, status: int = 200
) -> dict[int, OpenAPIResponse]:
    """OpenAPI for a route's `responses=`: `status` (`ok`, or the handler's return type) and the error
    answers `errors` it gives, each with the ApiError body. Only documentation: nothing is computed per
    request."""
    documented: dict[int, OpenAPIResponse] = {status: ok or {"description": "OK"}}
    for status in errors:
        documented[status] = {
            "description": ERROR_MEANINGS[status],
            "content": {content_types.APPLICATION_JSON: {"model": ApiError}},
        }
    return documented


def request_body(kind: Any, description: str) -> dict[str, Any]:
    """A route's `openapi_extensions=` when it reads its body with `parse_body(app, kind)`: the requestBody,
    whose schema the model gives (a PUT's: the whole resource; `Patch[model]`: a merge patch of it)."""
    patch = get_origin(kind) is Patch
    name = f"{get_args(kind)[0].__name__}Patch" if patch else kind.__name__
    if REQUEST_MODELS.setdefault(name, kind) != kind:
        raise ValueError(f"two request bodies are named {name}")
    media_types = (
        (MERGE_PATCH, content_types.APPLICATION_JSON) if patch else (content_types.APPLICATION_JSON,)
    )
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media_type: {"schema": {"$ref": SCHEMAS + name}} for media_type in media_types},
        }
    }


def json_or_csv(model: type[BaseModel], description: str) -> OpenAPIResponse:
    """OpenAPI of a `negotiated()` answer: the JSON model, or its rows as CSV with Accept: text/csv."""
    return {
        "description": description,
        "content": {
            content_types.APPLICATION_JSON: {"model": model},
            "text/csv": {
                "schema": {"type": "string", "description": "the rows, one line each, with a header"}
            },
        },
    }


def json_of(model: type[BaseModel], description: str) -> OpenAPIResponse:
    """OpenAPI of a `json_response()` answer, whose model Powertools cannot see in the return type."""
    return {"description": description, "content": {content_types.APPLICATION_JSON: {"model": model}}}


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response[Any]:
    body = ApiError(error=code, message=message, details=details or [])
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(exclude_defaults=True),
    )


def _validation_details(error: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ())]
        # loc is ("query", "limit") or ("body", ...): the last part names the parameter.
        where, name = (loc[0], ".".join(loc[1:])) if len(loc) > 1 else ("request", ".".join(loc))
        details.append({"in": where, "field": name, "problem": item.get("msg", "invalid")})
    return details


def create_app() -> APIGatewayRestResolver:
    """A REST resolver with request validation and the project's error mapping."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(DomainError)
    def _domain(error: DomainError) -> Response[Any]:
        response = error_response(error.status, error.code, error.message, error.details)
        if isinstance(error, ServiceUnavailable):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    def _validation(error: RequestValidationError) -> Response[Any]:
        details = _validation_details(error)
        fields = ", ".join(sorted({d["field"] for d in details})) or "request"
        return error_response(400, "invalid_request", f"invalid value for: {fields}", details)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[Any]:
        event = app.current_event
        if event.path_parameters and event.resource != event.path:
            # API Gateway routed a template resource such as /api/agents/{agentId} here, but Powertools'
            # route pattern does not match the value's characters (a control character, '°', '#'...).
            names = sorted(event.path_parameters)
            return error_response(
                400,
                "invalid_request",
                f"invalid value for: {', '.join(names)}",
                [{"in": "path", "field": name, "problem": "has characters ids never have"} for name in names],
            )
        return error_response(
            404, "not_found", f"no route for {app.current_event.http_method} {app.current_event.path}"
        )

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; the request id is in the logs")

    return app


def caller(app: APIGatewayRestResolver, allowed: frozenset[str]) -> Principal:
    """The authorized caller of the current request; adds the workspace to every later log line (the
    route and the correlation id are there already, from `lambda_entry`)."""
    authorizer = app.current_event.raw_event.get("requestContext", {}).get("authorizer")
    principal = authorize_principal(principal_of_request(authorizer), allowed)
    logger.append_keys(workspace_id=principal.workspace_id)
    return principal


def parse_body[B](app: APIGatewayRestResolver, kind: type[B]) -> B:
    """The request body as `kind`: a request model (a PUT's is the whole resource, every field given) or
    `Patch[model]` (a PATCH's JSON Merge Patch), or a clear 4xx that names each bad field. The route
    documents the same `kind` with `openapi_extensions=request_body(kind, ...)`."""
    data = _json_body(app, merge_patch=get_origin(kind) is Patch)
    return cast(B, read_body(kind, data, method=app.current_event.http_method))


def _json_body(app: APIGatewayRestResolver, *, merge_patch: bool = False) -> Any:
    """The request body as JSON with exact numbers, or a clear 4xx. A merge patch (PATCH) is sent as
    application/merge-patch+json (RFC 7396) or application/json, never as a JSON Patch (RFC 6902)."""
    event = app.current_event
    headers = event.headers or {}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    media_type = (content_type or "").split(";")[0].strip().lower()
    if merge_patch and content_type and media_type not in (content_types.APPLICATION_JSON, MERGE_PATCH):
        raise UnsupportedMediaType(
            f"send the patch as {MERGE_PATCH} (the fields to change) or application/json, not {content_type}"
        )
    if content_type and "json" not in content_type.lower():
        raise UnsupportedMediaType(f"send the body as application/json, not {content_type}")
    try:
        raw = event.decoded_body or ""
    except ValueError:  # a base64 body (binary media type) that is not base64, or not UTF-8 once decoded
        raise InvalidRequest("the body is not UTF-8 text") from None
    size = len(raw.encode()) if isinstance(raw, str) else len(raw)
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {size} bytes; the limit is {MAX_BODY_BYTES}")
    if not raw.strip():
        raise InvalidRequest("the request needs a JSON body")
    try:
        return json.loads(raw, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise InvalidRequest(
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise InvalidRequest("the body is nested too deeply") from None
    except ValueError:  # an integer of more digits than int() converts (sys.get_int_max_str_digits)
        raise InvalidRequest("the body holds a number with too many digits") from None


def wants_csv(app: APIGatewayRestResolver) -> bool:
    """Whether the client asked for CSV (Accept: text/csv) rather than JSON."""
    headers = app.current_event.headers or {}
    accept = next((v for k, v in headers.items() if k.lower() == "accept"), "") or ""
    return "text/csv" in accept.lower()


def negotiated(
    app: APIGatewayRestResolver,
    body: BaseModel,
    rows: Sequence[BaseModel],
    row_type: type[BaseModel],
    filename: str,
) -> Response[Any]:
    """The JSON body, or its rows as CSV when the client accepts text/csv."""
    if wants_csv(app):
        from costmetrics.csv_export import to_csv

        return Response(
            status_code=200,
            content_type="text/csv; charset=utf-8",
            body=to_csv(rows, row_type),
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(by_alias=True),
    )


def json_response(status: int, body: Any, encoder: Callable[[Any], Any] | None = None) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, default=encoder or _default, separators=(",", ":")),
    )


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def lambda_entry(app: APIGatewayRestResolver) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler of an API function: the correlation id (API Gateway's request id) and the route
    on every log line, per-route request, latency and error metrics, cold start, metrics flushed.

    The event is never logged (`log_event=False` whatever POWERTOOLS_LOGGER_LOG_EVENT says): it carries
    the caller's bearer token in its Authorization header."""
    from aws_lambda_powertools.logging import correlation_paths

    from costmetrics.observability import record_request, route_of, traced

    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True, log_event=False
    )
    @metrics.log_metrics(capture_cold_start_metric=True)
    @traced
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if sam_local.active():  # `sam local start-api` skips the Cognito authorizer: stand in for it
            sam_local.authorize(event)
        route = route_of(event)
        logger.append_keys(route=route)
        # A fresh metric set per request: log_metrics clears it on flush, but not when metrics are disabled.
        metrics.clear_metrics()
        started = time.perf_counter()
        status = 500
        try:
            response: dict[str, Any] = app.resolve(event, context)
            status = int(response.get("statusCode", 500))
            return response
        finally:
            latency_ms = (time.perf_counter() - started) * 1000
            record_request(route, status, latency_ms)
            # One line per request, joinable to the API access log by correlation_id (the request id).
            logger.info("request handled", status=status, latency_ms=round(latency_ms, 1))

    entry: Callable[[dict[str, Any], Any], dict[str, Any]] = handler
    return entry
