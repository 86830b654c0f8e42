"""Cost analysis: GET /api/cost-analysis/* and PUT /api/cost-analysis/pricing/{modelId}."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import ValidationError

from costmetrics import auth, cost_analysis, periods
from costmetrics.api import caller, create_app, json_body, lambda_entry
from costmetrics.errors import InvalidRequest
from costmetrics.events import describe

app = create_app()

Month = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="UTC month YYYY-MM; default: the current month"),
]


@app.get("/api/cost-analysis/summary")
def get_summary(month: Month = None) -> cost_analysis.Summary:
    principal = caller(app, auth.READERS)
    return cost_analysis.summary_for(principal.workspace_id, periods.parse_month(month))


@app.get("/api/cost-analysis/pricing")
def get_pricing() -> cost_analysis.Pricing:
    principal = caller(app, auth.READERS)
    return cost_analysis.pricing_for(principal.workspace_id, periods.utcnow())


@app.put("/api/cost-analysis/pricing/<modelId>")
def put_price(modelId: str) -> cost_analysis.ModelPrice:
    principal = caller(app, auth.ADMINS)
    try:
        body = cost_analysis.PriceIn.model_validate(json_body(app))
    except ValidationError as error:
        raise InvalidRequest(describe(error), details=[{"in": "body", "problem": describe(error)}]) from None
    return cost_analysis.set_workspace_price(principal.workspace_id, modelId, body, periods.utcnow())


lambda_handler = lambda_entry(app)
