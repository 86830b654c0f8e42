"""Shared fixtures: a moto AWS with the template's resources, an in-process API and the events stream."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

_TRAVEL = pytest.StashKey[Any]()

# Never reach a real AWS account from the tests, whatever the developer's shell has.
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
    os.environ.pop(_var, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="CostMetrics",
    POWERTOOLS_SERVICE_NAME="cost-metrics",
    POWERTOOLS_LOG_LEVEL="WARNING",
    POWERTOOLS_METRICS_DISABLED="true",
    STAGE="test",
)

# DynamoDB's own request validation, where moto is lenient, on every DynamoDB client the tests create.
from local_stack import dynamodb_rules  # noqa: E402

dynamodb_rules.install()


def pytest_configure(config: pytest.Config) -> None:
    """The session travels to tests.clock.INSTANT before any test module is imported (module constants
    such as a dataset's end are taken from that clock), and ticks from there."""
    import time_machine

    from tests.clock import INSTANT

    traveller = time_machine.travel(INSTANT, tick=True)
    traveller.start()
    config.stash[_TRAVEL] = traveller


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = config.stash.get(_TRAVEL, None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config: pytest.Config) -> str:
    from tests.clock import INSTANT

    return f"clock: every test module starts at {INSTANT.isoformat()} (COSTMETRICS_TEST_NOW)"


@pytest.fixture(scope="module", autouse=True)
def module_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each in-process test module starts at INSTANT, whatever ran before it: its time is its own. (The e2e
    modules share the clock of the local stack they call, which ticks from the session's start.)"""
    if "e2e" in request.path.parts:
        yield
        return
    import time_machine

    from tests.clock import INSTANT

    with time_machine.travel(INSTANT, tick=True):
        yield


@contextmanager
def _emulated_stack() -> Iterator[Any]:
    """moto with every table, the user pool, topics and queues of template.yaml, and the seeded catalog."""
    import boto3
    from moto import mock_aws

    from costmetrics import aws
    from costmetrics.catalog import global_catalog
    from costmetrics.repositories import prices
    from local_stack import moto_speedups
    from local_stack.provision import provision

    moto_speedups.install()
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        created = provision(boto3.Session(region_name="us-east-1"))
        for name, value in created.environment().items():
            patch.setenv(name, value)
        aws.reset()
        prices.seed_global_catalog(global_catalog())
        yield created
    aws.reset()


@pytest.fixture
def stack() -> Iterator[Any]:
    """A fresh emulated stack for one test."""
    with _emulated_stack() as created:
        yield created


@pytest.fixture(scope="module")
def shared_stack() -> Iterator[Any]:
    """One emulated stack for a module whose tests only read what a module fixture loaded."""
    with _emulated_stack() as created:
        yield created
