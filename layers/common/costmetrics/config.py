"""Settings read once from the environment (the template's Globals and function variables)."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    stage: str = "local"
    region: str = "us-east-1"
    agents_table: str = "cost-metrics-agents"
    pricing_table: str = "cost-metrics-pricing"
    rollups_table: str = "cost-metrics-rollups"
    events_table: str = "cost-metrics-events"
    alert_topic_arn: str = ""
    event_retention_days: int = Field(default=400, ge=1)
    # Lambda has no writable config beyond env vars; an endpoint override serves the local stack and moto.
    aws_endpoint_url: str | None = None
    # The web console's sign-in (ConsoleFunction only): the user pool, its app client, and the Cognito
    # endpoint a browser calls (the region's cognito-idp; the local stack's moto server).
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    cognito_endpoint: str = ""

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        values: dict[str, str] = {}
        for field, var in {
            "stage": "STAGE",
            "region": "AWS_REGION",
            "agents_table": "AGENTS_TABLE",
            "pricing_table": "PRICING_TABLE",
            "rollups_table": "ROLLUPS_TABLE",
            "events_table": "EVENTS_TABLE",
            "alert_topic_arn": "ALERT_TOPIC_ARN",
            "event_retention_days": "EVENT_RETENTION_DAYS",
            "aws_endpoint_url": "AWS_ENDPOINT_URL",
            "user_pool_id": "USER_POOL_ID",
            "user_pool_client_id": "USER_POOL_CLIENT_ID",
            "cognito_endpoint": "COGNITO_ENDPOINT",
        }.items():
            if env.get(var):
                values[field] = env[var]
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings; tests call `settings.cache_clear()` after changing the environment."""
    return Settings.from_env()
