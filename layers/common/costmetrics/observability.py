"""Powertools logger, metrics and tracer, set up once per process.

The tracer is created on the first invocation, not at import: Powertools' Tracer loads the X-Ray SDK,
which loads botocore, and that alone would double a handler's cold-start import time.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from costmetrics.config import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

# The template sets the service to the stack name, so a dev and a prod stack in one account and region
# keep apart in the CostMetrics namespace (the `service` dimension) and in Logs Insights.
_NAMES = Settings.from_env()  # not settings(): logging must work even where a table name is missing
SERVICE = _NAMES.service_name
NAMESPACE = _NAMES.metrics_namespace

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def route_of(event: dict[str, Any]) -> str:
    """The route of an API Gateway REST event as `METHOD /resource/template`, e.g.
    `GET /api/agents/{agentId}`: a low-cardinality metric dimension that never carries an id."""
    return f"{event.get('httpMethod') or '?'} {event.get('resource') or '?'}"


def record_request(route: str, status: int, latency_ms: float) -> None:
    """Per-route request metrics (EMF, flushed by `log_metrics`): Requests, Latency, ClientErrors (4xx) and
    ServerErrors (5xx), all with the `route` dimension. Errors are 0 or 1, so their average is a rate."""
    metrics.add_dimension(name="route", value=route)
    metrics.add_metric(name="Requests", unit="Count", value=1)
    metrics.add_metric(name="Latency", unit="Milliseconds", value=round(latency_ms, 3))
    metrics.add_metric(name="ClientErrors", unit="Count", value=1 if 400 <= status < 500 else 0)
    metrics.add_metric(name="ServerErrors", unit="Count", value=1 if status >= 500 else 0)


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() != "true" and bool(
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    )


@functools.cache
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    # The service is POWERTOOLS_SERVICE_NAME (the stack's name), as for the logger and the metrics;
    # botocore is patched by costmetrics.aws when the first client is created.
    return Tracer(service=SERVICE, auto_patch=False)


def traced(handler: Handler) -> Handler:
    """X-Ray subsegment for the handler when tracing is on; the tracer is built on first call."""
    wrapped: list[Handler] = []

    @functools.wraps(handler)
    def entry(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not wrapped:
            use_tracer = tracing_enabled()
            wrapped.append(
                tracer().capture_lambda_handler(handler, capture_response=False) if use_tracer else handler
            )
        return wrapped[0](event, context)

    return entry
