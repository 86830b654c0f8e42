"""Every read endpoint answers every field of the product reference's example, with the same name, casing
and JSON type (a contract with existing dashboards: fields may be added, never renamed or dropped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.datasets import AGENTS, make_events, months_back
from tests.harness import Api, Stream
from tests.integration.rollup_support import ingest, register_agents
from tests.reference import EXAMPLES, shape_errors


@pytest.fixture(scope="module")
def api(shared_stack: Any) -> Api:
    api = Api("ws-acme")
    register_agents(api, AGENTS)
    now = datetime.now(UTC)
    ingest(api, make_events(400, start=months_back(now, 0), end=now - timedelta(minutes=1), seed=5))
    Stream(shared_stack).drain()
    return api


@pytest.mark.parametrize("route", sorted(r for r in EXAMPLES if r != "/api/activity"))
def test_the_response_has_every_reference_field_with_its_type(api: Api, route: str) -> None:
    reply = api.get(route)
    assert reply.status == 200, reply.text
    assert shape_errors(EXAMPLES[route], reply.json) == []
