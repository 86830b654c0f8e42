"""The activity log: POST /api/activity (ingest), POST /v1/traces (OpenTelemetry GenAI spans, OTLP/HTTP),
GET /api/activity (the log), GET /api/activity/feed (ingestion order, for SIEM pollers)."""

from __future__ import annotations

import base64
from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from costmetrics import activity, auth, ingestion, otlp, periods
from costmetrics.api import (
    caller,
    create_app,
    json_of,
    json_response,
    lambda_entry,
    openapi_responses,
    parse_body,
    request_body,
)
from costmetrics.config import settings
from costmetrics.events import AGENT_ID, EventType
from costmetrics.observability import metrics

app = create_app()
TAGS = ["Activity log"]


def instant(what: str) -> dict[str, Any]:
    """Query() arguments of an ISO 8601 date-time parameter (with a time zone: Z or an offset)."""
    return {
        "description": f"ISO 8601 date-time with a time zone, e.g. 2026-03-17T08:00:00Z; {what}",
        "json_schema_extra": {"format": "date-time"},
    }


@app.post(
    "/api/activity",
    summary="Ingest up to 100 events; each is validated and stored on its own (admin, ingest)",
    tags=TAGS,
    responses=openapi_responses(
        400,
        403,
        413,
        415,
        ok=json_of(ingestion.IngestResult, "Counts of accepted and duplicate events, and each rejection"),
    ),
    openapi_extensions=request_body(ingestion.ActivityBatch, "A batch of activity events"),
)
def post_activity() -> Any:
    principal = caller(app, auth.INGESTERS)
    result = ingestion.ingest(
        parse_body(app, ingestion.ActivityBatch),
        workspace_id=principal.workspace_id,
        now=periods.utcnow(),
        retention_days=settings().event_retention_days,
    )
    metrics.add_metric(name="EventsIngested", unit="Count", value=result.accepted)
    metrics.add_metric(name="DuplicateEvents", unit="Count", value=result.duplicates)
    metrics.add_metric(name="RejectedEvents", unit="Count", value=result.rejectedCount)
    return json_response(200, result.model_dump(mode="json"))


@app.post(
    "/v1/traces",
    summary="OpenTelemetry traces (OTLP/HTTP): GenAI model and tool spans become events (ingest key)",
    tags=["OpenTelemetry"],
    responses=openapi_responses(400, 403, 413, 415, 503, ok=cast(OpenAPIResponse, otlp.OPENAPI_OK)),
    # Protobuf or OTLP/JSON, decoded by costmetrics.otlp rather than read with parse_body.
    openapi_extensions={"requestBody": otlp.OPENAPI_REQUEST},
)
def post_traces() -> Response[Any]:
    principal = caller(app, auth.INGESTERS)
    event = app.current_event
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    raw = event.body or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8", "surrogateescape")
    content_type = headers.get("content-type")
    request = otlp.decode(
        otlp.request_bytes(body, content_type, headers.get("content-encoding")), content_type
    )
    result = otlp.ingest(
        request,
        workspace_id=principal.workspace_id,
        now=periods.utcnow(),
        retention_days=settings().event_retention_days,
    )
    metrics.add_metric(name="EventsIngested", unit="Count", value=result.accepted)
    metrics.add_metric(name="DuplicateEvents", unit="Count", value=result.duplicates)
    metrics.add_metric(name="RejectedEvents", unit="Count", value=len(result.rejected))
    metrics.add_metric(name="SpansIgnored", unit="Count", value=result.ignored)
    answer = otlp.response(result, content_type)
    if isinstance(answer, str):
        return Response(status_code=200, content_type=otlp.JSON, body=answer)
    # Powertools' response validation cannot take bytes: the body goes base64-encoded, as Lambda returns it.
    response = Response(status_code=200, content_type=otlp.PROTOBUF, body=base64.b64encode(answer).decode())
    response.base64_encoded = True
    return response


@app.get(
    "/api/activity",
    summary="Query the agent activity log, newest first",
    tags=TAGS,
    responses=openapi_responses(400, 403),
)
def get_activity(
    agent_id: Annotated[
        str | None, Query(alias="agentId", pattern=AGENT_ID.pattern, description="only this agent's events")
    ] = None,
    event_type: Annotated[EventType | None, Query(alias="eventType", description="only this type")] = None,
    start: Annotated[
        str | None, Query(alias="from", **instant("inclusive; default: the retention limit"))
    ] = None,
    end: Annotated[str | None, Query(alias="to", **instant("inclusive; not before from"))] = None,
    limit: Annotated[
        int, Query(ge=1, le=activity.MAX_LIMIT, description="events per page")
    ] = activity.DEFAULT_LIMIT,
    offset: Annotated[
        int,
        Query(
            ge=0,
            # Documented here, checked by costmetrics.activity with a message that points to nextToken.
            json_schema_extra={"maximum": activity.MAX_OFFSET},
            description=f"events to skip, at most {activity.MAX_OFFSET}; further, use nextToken",
        ),
    ] = 0,
    next_token: Annotated[
        str | None,
        Query(
            alias="nextToken",
            max_length=4096,
            description="pagination.nextToken of the previous page. Send it with the same agentId, "
            "eventType, from and to as the first page (the cursor is bound to them: other values are a "
            "400), without offset; limit may change",
        ),
    ] = None,
) -> activity.ActivityPage:
    principal = caller(app, auth.READERS)
    query = activity.ActivityQuery(
        agent_id=agent_id,
        event_type=event_type,
        start=start,
        end=end,
        limit=limit,
        offset=offset,
        next_token=next_token,
    )
    return activity.list_activity(
        principal.workspace_id, query, periods.utcnow(), settings().event_retention_days
    )


@app.get(
    "/api/activity/feed",
    summary="Every event once, in ingestion order (SIEM polling)",
    tags=TAGS,
    responses=openapi_responses(400, 403),
)
def get_feed(
    since: Annotated[
        str | None,
        Query(**instant("the ingestion time to start from, not in the future; not with nextToken")),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=activity.MAX_LIMIT, description="events per page")
    ] = activity.DEFAULT_LIMIT,
    next_token: Annotated[
        str | None,
        Query(
            alias="nextToken",
            max_length=4096,
            description="the previous page's nextToken, alone (not with since); limit may change",
        ),
    ] = None,
) -> activity.FeedPage:
    principal = caller(app, auth.READERS)
    return activity.feed(
        principal.workspace_id, since, next_token, limit, periods.utcnow(), settings().event_retention_days
    )


lambda_handler = lambda_entry(app)
