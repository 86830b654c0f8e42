"""Cost analysis: GET /api/cost-analysis/*, PUT and PATCH of a workspace price and of the alert settings."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from costmetrics import alerts, auth, cost_analysis, cost_responses, periods, price_admin
from costmetrics.api import (
    MonthQuery,
    caller,
    create_app,
    json_or_csv,
    lambda_entry,
    negotiated,
    openapi_responses,
    parse_body,
    request_body,
)
from costmetrics.pricing import MODEL_ID
from costmetrics.writes import Patch

app = create_app()
TAGS = ["Cost analysis"]

ModelId = Annotated[
    str,
    Path(
        # Documented here, checked by costmetrics.price_admin.
        json_schema_extra={"pattern": MODEL_ID.pattern},
        description="1 to 128 letters, digits and . _ : / @ + - (starting with a letter or digit)",
    ),
]


@app.get(
    "/api/cost-analysis/summary",
    summary="A combined cost overview across the workspace",
    tags=TAGS,
    responses=openapi_responses(400, 403),
)
def get_summary(month: MonthQuery = None) -> cost_responses.Summary:
    principal = caller(app, auth.READERS)
    return cost_analysis.summary_for(principal.workspace_id, periods.parse_month(month, now=periods.utcnow()))


@app.get(
    "/api/cost-analysis/by-provider",
    summary="Cost breakdown grouped by AI provider",
    tags=TAGS,
    responses=openapi_responses(400, 403, ok=json_or_csv(cost_responses.ByProvider, "The providers")),
)
def get_by_provider(month: MonthQuery = None) -> Response[Any]:
    principal = caller(app, auth.READERS)
    body = cost_analysis.by_provider_for(
        principal.workspace_id, periods.parse_month(month, now=periods.utcnow())
    )
    return negotiated(app, body, body.providers, cost_responses.ProviderRow, f"by-provider-{body.month}")


@app.get(
    "/api/cost-analysis/by-model",
    summary="Cost breakdown grouped by model, with per-model token economics",
    tags=TAGS,
    responses=openapi_responses(400, 403, ok=json_or_csv(cost_responses.ByModel, "The models")),
)
def get_by_model(month: MonthQuery = None) -> Response[Any]:
    principal = caller(app, auth.READERS)
    body = cost_analysis.by_model_for(
        principal.workspace_id, periods.parse_month(month, now=periods.utcnow())
    )
    return negotiated(app, body, body.models, cost_responses.ModelRow, f"by-model-{body.month}")


@app.get(
    "/api/cost-analysis/agents",
    summary="Per-agent cost breakdown with budget utilization",
    tags=TAGS,
    responses=openapi_responses(400, 403, ok=json_or_csv(cost_responses.AgentCosts, "The agents")),
)
def get_agents(month: MonthQuery = None) -> Response[Any]:
    principal = caller(app, auth.READERS)
    now = periods.utcnow()
    body = cost_analysis.agent_costs_for(principal.workspace_id, periods.parse_month(month, now=now), now)
    return negotiated(app, body, body.agents, cost_responses.AgentCost, f"agents-{body.month}")


@app.get(
    "/api/cost-analysis/recommendations",
    summary="Model optimization recommendations with estimated monthly savings",
    tags=TAGS,
    responses=openapi_responses(
        400, 403, ok=json_or_csv(cost_responses.Recommendations, "The recommendations")
    ),
)
def get_recommendations(month: MonthQuery = None) -> Response[Any]:
    principal = caller(app, auth.READERS)
    now = periods.utcnow()
    body = cost_analysis.recommendations_for(principal.workspace_id, periods.parse_month(month, now=now), now)
    return negotiated(
        app, body, body.recommendations, cost_responses.RecommendationRow, f"recommendations-{body.month}"
    )


@app.get(
    "/api/cost-analysis/budget-alerts",
    summary="Agents that have exceeded their monthly cost budget",
    tags=TAGS,
    responses=openapi_responses(400, 403, ok=json_or_csv(cost_responses.BudgetAlerts, "The alerts")),
)
def get_budget_alerts(month: MonthQuery = None) -> Response[Any]:
    principal = caller(app, auth.READERS)
    now = periods.utcnow()
    body = cost_analysis.budget_alerts_for(principal.workspace_id, periods.parse_month(month, now=now), now)
    return negotiated(app, body, body.alerts, cost_responses.BudgetAlertRow, f"budget-alerts-{body.month}")


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
    summary="Set the workspace's budget-alert thresholds and forecast alert, every field given (admin)",
    tags=TAGS,
    responses=openapi_responses(400, 403, 413, 415),
    openapi_extensions=request_body(alerts.AlertSettings, "The whole alert settings"),
)
def put_alert_settings() -> alerts.AlertSettings:
    principal = caller(app, auth.ADMINS)
    return alerts.set_settings(principal.workspace_id, parse_body(app, alerts.AlertSettings))


@app.patch(
    "/api/cost-analysis/budget-alerts/settings",
    summary="Change some of the workspace's budget-alert settings: a JSON Merge Patch (admin)",
    tags=TAGS,
    responses=openapi_responses(400, 403, 409, 413, 415),
    openapi_extensions=request_body(Patch[alerts.AlertSettings], "The alert settings to change"),
)
def patch_alert_settings() -> alerts.AlertSettings:
    principal = caller(app, auth.ADMINS)
    return alerts.amend_settings(principal.workspace_id, parse_body(app, Patch[alerts.AlertSettings]))


@app.get(
    "/api/cost-analysis/pricing",
    summary="The model pricing catalog, as this workspace pays it",
    tags=TAGS,
    responses=openapi_responses(403),
)
def get_pricing() -> cost_responses.Pricing:
    principal = caller(app, auth.READERS)
    return cost_analysis.pricing_for(principal.workspace_id, periods.utcnow())


@app.put(
    "/api/cost-analysis/pricing/<modelId>",
    summary="Set a workspace price for a model from effectiveFrom on, every field given (admin)",
    tags=TAGS,
    responses=openapi_responses(400, 403, 413, 415),
    openapi_extensions=request_body(price_admin.PriceIn, "The workspace's whole price of the model"),
)
def put_price(modelId: ModelId) -> cost_responses.ModelPrice:
    principal = caller(app, auth.ADMINS)
    price = parse_body(app, price_admin.PriceIn)
    return price_admin.set_workspace_price(principal.workspace_id, modelId, price, periods.utcnow())


@app.patch(
    "/api/cost-analysis/pricing/<modelId>",
    summary="Change some fields of a model's price from effectiveFrom on: a JSON Merge Patch (admin)",
    tags=TAGS,
    responses=openapi_responses(400, 403, 404, 413, 415),
    openapi_extensions=request_body(
        Patch[price_admin.PriceIn],
        "The price's fields to change from effectiveFrom (default: now) on. The fields not given keep "
        "the price in force then: the workspace's own, else the catalog's; a model priced nowhere yet "
        "is a 404 (set its whole price with PUT, provider and category included)",
    ),
)
def patch_price(modelId: ModelId) -> cost_responses.ModelPrice:
    principal = caller(app, auth.ADMINS)
    body = parse_body(app, Patch[price_admin.PriceIn])
    return price_admin.amend_workspace_price(principal.workspace_id, modelId, body, periods.utcnow())


lambda_handler = lambda_entry(app)
