"""The HTTP edge shared by every API function: one resolver factory, domain errors mapped to HTTP in
one place, request bodies parsed safely, callers authorized from the authorizer's claims."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel

from costmetrics.auth import Principal, authorize
from costmetrics.errors import DomainError, InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from costmetrics.observability import logger, metrics

MAX_BODY_BYTES = 2 * 1024 * 1024


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response[Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if details:
        body["details"] = details
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


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
        metrics.add_metric(name="ClientErrors", unit="Count", value=1)
        return error_response(error.status, error.code, error.message, error.details)

    @app.exception_handler(RequestValidationError)
    def _validation(error: RequestValidationError) -> Response[Any]:
        details = _validation_details(error)
        fields = ", ".join(sorted({d["field"] for d in details})) or "request"
        metrics.add_metric(name="ClientErrors", unit="Count", value=1)
        return error_response(400, "invalid_request", f"invalid value for: {fields}", details)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[Any]:
        return error_response(
            404, "not_found", f"no route for {app.current_event.http_method} {app.current_event.path}"
        )

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        metrics.add_metric(name="ServerErrors", unit="Count", value=1)
        return error_response(500, "internal_error", "internal error; the request id is in the logs")

    return app


def caller(app: APIGatewayRestResolver, allowed: frozenset[str]) -> Principal:
    """The authorized caller of the current request; adds workspace and route to every later log line."""
    claims = app.current_event.request_context.authorizer.claims
    principal = authorize(claims, allowed)
    logger.append_keys(workspace_id=principal.workspace_id, route=app.current_event.resource)
    return principal


def json_body(app: APIGatewayRestResolver) -> Any:
    """The request body as JSON with exact numbers, or a clear 4xx."""
    event = app.current_event
    content_type = (event.headers or {}).get("content-type") or (event.headers or {}).get("Content-Type")
    if content_type and "json" not in content_type.lower():
        raise UnsupportedMediaType(f"send the body as application/json, not {content_type}")
    raw = event.decoded_body or ""
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
    """The Lambda handler of an API function: correlation id and cold start in logs, metrics flushed."""
    from aws_lambda_powertools.logging import correlation_paths

    from costmetrics.observability import traced

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    @traced
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = app.resolve(event, context)
        return response

    entry: Callable[[dict[str, Any], Any], dict[str, Any]] = handler
    return entry
