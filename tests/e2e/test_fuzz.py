"""Schemathesis over every operation of docs/openapi.json, against the local stack, with every check it has
(schemathesis.checks.CHECKS: server errors, status codes, content types, response schemas and headers,
schema-valid requests accepted and schema-invalid ones rejected, unsupported methods, ignored auth...): the
document says every rule the server enforces, so a request the document allows is served and one it forbids
is refused. A failure fails the test unless it is one of the DOCUMENTED exceptions below, each matched
narrowly (the check, the operation, and what the server answered) and each with its reason.

The budget is fixed and derandomized, so a run is repeatable: MAX_EXAMPLES cases per operation in the
examples phase, positive and negative, plus the coverage phase's boundary cases (missing and wrong-typed
parameters, boundary values, undeclared methods). The calls go to a fresh workspace of an admin, with an
agent and events in it so that the reads answer rows, not only empty lists. The count of cases run, per
operation, and of each documented exception met, is written to the terminal at the end of the module (under
xdist the workers' is not shown)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import CHECKS
from schemathesis.core.failures import Failure, FailureGroup

from tests.e2e.support import (
    RunningStack,
    a_day_of_work,
    admin_with_activity,
    http,
    now_in_month,
    write_summary,
)
from tools.openapi import DOCS_FILE

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

MAX_EXAMPLES = 50
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
        "phases": {"coverage": {"enabled": True}, "stateful": {"enabled": False}},
    }
)
# POST /v1/traces also takes an OTLP protobuf body, a binary string to the document: sent as the bytes
# generated for it.
schemathesis.serializer.alias("application/x-protobuf", "application/octet-stream")
schema = schemathesis.openapi.from_path(DOCS_FILE, config=CONFIG)
ALL_CHECKS = CHECKS.get_all()
CASES: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()
MET: Counter[str] = Counter()

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


# --- The documented exceptions ----------------------------------------------------------------------------


def _error(response: Any) -> tuple[str, str, str]:
    """(field, problem, message) of an error answer, or empty strings."""
    try:
        body = json.loads(response.text)
    except ValueError:
        return "", "", ""
    if not isinstance(body, dict):
        return "", "", ""
    details = body.get("details") or [{}]
    return str(details[0].get("field", "")), str(details[0].get("problem", "")), str(body.get("message", ""))


@dataclass(frozen=True)
class Documented:
    """A failure that is not a disagreement between the document and the server, and why."""

    failure: str  # the schemathesis Failure class
    operations: tuple[str, ...]  # "METHOD /path" labels; () for every operation
    applies: Callable[[schemathesis.Case, Any], bool]  # on what the request sent and the server answered
    reason: str

    def matches(self, failure: Failure, case: schemathesis.Case, response: Any) -> bool:
        return (
            type(failure).__name__ == self.failure
            and (not self.operations or case.operation.label in self.operations)
            and self.applies(case, response)
        )


DOCUMENTED = [
    Documented(
        "RejectedPositiveData",
        ("GET /api/activity", "GET /api/activity/feed"),
        lambda case, response: _error(response)[:2] == ("nextToken", "invalid cursor"),
        "A nextToken is an opaque, signed cursor: the only valid ones are those the API returned (its "
        "parameter description says so). A schema cannot list them; any other string is a 400.",
    ),
    Documented(
        "RejectedPositiveData",
        ("GET /api/activity",),
        lambda case, response: _error(response)[:2] == ("offset", "not with nextToken"),
        "offset and nextToken exclude each other (the parameters' descriptions say so): OpenAPI 3.1 cannot "
        "make one query parameter forbid another.",
    ),
    Documented(
        "RejectedPositiveData",
        ("GET /api/activity/feed",),
        lambda case, response: _error(response)[:2] == ("since", "not with nextToken"),
        "since and nextToken exclude each other (the parameters' descriptions say so): OpenAPI 3.1 cannot "
        "make one query parameter forbid another.",
    ),
    Documented(
        "RejectedPositiveData",
        ("GET /api/activity",),
        lambda case, response: _error(response)[:2] == ("from", "must not be after 'to'"),
        "from must not be after to: a relation between two parameters, which a parameter's schema cannot "
        "state (the description of to says it).",
    ),
    Documented(
        "RejectedPositiveData",
        ("GET /api/activity/feed",),
        lambda case, response: _error(response)[:2] == ("since", "must not be after the current time"),
        "since must not be in the future: a bound that moves with the clock, which a schema cannot hold "
        "(the description says it).",
    ),
    Documented(
        "RejectedPositiveData",
        (),
        lambda case, response: (
            _error(response)[1] == "out of range" or "out of range in UTC" in _error(response)[2]
        ),
        "A date-time of year 1 with a positive offset, or of year 9999 with a negative one, is outside "
        "0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z once in UTC, which no date-time can be here; "
        "the date-time format has no bounds to say so.",
    ),
    Documented(
        "RejectedPositiveData",
        ("POST /v1/traces",),
        lambda case, response: case.media_type == "application/x-protobuf" and response.status_code == 400,
        "An OTLP protobuf body is an ExportTraceServiceRequest message (the body's description says so); "
        "OpenAPI has no keyword for a protobuf message, only a binary string, of which almost every value "
        "is not one (a PNG, say) and is a 400.",
    ),
    Documented(
        "AcceptedNegativeData",
        ("POST /api/activity",),
        lambda case, response: response.status_code == 200 and json.loads(response.text)["rejectedCount"] > 0,
        "A batch is validated event by event: an invalid event is rejected in the 200 answer (rejected[] "
        "with its index and reason) while the valid ones are stored; the test requires the rejection to be "
        "there.",
    ),
    Documented(
        "UnsupportedMethodResponse",
        (),
        lambda case, response: (
            response.status_code == 404
            and _error(response)[2] == "no route for this method and path"
            and "allow" not in {name.lower() for name in response.headers}
        ),
        "API Gateway (REST) answers a method a resource lacks with its MISSING_AUTHENTICATION_TOKEN gateway "
        "response, which template.yaml makes a 404 not_found, never a 405 with Allow (that would take a "
        "mock integration per resource and method); the local gateway answers as API Gateway (README).",
    ),
]


def _undocumented(group: FailureGroup, case: schemathesis.Case, response: Any) -> list[Failure]:
    left = []
    for failure in group.exceptions:
        found = next((d for d in DOCUMENTED if d.matches(failure, case, response)), None)
        if found is None:
            left.append(failure)
        else:
            MET[f"{found.failure} {case.operation.label}: {found.reason[:60]}..."] += 1
    return left


# --- The workspace it runs in -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
def target(stack: RunningStack) -> Target:
    """An admin of a fresh workspace with a registered agent over its budget and events rolled up."""
    token = admin_with_activity(stack, "nova", AGENT, a_day_of_work("nova", now_in_month()))
    return Target(stack.api, {"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module", autouse=True)
def case_count(request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.monotonic()
    yield
    if not CASES:
        return
    write_summary(
        request.config,
        "fuzz cases",
        [
            f"schemathesis: {sum(CASES.values())} cases over {len(CASES)} operations, "
            f"{len(ALL_CHECKS)} checks, in {time.monotonic() - started:.0f} s "
            f"(statuses: {dict(sorted(STATUSES.items()))})",
            *(f"  {count:4d}  {operation}" for operation, count in sorted(CASES.items())),
            "documented exceptions met:",
            *(f"  {count:4d}  {what}" for what, count in sorted(MET.items())),
        ],
    )


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


def test_every_check_is_run() -> None:
    names = {check.__name__ for check in ALL_CHECKS}
    assert {
        "positive_data_acceptance",
        "negative_data_rejection",
        "unsupported_method",
        "ignored_auth",
    } <= names
    assert {"response_schema_conformance", "status_code_conformance", "not_a_server_error"} <= names


@schema.parametrize()
def test_every_operation_keeps_to_the_document(case: schemathesis.Case, target: Target) -> None:
    CASES[case.operation.label] += 1
    response = case.call(base_url=target.url, headers=target.headers)
    STATUSES[response.status_code] += 1
    try:
        case.validate_response(
            response,
            checks=ALL_CHECKS,
            headers=target.headers,
            transport_kwargs={"base_url": target.url, "headers": target.headers},
        )
    except FailureGroup as group:
        left = _undocumented(group, case, response)
        if left:
            raise FailureGroup(left, str(group)) from None
