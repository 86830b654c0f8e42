"""Workforce ROI: GET /api/agents/workforce/summary, /agents (a bare array) and /trends."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from costmetrics import auth, periods, workforce
from costmetrics.api import MonthQuery, caller, create_app, lambda_entry, openapi_responses

app = create_app()
TAGS = ["Workforce ROI"]

TrendMonths = Annotated[
    int,
    Query(
        ge=1, le=workforce.MAX_TREND_MONTHS, description="months of history, ending with the current month"
    ),
]


@app.get(
    "/api/agents/workforce/summary",
    summary="Fleet-wide ROI: agents deployed, cost against the human equivalent, hours saved",
    tags=TAGS,
    responses=openapi_responses(400, 403),
)
def get_summary(month: MonthQuery = None) -> workforce.WorkforceSummary:
    principal = caller(app, auth.READERS)
    now = periods.utcnow()
    return workforce.summary_for(principal.workspace_id, periods.parse_month(month, now=now), now)


@app.get(
    "/api/agents/workforce/agents",
    summary="Per-agent ROI metrics (a bare JSON array)",
    tags=TAGS,
    responses=openapi_responses(400, 403),
)
def get_agents(month: MonthQuery = None) -> workforce.AgentROIList:
    principal = caller(app, auth.READERS)
    now = periods.utcnow()
    return workforce.agents_for(principal.workspace_id, periods.parse_month(month, now=now), now)


@app.get(
    "/api/agents/workforce/trends",
    summary="Month-over-month trend data for the whole fleet",
    tags=TAGS,
    responses=openapi_responses(400, 403),
)
def get_trends(months: TrendMonths = workforce.DEFAULT_TREND_MONTHS) -> workforce.Trends:
    principal = caller(app, auth.READERS)
    return workforce.trends_for(principal.workspace_id, months, periods.utcnow())


lambda_handler = lambda_entry(app)
