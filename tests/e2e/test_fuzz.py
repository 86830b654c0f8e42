"""Schemathesis over every operation of docs/openapi.json, against the local stack: whatever a client sends
that the document allows (and, in negative mode, what it does not), the API never fails with a 5xx, and
answers only documented status codes and content types with bodies and headers that match the document.

The budget is fixed and derandomized, so a run is repeatable: MAX_EXAMPLES cases per operation, positive
and negative, no coverage or stateful phase. The calls go to a fresh workspace of an admin, with an agent
and events in it so that the reads answer rows, not only empty lists. The count of cases run, per
operation, is written to the terminal at the end of the module (under xdist the workers' is not shown)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local_stack.openapi import DOCS_FILE
from tests.e2e.support import RunningStack, fresh_workspace, http, now_in_month, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

MAX_EXAMPLES = 25
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "mode": "all",
            # The admin's token goes in every request; generated Authorization headers would only be 401s.
            "with-security-parameters": False,
            "database": "none",
        },
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_path(DOCS_FILE, config=CONFIG)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
CASES: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()

AGENT = {
    "name": "Fuzz target",
    "status": "online",
    "category": None,
    "department": "Quality",
    "role_title": None,
    "model_provider": "anthropic",
    "model_name": "claude-haiku-3.5",
    "human_equivalent_salary": 60000,
    "estimated_hours_saved": 20,
    "cost_budget_monthly": 0.01,
}


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]


def _events(created_at: str) -> list[dict[str, Any]]:
    details: list[tuple[str, dict[str, Any]]] = [
        ("model_invocation", {"model": "claude-haiku-3.5", "inputTokens": 400_000, "outputTokens": 90_000}),
        ("task_completed", {"taskType": "classification"}),
        ("tool_call", {"tool": "search", "success": True, "durationMs": 40}),
        ("error", {"message": "timeout"}),
    ]
    return [
        {"id": f"fz-{n}", "agentId": "nova", "eventType": kind, "createdAt": created_at, "details": detail}
        for n, (kind, detail) in enumerate(details)
    ]


@pytest.fixture(scope="module")
def target(stack: RunningStack) -> Target:
    """An admin of a fresh workspace with a registered agent over its budget and events rolled up."""
    token = stack.new_user(fresh_workspace(), "admin")
    assert http("PUT", f"{stack.api}/api/agents/nova", token=token, body=AGENT).status == 200
    ingested = http(
        "POST", f"{stack.api}/api/activity", token=token, body={"events": _events(now_in_month())}
    )
    assert ingested.status == 200, ingested.body
    assert ingested.body["accepted"] == 4, ingested.body
    rolled_up = wait_for(
        lambda: stack.get("/api/cost-analysis/summary", token).body["totalSpend"] > 0, timeout=30
    )
    assert rolled_up, "the events were not rolled up"
    return Target(stack.api, {"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module", autouse=True)
def case_count(request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.monotonic()
    yield
    if not CASES:
        return
    lines = [
        f"schemathesis: {sum(CASES.values())} cases over {len(CASES)} operations "
        f"in {time.monotonic() - started:.0f} s (statuses: {dict(sorted(STATUSES.items()))})",
        *(f"  {count:4d}  {operation}" for operation, count in sorted(CASES.items())),
    ]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_sep("-", "fuzz cases")
        for line in lines:
            reporter.write_line(line)


def test_the_stack_serves_the_committed_document(stack: RunningStack, target: Target) -> None:
    served = http("GET", f"{stack.api}/api/openapi.json", authorization=target.headers["Authorization"])
    assert served.status == 200
    assert served.body["servers"] == [{"url": stack.api, "description": "this API (local)"}]
    committed = json.loads(DOCS_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    assert {k: v for k, v in served.body.items() if k != "servers"} == {
        k: v for k, v in committed.items() if k != "servers"
    }
    assert http("GET", f"{stack.api}/api/openapi.json").status == 401


@pytest.mark.parametrize(("method", "path"), [("PUT", "/api/agents/%C2%B0"), ("GET", "/api/agents/a%08b")])
def test_an_id_with_characters_ids_never_have_is_a_400(
    stack: RunningStack, target: Target, method: str, path: str
) -> None:
    # Found by the fuzzing: API Gateway routes any {agentId}, Powertools' route pattern does not match
    # every character, and the answer was a 404 "no route for ...".
    body = AGENT if method == "PUT" else None
    reply = http(method, stack.api + path, authorization=target.headers["Authorization"], body=body)
    assert reply.status == 400, reply.body
    assert reply.body["error"] == "invalid_request"
    assert reply.body["details"] == [
        {"in": "path", "field": "agentId", "problem": "has characters ids never have"}
    ]


@schema.parametrize()
def test_every_operation_keeps_to_the_document(case: schemathesis.Case, target: Target) -> None:
    CASES[case.operation.label] += 1
    response = case.call_and_validate(base_url=target.url, headers=target.headers, checks=CHECKS)
    STATUSES[response.status_code] += 1
