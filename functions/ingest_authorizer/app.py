"""The ingest authorizer: API Gateway's Lambda REQUEST authorizer of POST /api/activity and POST /v1/traces.
It allows an ingest key or a Cognito ID token (costmetrics.ingest_access) and refuses anything else with
API Gateway's 401. The policy allows both ingest routes, because API Gateway caches it per Authorization
header (ReauthorizeEvery) and applies the cached policy to whichever of them the next request calls."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)

from costmetrics import ingest_access, periods
from costmetrics.config import settings
from costmetrics.errors import Unauthorized
from costmetrics.ingest_keys import INGEST_ROUTES
from costmetrics.observability import logger


@logger.inject_lambda_context(clear_state=True, log_event=False)  # the event holds the credential
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = APIGatewayAuthorizerRequestEvent(event)
    try:
        allowed = ingest_access.decide(request.headers.get("Authorization"), periods.utcnow(), settings())
    except Unauthorized as refused:
        logger.info("ingest credential refused", reason=refused.message, route=request.method_arn)
        # This exact message is how a Lambda authorizer makes API Gateway answer 401 Unauthorized.
        raise Exception("Unauthorized") from None
    logger.info("ingest credential allowed", principal=allowed.principal_id)
    response = APIGatewayAuthorizerResponse.from_route_arn(
        request.method_arn, principal_id=allowed.principal_id, context=allowed.context
    )
    for method, path in INGEST_ROUTES:
        response.allow_route(method, path)
    return response.asdict()
