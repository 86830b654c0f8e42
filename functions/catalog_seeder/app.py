"""CloudFormation custom resource: writes the global pricing catalog into the pricing table on every
create and update of the stack, so `sam deploy` leaves a priced catalog with no manual step."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from costmetrics.catalog import global_catalog
from costmetrics.observability import logger
from costmetrics.repositories import prices as prices_repo


def _respond(event: dict[str, Any], context: Any, status: str, reason: str, data: dict[str, Any]) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": event.get("PhysicalResourceId") or "global-pricing-catalog",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the pre-signed S3 URL CloudFormation gave us
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        logger.info("custom resource response sent", status=status, http_status=response.status)


# Never log the event: its ResponseURL is a pre-signed URL that can answer for the stack.
@logger.inject_lambda_context(clear_state=True, log_event=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event.get("RequestType")
    data: dict[str, Any] = {}
    try:
        if request in ("Create", "Update"):
            data["Models"] = prices_repo.seed_global_catalog(global_catalog())
            logger.info("global catalog seeded", models=data["Models"])
        # Delete leaves the rows: the table itself goes with the stack (or is retained in prod).
        status, reason = "SUCCESS", f"{request} done"
    except Exception as error:
        logger.exception("catalog seeding failed")
        status, reason = "FAILED", f"catalog seeding failed: {error}"
    if event.get("ResponseURL"):
        _respond(event, context, status, reason, data)
    return {"Status": status, "Reason": reason, "Data": data}
