"""GET /api/health: liveness, open to anyone, returns no data."""

from __future__ import annotations

from pydantic import BaseModel

from costmetrics.api import create_app, lambda_entry
from costmetrics.config import settings

app = create_app()


class Health(BaseModel):
    status: str
    service: str
    stage: str


@app.get("/api/health", summary="Liveness, open to anyone; returns no data", tags=["Health"])
def get_health() -> Health:
    return Health(status="ok", service="cost-metrics-api", stage=settings().stage)


lambda_handler = lambda_entry(app)
