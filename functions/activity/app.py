"""Activity: POST /api/activity (ingest)."""

from __future__ import annotations

from typing import Any

from costmetrics import auth, ingestion, periods
from costmetrics.api import caller, create_app, json_body, json_response, lambda_entry
from costmetrics.config import settings
from costmetrics.observability import metrics

app = create_app()


@app.post("/api/activity")
def post_activity() -> Any:
    principal = caller(app, auth.INGESTERS)
    result = ingestion.ingest(
        json_body(app),
        workspace_id=principal.workspace_id,
        now=periods.utcnow(),
        retention_days=settings().event_retention_days,
    )
    metrics.add_metric(name="EventsIngested", unit="Count", value=result.accepted)
    metrics.add_metric(name="EventsDuplicate", unit="Count", value=result.duplicates)
    metrics.add_metric(name="EventsRejected", unit="Count", value=result.rejectedCount)
    return json_response(200, result.model_dump(mode="json"))


lambda_handler = lambda_entry(app)
