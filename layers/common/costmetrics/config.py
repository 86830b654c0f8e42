"""The functions' settings, read once from the environment: the template's Globals and each function's own
variables, Lambda's AWS_REGION, and the Powertools variables that name the service. This is the only module
that reads the environment for them. A function missing a table name fails on its first use, naming the
variable, instead of calling a table that does not exist."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, Field

# Field -> environment variable. Tables and the cursor key have no default: the template always sets them.
VARIABLES = {
    "stage": "STAGE",
    "region": "AWS_REGION",
    "agents_table": "AGENTS_TABLE",
    "pricing_table": "PRICING_TABLE",
    "rollups_table": "ROLLUPS_TABLE",
    "events_table": "EVENTS_TABLE",
    "ingest_keys_table": "INGEST_KEYS_TABLE",
    "alert_topic_arn": "ALERT_TOPIC_ARN",
    "event_retention_days": "EVENT_RETENTION_DAYS",
    "cursor_secret_arn": "CURSOR_SECRET_ARN",
    "cursor_secret": "CURSOR_SECRET",
    "docs_access": "DOCS_ACCESS",
    "aws_endpoint_url": "AWS_ENDPOINT_URL",
    "user_pool_id": "USER_POOL_ID",
    "user_pool_client_id": "USER_POOL_CLIENT_ID",
    "cognito_endpoint": "COGNITO_ENDPOINT",
    "service_name": "POWERTOOLS_SERVICE_NAME",
    "metrics_namespace": "POWERTOOLS_METRICS_NAMESPACE",
}
TABLES = ("agents_table", "pricing_table", "rollups_table", "events_table", "ingest_keys_table")


class MissingSetting(RuntimeError):
    """A variable the template sets is not in this function's environment."""


class Settings(BaseModel):
    stage: str = "local"
    region: str = "us-east-1"
    agents_table: str = ""
    pricing_table: str = ""
    rollups_table: str = ""
    events_table: str = ""
    ingest_keys_table: str = ""
    alert_topic_arn: str = ""
    event_retention_days: int = Field(default=400, ge=1)
    # The key that signs pagination cursors: a Secrets Manager secret (deployed, local stack), or the
    # value itself where there is no Secrets Manager (unit tests).
    cursor_secret_arn: str = ""
    cursor_secret: str = ""
    # GET /api/docs: public, authenticated or off (the ApiDocs parameter); an unknown value counts as off.
    docs_access: str = "public"
    # Empty when deployed (the AWS endpoints); the local stack's emulator under `sam local`.
    aws_endpoint_url: str | None = None
    # The user pool: `sam local start-api` verifies tokens with it, and the web console signs in against
    # it at the Cognito endpoint a browser calls (the region's cognito-idp; the local stack's moto server).
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    cognito_endpoint: str = ""
    # The stack's name and the metric namespace (the template's Globals), for logs, metrics and traces.
    service_name: str = "cost-metrics"
    metrics_namespace: str = "CostMetrics"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls.model_validate({field: env[var] for field, var in VARIABLES.items() if env.get(var)})

    def missing_tables(self) -> list[str]:
        return [VARIABLES[name] for name in TABLES if not getattr(self, name)]


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings; tests call `settings.cache_clear()` after changing the environment. In a
    Lambda function (deployed, or under `sam local`), a missing table name is an error naming it."""
    current = Settings.from_env()
    missing = current.missing_tables()
    if missing and os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        raise MissingSetting(f"{', '.join(missing)} not set: the template's Globals set every table name")
    return current
