"""Cost analysis: GET /api/cost-analysis/* and PUT /api/cost-analysis/pricing/{modelId}."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import ValidationError

from costmetrics import alerts, auth, cost_analysis, periods
from costmetrics.api import (
    caller,
    create_app,
    json_body,
    json_or_csv,
    lambda_entry,
    negotiated,
    openapi_responses,
)
from costmetrics.errors import InvalidRequest
from costmetrics.events import describe

app = create_app()
TAGS = ["Cost analysis"]

Month = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="UTC month YYYY-MM; default: the current month"),
]


@app.get(
    "/api/cost-analysis/summary",
    summary="A combined cost overview across the workspace",
    tags=TAGS,
    responses=openapi_responses(400, 403),
)
def get_summary(month: Month = None) -> cost_analysis.Summary:
    principal = caller(app, auth.READERS)
    return cost_analysis.summary_for(principal.workspace_id, periods.parse_month(month, now=periods.utcnow()))


@app.get(
    "/api/cost-analysis/by-provider",
    summary="Cost breakdown grouped by AI provider",
    tags=TAGS,
    responses=openapi_responses(400, 403, ok=json_or_csv(cost_analysis.ByProvider, "The providers")),
)
def get_by_provider(month: Month = None) -> Response[Any]:
    principal = caller(app, auth.READERS)
    body = cost_analysis.by_provider_for(
        principal.workspace_id, periods.parse_month(month, now=periods.utcnow())
    )
    return negotiated(app, body, body.providers, cost_analysis.ProviderRow, f"by-provider-{body.month}")


@app.get(
    "/api/cost-analysis/by-model",
    summary="Cost breakdown grouped by model, with per-model token economics",
    tags=TAGS,
    responses=openapi_responses(400, 403, ok=json_or_csv(cost_analysis.ByModel, "The models")),
)
def get_by_model(month: Month = None) -> Response[Any]:
    principal = caller(app, auth.READERS)
    body = cost_analysis.by_model_for(
        principal.workspace_id, periods.parse_month(month, now=periods.utcnow())
    )
    return negotiated(app, body, body.models, cost_analysis.ModelRow, f"by-model-{body.month}")


@app.get(
    "/api/cost-analysis/agents",
    summary="Per-agent cost breakdown with budget utilization",
    tags=TAGS,
    responses=openapi_responses(400, 403, ok=json_or_csv(cost_analysis.AgentCosts, "The agents")),
)
def get_agents(month: Month = None) -> Response[Any]:
    principal = caller(app, auth.READERS)
    now = periods.utcnow()
    body = cost_analysis.agent_costs_for(principal.workspace_id, periods.parse_month(month, now=now), now)
    return negotiated(app, body, body.agents, cost_analysis.AgentCost, f"agents-{body.month}")


@app.get(
    "/api/cost-analysis/recommendations",
    summary="Model optimization recommendations with estimated monthly savings",
    tags=TAGS,
    responses=openapi_responses(
        400, 403, ok=json_or_csv(cost_analysis.Recommendations, "The recommendations")
    ),
)
def get_recommendations(month: Month = None) -> Response[Any]:
    principal = caller(app, auth.READERS)
    now = periods.utcnow()
    body = cost_analysis.recommendations_for(principal.workspace_id, periods.parse_month(month, now=now), now)
    return negotiated(
        app, body, body.recommendations, cost_analysis.RecommendationRow, f"recommendations-{body.month}"
    )


@app.get(
    "/api/cost-analysis/budget-alerts",
    summary="Agents that have exceeded their monthly cost budget",
    tags=TAGS,
    responses=openapi_responses(400, 403, ok=json_or_csv(cost_analysis.BudgetAlerts, "The alerts")),
)
def get_budget_alerts(month: Month = None) -> Response[Any]:
    principal = caller(app, auth.READERS)
    now = periods.utcnow()
    body = cost_analysis.budget_alerts_for(principal.workspace_id, periods.parse_month(month, now=now), now)
    return negotiated(app, body, body.alerts, cost_analysis.BudgetAlertRow, f"budget-alerts-{body.month}")


@app.get(
    "/api/cost-analysis/budget-alerts/settings",
    summary="The workspace's budget-alert thresholds and forecast alert",
    tags=TAGS,
    responses=openapi_responses(403),
)
def get_alert_settings() -> alerts.AlertSettings:
    principal = caller(app, auth.READERS)
    return alerts.settings_for(principal.workspace_id)


@app.put(
    "/api/cost-analysis/budget-alerts/settings",
    summary="Set the workspace's budget-alert thresholds and forecast alert (admin)",
    tags=TAGS,
    responses=openapi_responses(400, 403, 413, 415),
)
def put_alert_settings() -> alerts.AlertSettings:
    principal = caller(app, auth.ADMINS)
    return alerts.set_settings(principal.workspace_id, json_body(app))


@app.get(
    "/api/cost-analysis/pricing",
    summary="The model pricing catalog, as this workspace pays it",
    tags=TAGS,
    responses=openapi_responses(403),
)
def get_pricing() -> cost_analysis.Pricing:
    principal = caller(app, auth.READERS)
    return cost_analysis.pricing_for(principal.workspace_id, periods.utcnow())


@app.put(
    "/api/cost-analysis/pricing/<modelId>",
    summary="Set a workspace price for a model, from effectiveFrom on (admin)",
    tags=TAGS,
    responses=openapi_responses(400, 403, 413, 415),
)
def put_price(modelId: str) -> cost_analysis.ModelPrice:
    principal = caller(app, auth.ADMINS)
    try:
        body = cost_analysis.PriceIn.model_validate(json_body(app))
    except ValidationError as error:
        raise InvalidRequest(describe(error), details=[{"in": "body", "problem": describe(error)}]) from None
    return cost_analysis.set_workspace_price(principal.workspace_id, modelId, body, periods.utcnow())


lambda_handler = lambda_entry(app)
