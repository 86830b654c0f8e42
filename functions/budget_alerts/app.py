"""The budget-alert function, run by an EventBridge schedule: sends each due notice once."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from costmetrics import alerts, periods
from costmetrics.config import settings
from costmetrics.observability import logger, metrics, traced


@logger.inject_lambda_context(clear_state=True, log_event=False)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = alerts.run(periods.utcnow(), alerts.publish_to_sns(settings().alert_topic_arn))
    metrics.add_metric(name="AlertsSent", unit="Count", value=outcome.sent)
    metrics.add_metric(name="AlertPublishFailures", unit="Count", value=outcome.failed)
    metrics.add_metric(name="AlertsUnrecorded", unit="Count", value=outcome.unrecorded)
    logger.info("budget alerts evaluated", **{k: v for k, v in asdict(outcome).items() if k != "notices"})
    if outcome.failed or outcome.unrecorded:
        # Everything that could be sent was; failing the invocation raises the Errors alarm. Notices with no
        # record (unsent, or sent but not recorded) are sent by the next run.
        raise AlertsNotSent(
            f"{outcome.failed} notice(s) or workspace(s) failed and {outcome.unrecorded} notice(s) were sent "
            "but not recorded; they are retried next run"
        )
    return asdict(outcome)


class AlertsNotSent(Exception):
    """Some notices could not be published in this run."""
