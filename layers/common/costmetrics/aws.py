"""boto3 clients and resources, created lazily on first use and cached for the container's life:
a cold start pays only for what the route uses, and tests bind them to moto."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from costmetrics.config import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient, DynamoDBServiceResource
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_sns import SNSClient


def _config() -> Any:
    from botocore.config import Config

    # Standard retry mode backs off on throttling; a Lambda must fail before its own timeout.
    # Ingestion writes with 16 threads; the pool must hold them all (botocore's default is 10).
    return Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=3,
        read_timeout=10,
        max_pool_connections=20,
    )


@cache
def _session() -> Any:
    import boto3

    from costmetrics.observability import tracer, tracing_enabled

    if tracing_enabled():
        tracer().patch(["botocore"])
    return boto3.session.Session(region_name=settings().region)


@cache
def dynamodb() -> DynamoDBServiceResource:
    resource: DynamoDBServiceResource = _session().resource("dynamodb", config=_config())
    return resource


def dynamodb_client() -> DynamoDBClient:
    """The resource's client: it takes and returns plain Python values (Decimal, set, str), not wire JSON."""
    return dynamodb().meta.client


def table(name: str) -> Table:
    return dynamodb().Table(name)


@cache
def sns() -> SNSClient:
    client: SNSClient = _session().client("sns", config=_config())
    return client


@cache
def secrets() -> Any:
    return _session().client("secretsmanager", config=_config())


# What else holds values read through these clients or from the settings (e.g. the cursor key).
_ON_RESET: list[Callable[[], None]] = []


def on_reset(forget: Callable[[], None]) -> None:
    _ON_RESET.append(forget)


def reset() -> None:
    """Forget cached clients and settings (tests switch between moto backends and environments)."""
    for cached in (_session, dynamodb, sns, secrets, settings):
        cached.cache_clear()
    for forget in _ON_RESET:
        forget()
