"""The rollup function: events-table stream -> per-workspace, per-month rollups, exactly once in effect.

Not Powertools' BatchProcessor: it handles records one at a time, and the rollups are aggregated per
batch (costmetrics.stream); partial failures are still reported as batchItemFailures.
"""

from __future__ import annotations

from typing import Any

from costmetrics import stream
from costmetrics.observability import logger, metrics, traced


@logger.inject_lambda_context(clear_state=True, log_event=False)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = stream.process_records(event.get("Records", []))
    # Records that still fail after Lambda's retries go to the DLQ by the on-failure destination, not by
    # this code: the dashboard and the alarm read that from the queue's own metrics.
    for name, value in (
        ("BatchSize", outcome.records),
        ("RollupEventsApplied", outcome.applied),
        ("RollupEventsAlreadyApplied", outcome.already_applied),
        ("RollupRecordsIgnored", outcome.ignored),
        ("RollupWrites", outcome.rollup_updates),
        ("RollupTransactions", outcome.transactions),
        ("BatchItemFailures", len(outcome.failed)),
    ):
        metrics.add_metric(name=name, unit="Count", value=value)
    logger.info(
        "batch rolled up",
        **{k: v for k, v in vars(outcome).items() if k != "failed"},
        failed=len(outcome.failed),
    )
    return outcome.batch_item_failures
