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
    json_body,
    json_of,
    json_response,
    lambda_entry,
    openapi_responses,
)
from costmetrics.config import settings
from costmetrics.events import AGENT_ID
from costmetrics.observability import metrics

app = create_app()
TAGS = ["Activity log"]


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
)
def post_activity() -> Any:
    principal = caller(app, auth.INGESTERS)
    result = ingestion.ingest(
        json_body(app),
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
    agent_id: Annotated[str | None, Query(alias="agentId", pattern=AGENT_ID.pattern)] = None,
    event_type: Annotated[str | None, Query(alias="eventType", description="one of the event types")] = None,
    start: Annotated[
        str | None, Query(alias="from", description="ISO 8601 with time zone, inclusive")
    ] = None,
    end: Annotated[str | None, Query(alias="to", description="ISO 8601 with time zone, inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=activity.MAX_LIMIT)] = activity.DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description=f"at most {activity.MAX_OFFSET}; use nextToken")] = 0,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=4096)] = None,
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
    since: Annotated[str | None, Query(description="ISO 8601 ingestion time to start from")] = None,
    limit: Annotated[int, Query(ge=1, le=activity.MAX_LIMIT)] = activity.DEFAULT_LIMIT,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=4096)] = None,
) -> activity.FeedPage:
    principal = caller(app, auth.READERS)
    return activity.feed(
        principal.workspace_id, since, next_token, limit, periods.utcnow(), settings().event_retention_days
    )


lambda_handler = lambda_entry(app)
