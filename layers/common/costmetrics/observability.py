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

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

logger = Logger(service="cost-metrics")
metrics = Metrics(namespace="CostMetrics", service="cost-metrics")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() != "true" and bool(
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    )


@functools.cache
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    # botocore is patched by costmetrics.aws when the first client is created.
    return Tracer(service="cost-metrics", auto_patch=False)


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
