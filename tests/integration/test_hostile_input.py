"""Hostile input on every write route and on the read routes' query parameters, in process against moto:
whatever a client sends, the answer is a 4xx JSON error naming the problem or, in a batch, a per-event
rejection with its reason, never a 5xx; and nothing is stored half-way: after the stream is delivered the
events table and the rollups hold exactly the events that were accepted (tests/truth.py recomputes the
rollups from them). The number of hostile inputs tried is printed at the end of the module."""

from __future__ import annotations

import base64
import csv
import io
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from local_stack.apigw import LambdaContext, claims_for, match_route, rest_event
from local_stack.template import routes
from tests import truth
from tests.clock import INSTANT
from tests.datasets import AGENTS, agent_body, iso
from tests.e2e.support import write_summary
from tests.harness import Api, Reply, Stream, handler_of
from tests.integration.rollup_support import assert_rollups_equal_truth, register_agents, rollup_items

NOW = INSTANT - timedelta(minutes=1)
ACTIVITY = "/api/activity"
TRIED: Counter[str] = Counter()  # hostile inputs sent, by route
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module", autouse=True)
def tally(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if TRIED:
        write_summary(
            request.config,
            "hostile inputs",
            [
                f"hostile inputs: {sum(TRIED.values())} tried over {len(TRIED)} routes, "
                f"statuses {dict(sorted(STATUSES.items()))}",
                *(f"  {count:4d}  {route}" for route, count in sorted(TRIED.items())),
            ],
        )


def route_of(method: str, path: str) -> str:
    found = [r.path for r in routes() if r.method == method and match_route(r.path, path) is not None]
    return f"{method} {found[0] if found else path}"


@dataclass
class Tenant:
    """A fresh workspace on the module's emulated stack, with the dataset's agents, and the events it
    had accepted (what the events table and the rollups must hold for it, and nothing else)."""

    api: Api
    workspace_id: str
    accepted: list[dict[str, Any]] = field(default_factory=list)

    def hostile(self, method: str, path: str, **kwargs: Any) -> Reply:
        """Sends one hostile request and checks it was not a server error."""
        reply = self.api.call(method, path, **kwargs)
        TRIED[route_of(method, path)] += 1
        STATUSES[reply.status] += 1
        assert reply.status < 500, f"{method} {path}: {reply.status} {reply.text[:500]}"
        return reply

    def refused(self, reply: Reply, status: int, *needles: str) -> dict[str, Any]:
        """The reply is a JSON error of `status` whose message names each of `needles`."""
        assert reply.status == status, reply.text[:500]
        assert reply.headers.get("Content-Type", "").startswith("application/json"), reply.headers
        body: dict[str, Any] = reply.json
        assert isinstance(body.get("error"), str), body
        assert isinstance(body.get("message"), str), body
        for needle in needles:
            assert needle in body["message"], (needle, body["message"][:500])
        return body

    def post_events(self, events: list[Any], controls: list[dict[str, Any]]) -> dict[str, Any]:
        """Posts `controls` (valid events, which must be accepted) followed by the hostile `events`; the
        answer rejects each hostile one, at its index. Returns the answer."""
        reply = self.api.post(ACTIVITY, {"events": [*controls, *events]})
        TRIED[route_of("POST", ACTIVITY)] += len(events)
        STATUSES[reply.status] += len(events)
        assert reply.status == 200, reply.text[:500]
        body: dict[str, Any] = reply.json
        self.accepted += controls
        assert body["accepted"] == len(controls), body
        assert [r["index"] for r in body["rejected"]] == list(
            range(len(controls), len(controls) + len(events))
        )
        return body


@pytest.fixture(scope="module")
def stream(shared_stack: Any) -> Stream:
    return Stream(shared_stack)


@pytest.fixture
def tenant(shared_stack: Any) -> Tenant:
    workspace_id = f"ws-h{uuid.uuid4().hex[:10]}"
    api = Api(workspace_id)
    register_agents(api, AGENTS[:2])  # nova and atlas
    return Tenant(api, workspace_id)


def stored_exactly_what_was_accepted(tenant: Tenant, stream: Stream, shared_stack: Any) -> None:
    """Delivers the stream; the tenant's stored events and rollups are exactly its accepted events."""
    stream.drain()
    inserted = [
        r["dynamodb"]["NewImage"]
        for r in stream.delivered
        if r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"]["workspaceId"]["S"] == tenant.workspace_id
    ]
    assert sorted(image["id"]["S"] for image in inserted) == sorted(e["id"] for e in tenant.accepted)
    items = rollup_items(shared_stack.outputs["RollupsTableName"], tenant.workspace_id)
    assert_rollups_equal_truth(items, truth.compute(tenant.accepted))


def control(name: str, tokens: int = 1000) -> dict[str, Any]:
    """A valid model invocation of a registered agent, unique to this run."""
    return {
        "id": f"ok-{name}-{uuid.uuid4().hex[:8]}",
        "agentId": "nova",
        "eventType": "model_invocation",
        "createdAt": iso(NOW),
        "details": {
            "model": "claude-haiku-3.5",
            "inputTokens": tokens,
            "outputTokens": 10,
            "durationMs": 800,
        },
    }


def changed(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`base` with fields replaced; a value of `...` removes the field."""
    event = {**base, **changes}
    return {k: v for k, v in event.items() if v is not ...}


def in_details(event_type: str, details: dict[str, Any], **fields: Any) -> dict[str, Any]:
    merged = {k: v for k, v in {**details, **fields}.items() if v is not ...}
    return {**control("d"), "eventType": event_type, "details": merged}


INVOCATION = {"model": "claude-haiku-3.5", "inputTokens": 1, "outputTokens": 1}
TOOL = {"tool": "search", "success": True, "durationMs": 12}
ERROR = {"message": "timeout", "code": "E42"}


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


# (what, event, a part of the reason): each event is rejected on its own, beside accepted controls.
FIELD_CASES: dict[str, list[tuple[str, Any, str]]] = {
    "id": [
        ("a number", changed(control("x"), id=123), "id: Input should be a valid string"),
        ("null", changed(control("x"), id=None), "id: Input should be a valid string"),
        ("a boolean", changed(control("x"), id=True), "id: Input should be a valid string"),
        ("an array", changed(control("x"), id=["a"]), "id: Input should be a valid string"),
        ("an object", changed(control("x"), id={"a": 1}), "id: Input should be a valid string"),
        ("a float", changed(control("x"), id=1.5), "id: Input should be a valid string"),
        ("missing", changed(control("x"), id=...), "id: Field required"),
        ("empty", changed(control("x"), id=""), "id: String should have at least 1 character"),
        ("129 characters", changed(control("x"), id="x" * 129), "id: String should have at most 128"),
        ("10,000 characters", changed(control("x"), id="x" * 10_000), "id: String should have at most 128"),
        ("a NUL byte", changed(control("x"), id="evt\x00-1"), "id: must not contain control characters"),
        ("an escape", changed(control("x"), id="evt\x1b[31m"), "id: must not contain control characters"),
        ("DEL", changed(control("x"), id="evt\x7f"), "id: must not contain control characters"),
        # What bytes that are not UTF-8 become (API Gateway passes a text body on as a safe UTF-8 string):
        # "a\xff" and "a\xfe" would be one id.
        ("U+FFFD", changed(control("x"), id="evt-\ufffd"), "id: must be valid UTF-8"),
        ("a newline", changed(control("x"), id="evt\n1"), "id: must not contain control characters"),
        ("leading space", changed(control("x"), id=" evt"), "id: must not start or end with whitespace"),
        ("trailing space", changed(control("x"), id="evt "), "id: must not start or end with whitespace"),
    ],
    "agentId": [
        ("a number", changed(control("x"), agentId=7), "agentId: Input should be a valid string"),
        ("null", changed(control("x"), agentId=None), "agentId: Input should be a valid string"),
        ("an array", changed(control("x"), agentId=["nova"]), "agentId: Input should be a valid string"),
        ("missing", changed(control("x"), agentId=...), "agentId: Field required"),
        ("empty", changed(control("x"), agentId=""), "agentId: String should match pattern"),
        ("a '#'", changed(control("x"), agentId="nova#E#x"), "agentId: String should match pattern"),
        ("an emoji", changed(control("x"), agentId="nova🤖"), "agentId: String should match pattern"),
        ("RTL override", changed(control("x"), agentId="\u202enova"), "agentId: String should match pattern"),
        ("a newline", changed(control("x"), agentId="nova\n"), "agentId: String should match pattern"),
        ("65 characters", changed(control("x"), agentId="n" * 65), "agentId: String should match pattern"),
        (
            "unregistered",
            changed(control("x"), agentId="ghost"),
            "agentId: 'ghost' is not a registered agent",
        ),
        ("other case", changed(control("x"), agentId="NOVA"), "agentId: 'NOVA' is not a registered agent"),
    ],
    "eventType": [
        ("a number", changed(control("x"), eventType=1), "eventType: Input should be"),
        ("null", changed(control("x"), eventType=None), "eventType: Input should be"),
        ("unknown", changed(control("x"), eventType="teleport"), "eventType: Input should be"),
        ("upper case", changed(control("x"), eventType="MODEL_INVOCATION"), "eventType: Input should be"),
        ("an array", changed(control("x"), eventType=["error"]), "eventType: Input should be"),
        ("missing", changed(control("x"), eventType=...), "eventType: Field required"),
    ],
    "createdAt": [
        ("epoch seconds", changed(control("x"), createdAt=1_767_225_600), "createdAt: must be an ISO 8601"),
        ("a float", changed(control("x"), createdAt=1.7e9), "createdAt: must be an ISO 8601"),
        ("null", changed(control("x"), createdAt=None), "createdAt: must be an ISO 8601"),
        ("missing", changed(control("x"), createdAt=...), "createdAt: Field required"),
        ("words", changed(control("x"), createdAt="yesterday"), "createdAt: 'yesterday' is not an ISO 8601"),
        ("no time zone", changed(control("x"), createdAt=iso(NOW)[:-1]), "has no time zone"),
        ("a date", changed(control("x"), createdAt=NOW.date().isoformat()), "has no time zone"),
        ("Feb 30", changed(control("x"), createdAt="2026-02-30T00:00:00Z"), "is not an ISO 8601 timestamp"),
        ("leap second", changed(control("x"), createdAt="2026-06-30T23:59:60Z"), "is not an ISO 8601"),
        # NOW is taken at import: an hour ahead stays ahead of the 5-minute skew however late this runs.
        ("an hour ahead", changed(control("x"), createdAt=iso(NOW + timedelta(hours=1))), "in the future"),
        ("far future", changed(control("x"), createdAt="9999-12-31T23:59:59Z"), "in the future"),
        (
            "before epoch",
            changed(control("x"), createdAt="1969-12-31T23:59:59Z"),
            "older than the event retention",
        ),
        ("the epoch", changed(control("x"), createdAt="1970-01-01T00:00:00+00:00"), "older than the event"),
        ("year 1, +14:00", changed(control("x"), createdAt="0001-01-01T00:00:00+14:00"), "out of range"),
        ("year 9999, -14:00", changed(control("x"), createdAt="9999-12-31T23:59:59-14:00"), "out of range"),
        ("10,000 characters", changed(control("x"), createdAt="2" * 10_000), "createdAt"),
    ],
    "details": [
        (
            "a string",
            changed(control("x"), eventType="session_start", details="x"),
            "details: Input should be",
        ),
        (
            "an array",
            changed(control("x"), eventType="session_start", details=[1]),
            "details: Input should be",
        ),
        ("a number", changed(control("x"), eventType="session_start", details=1), "details: Input should be"),
        ("null", changed(control("x"), eventType="session_start", details=None), "details: Input should be"),
        ("33 levels", in_details("session_start", {"deep": nested(32)}), "details: nested deeper than 32"),
        ("900 levels", in_details("session_start", {"deep": nested(900)}), "details: nested deeper than 32"),
        # Canonical JSON {"b":"..."} is 8 bytes around the string.
        ("16 KB + 1", in_details("session_start", {"b": "x" * 16_377}), "details: 16385 bytes, larger than"),
        (
            "over 400 KB",
            in_details("config_change", {"b": "é" * 210_000}),
            "details: 420008 bytes, larger than",
        ),
        (
            "16 KB of emoji",
            in_details("session_start", {"b": "🤖" * 4_100}),
            "larger than the 16384-byte limit",
        ),
    ],
    "model_invocation details": [
        *(
            (f"{name} {what}", in_details("model_invocation", INVOCATION, **{name: value}), f"details.{name}")
            for name in ("inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens")
            for what, value in (
                ("as a string", "12"),
                ("negative", -1),
                ("a float", 1.5),
                ("a float for an integer", 1000.0),
                ("a boolean", True),
                ("null", None),
                ("10**40", 10**40),
                ("over 10**12", 10**12 + 1),
                ("an array", [1]),
                ("an object", {"n": 1}),
            )
        ),
        (
            "no inputTokens",
            in_details("model_invocation", INVOCATION, inputTokens=...),
            "details.inputTokens",
        ),
        (
            "no outputTokens",
            in_details("model_invocation", INVOCATION, outputTokens=...),
            "details.outputTokens",
        ),
        ("no model", in_details("model_invocation", INVOCATION, model=...), "details.model"),
        ("model a number", in_details("model_invocation", INVOCATION, model=5), "details.model"),
        ("model with '#'", in_details("model_invocation", INVOCATION, model="gpt#M#x"), "details.model"),
        ("model empty", in_details("model_invocation", INVOCATION, model=""), "details.model"),
        ("model 129 chars", in_details("model_invocation", INVOCATION, model="m" * 129), "details.model"),
        (
            "durationMs string",
            in_details("model_invocation", INVOCATION, durationMs="5"),
            "details.durationMs",
        ),
        (
            "durationMs negative",
            in_details("model_invocation", INVOCATION, durationMs=-1),
            "details.durationMs",
        ),
        (
            "durationMs over a day",
            in_details("model_invocation", INVOCATION, durationMs=86_400_001),
            "durationMs",
        ),
        (
            "durationMs boolean",
            in_details("model_invocation", INVOCATION, durationMs=True),
            "details.durationMs",
        ),
        ("success a string", in_details("model_invocation", INVOCATION, success="true"), "details.success"),
        ("success 1", in_details("model_invocation", INVOCATION, success=1), "details.success"),
        ("success null", in_details("model_invocation", INVOCATION, success=None), "details.success"),
    ],
    "other details": [
        ("tool_call no tool", in_details("tool_call", TOOL, tool=...), "details.tool"),
        ("tool_call empty tool", in_details("tool_call", TOOL, tool=""), "details.tool"),
        ("tool_call tool a number", in_details("tool_call", TOOL, tool=1), "details.tool"),
        ("tool_call no success", in_details("tool_call", TOOL, success=...), "details.success"),
        ("tool_call success 'yes'", in_details("tool_call", TOOL, success="yes"), "details.success"),
        ("tool_call no durationMs", in_details("tool_call", TOOL, durationMs=...), "details.durationMs"),
        ("tool_call durationMs null", in_details("tool_call", TOOL, durationMs=None), "details.durationMs"),
        ("error no message", in_details("error", ERROR, message=...), "details.message"),
        ("error empty message", in_details("error", ERROR, message=""), "details.message"),
        ("error 4097-char message", in_details("error", ERROR, message="m" * 4097), "details.message"),
        ("error code an array", in_details("error", ERROR, code=[1]), "details.code"),
        ("error code a float", in_details("error", ERROR, code=1.5), "details.code"),
        ("task taskType a number", in_details("task_completed", {}, taskType=1), "details.taskType"),
        ("task taskType empty", in_details("task_completed", {}, taskType=""), "details.taskType"),
        ("task taskType 65 chars", in_details("task_completed", {}, taskType="t" * 65), "details.taskType"),
    ],
    "the event itself": [
        ("null", None, "an event must be a JSON object"),
        ("a number", 1, "an event must be a JSON object"),
        ("a string", "event", "an event must be a JSON object"),
        ("an array", [control("x")], "an event must be a JSON object"),
        ("a boolean", True, "an event must be a JSON object"),
        ("another workspace", changed(control("x"), workspaceId="ws-other"), "workspaceId: Extra inputs"),
        ("a table key", changed(control("x"), pk="ws-other#evt-1"), "pk: Extra inputs are not permitted"),
        ("ingestedAt", changed(control("x"), ingestedAt=iso(NOW)), "ingestedAt: Extra inputs"),
    ],
}


@pytest.mark.parametrize("group", list(FIELD_CASES))
def test_each_bad_event_is_rejected_with_its_reason_beside_stored_ones(
    group: str, tenant: Tenant, stream: Stream, shared_stack: Any
) -> None:
    # Given valid events and, after them, one hostile event per case of the group
    cases = FIELD_CASES[group]
    controls = [control(group.replace(" ", "-")), control("second", tokens=2000)]
    # When they are posted in one batch
    body = tenant.post_events([event for _, event, _ in cases], controls)
    # Then each hostile event is rejected with a reason that names the field, the controls are stored
    reasons = {r["index"]: r for r in body["rejected"]}
    for index, (what, event, needle) in enumerate(cases, start=len(controls)):
        assert needle in reasons[index]["reason"], (what, reasons[index])
        raw_id = event.get("id") if isinstance(event, dict) else None
        assert reasons[index]["id"] == (raw_id if isinstance(raw_id, str) else None), what
    # And the events table and rollups hold exactly the controls
    stored_exactly_what_was_accepted(tenant, stream, shared_stack)


def raw_batch(*events: str) -> str:
    return '{"events": [' + ", ".join(events) + "]}"


def raw_event(event_id: str, details: str, event_type: str = "session_start") -> str:
    """An event as JSON text, for what json.dumps would never write (NaN, lone surrogates)."""
    return (
        f'{{"id": "{event_id}", "agentId": "nova", "eventType": "{event_type}", '
        f'"createdAt": "{iso(NOW)}", "details": {details}}}'
    )


@pytest.mark.parametrize(
    ("what", "event", "reason"),
    [
        ("NaN in details", raw_event("nan-1", '{"x": NaN}'), "details: must contain only JSON values"),
        ("Infinity in details", raw_event("inf-1", '{"x": Infinity}'), "details: must contain only JSON"),
        ("-Infinity in details", raw_event("inf-2", '{"x": -Infinity}'), "details: must contain only JSON"),
        (
            "NaN tokens",
            raw_event(
                "nan-2", '{"model": "gpt-5.4", "inputTokens": NaN, "outputTokens": 1}', "model_invocation"
            ),
            "details",
        ),
        (
            "Infinity duration",
            raw_event(
                "inf-3",
                '{"model": "gpt-5.4", "inputTokens": 1, "outputTokens": 1, "durationMs": Infinity}',
                "model_invocation",
            ),
            "details",
        ),
        ("a lone surrogate in the id", raw_event("\\ud800", "{}"), "id: Input should be a valid string"),
        ("a lone surrogate in details", raw_event("sur-1", '{"x": "\\udfff"}'), "details: must contain only"),
        ("a lone surrogate as a key", raw_event("sur-2", '{"\\ud83e": 1}'), "details: must contain only"),
    ],
)
def test_what_json_dumps_never_writes_is_a_rejection_not_a_500(
    what: str, event: str, reason: str, tenant: Tenant, stream: Stream, shared_stack: Any
) -> None:
    ok = control("raw")
    reply = tenant.hostile("POST", ACTIVITY, body=raw_batch(json.dumps(ok), event))
    assert reply.status == 200, reply.text
    tenant.accepted.append(ok)
    assert reply.json["accepted"] == 1
    (rejection,) = reply.json["rejected"]
    assert rejection["index"] == 1
    assert reason in rejection["reason"], (what, rejection)
    stored_exactly_what_was_accepted(tenant, stream, shared_stack)


def _deep_body(depth: int) -> str:
    return raw_batch(raw_event("deep-1", '{"a": ' + "[" * depth + "]" * depth + "}"))


# (what, body, extra headers, status, a part of the message): the whole request is refused.
BODY_CASES: list[tuple[str, Any, dict[str, str], int, str]] = [
    ("not JSON", "{events: [}", {}, 400, "the body is not valid JSON"),
    ("truncated JSON", '{"events": [', {}, 400, "the body is not valid JSON"),
    ("no body", None, {}, 400, "needs a JSON body"),
    ("whitespace", " \n\t ", {}, 400, "needs a JSON body"),
    ("a byte-order mark", '\ufeff{"events": []}', {}, 400, "the body is not valid JSON"),
    ("a list", [control("l")], {}, 400, 'the body must be a JSON object {"events": [...]}'),
    ("null", "null", {}, 400, 'the body must be a JSON object {"events": [...]}'),
    ("a number", "1", {}, 400, 'the body must be a JSON object {"events": [...]}'),
    ("a string", '"events"', {}, 400, 'the body must be a JSON object {"events": [...]}'),
    ("events null", {"events": None}, {}, 400, 'the body must be a JSON object {"events": [...]}'),
    ("events an object", {"events": {"0": control("o")}}, {}, 400, '{"events": [...]}'),
    ("events a string", {"events": "[]"}, {}, 400, '{"events": [...]}'),
    ("no events", {"event": [control("n")]}, {}, 400, '{"events": [...]}'),
    ("an empty batch", {"events": []}, {}, 400, "events must hold 1 to 100 events, got 0"),
    ("101 events", {"events": [control(f"c{i}") for i in range(101)]}, {}, 400, "1 to 100 events, got 101"),
    ("10,000 events", {"events": [{}] * 10_000}, {}, 400, "1 to 100 events, got 10000"),
    ("an extra field", {"events": [control("e")], "workspaceId": "ws-other"}, {}, 400, "unknown field"),
    ("10,000 nested arrays", "[" * 10_000 + "]" * 10_000, {}, 400, "the body is nested too deeply"),
    ("10,000 nested in details", _deep_body(10_000), {}, 400, "the body is nested too deeply"),
    ("200,000 nested objects", '{"a":' * 200_000 + "1" + "}" * 200_000, {}, 400, "nested too deeply"),
    (
        "a 5,000-digit number",
        raw_batch(raw_event("big-1", "{}").replace("{}", "9" * 5000)),
        {},
        400,
        "digits",
    ),
    ("just over 2 MB", {"events": [control("p")], "pad": "x" * (2 * 1024 * 1024)}, {}, 413, "the limit is"),
    ("20 MB", json.dumps({"events": [control("q")]}) + " " * (20 * 1024 * 1024), {}, 413, "the limit is"),
    ("text/plain", {"events": [control("t")]}, {"Content-Type": "text/plain"}, 415, "not text/plain"),
    (
        "a form",
        {"events": [control("f")]},
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
        "form",
    ),
    (
        "multipart",
        {"events": [control("m")]},
        {"Content-Type": "multipart/form-data; boundary=x"},
        415,
        "multi",
    ),
    ("XML", "<events/>", {"Content-Type": "application/xml"}, 415, "not application/xml"),
    ("CSV, header in capitals", "id,agentId", {"CONTENT-TYPE": "text/csv"}, 415, "not text/csv"),
]


@pytest.mark.parametrize(
    ("what", "body", "headers", "status", "needle"), BODY_CASES, ids=[case[0] for case in BODY_CASES]
)
def test_a_bad_request_is_refused_whole_with_a_message(
    what: str,
    body: Any,
    headers: dict[str, str],
    status: int,
    needle: str,
    tenant: Tenant,
    stream: Stream,
    shared_stack: Any,
) -> None:
    reply = tenant.hostile("POST", ACTIVITY, body=body, headers=headers)
    tenant.refused(reply, status, needle)
    stored_exactly_what_was_accepted(tenant, stream, shared_stack)


def call_raw(tenant: Tenant, body: str, *, base64_encoded: bool) -> Reply:
    """POST /api/activity with a body as API Gateway passes a binary media type: base64, as sent."""
    event = rest_event(
        "POST",
        ACTIVITY,
        resource=ACTIVITY,
        body=body,
        headers={"Content-Type": "application/json"},
        claims=tenant.api.claims,
    )
    event["isBase64Encoded"] = base64_encoded
    response = handler_of("functions.activity.app")(event, LambdaContext.named("ActivityFunction"))
    TRIED[route_of("POST", ACTIVITY)] += 1
    STATUSES[response["statusCode"]] += 1
    headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
    return Reply(
        response["statusCode"], {**headers, **(response.get("headers") or {})}, response.get("body") or ""
    )


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("invalid UTF-8", base64.b64encode(b'{"events": [\xff\xfe]}').decode()),
        ("invalid UTF-8 in an id", base64.b64encode(b'{"events": [{"id": "\xc3\x28"}]}').decode()),
        ("not base64", "%%% not base64 %%%"),
    ],
)
def test_a_body_that_is_not_utf8_is_a_400(what: str, body: str, tenant: Tenant) -> None:
    reply = call_raw(tenant, body, base64_encoded=True)
    tenant.refused(reply, 400, "the body is not UTF-8 text")


def test_a_valid_base64_body_is_read(tenant: Tenant, stream: Stream, shared_stack: Any) -> None:
    event = control("b64")
    body = base64.b64encode(json.dumps({"events": [event]}).encode()).decode()
    reply = call_raw(tenant, body, base64_encoded=True)
    assert (reply.status, reply.json["accepted"]) == (200, 1), reply.text
    tenant.accepted.append(event)
    stored_exactly_what_was_accepted(tenant, stream, shared_stack)


def test_duplicate_ids_in_a_batch_store_one_event_and_reject_different_content(
    tenant: Tenant, stream: Stream, shared_stack: Any
) -> None:
    first, other = control("dup"), control("other")
    same = {
        **first,
        "details": dict(reversed(list(first["details"].items()))),
    }  # same content, keys reordered
    as_float = {**first, "details": {**first["details"], "durationMs": 800.0}}  # the same number
    offset = {
        **first,
        "createdAt": (NOW + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
    }  # same instant
    different = {**first, "details": {**first["details"], "inputTokens": 999_999}}
    invalid_twin = {**first, "eventType": "teleport"}
    batch = [first, same, as_float, offset, different, other, invalid_twin, other]
    reply = tenant.hostile("POST", ACTIVITY, body={"events": batch})
    body = reply.json
    assert (body["accepted"], body["duplicates"], body["rejectedCount"]) == (2, 4, 2), body
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert reasons[4] == "id: used twice in this batch for different events"
    assert "eventType" in reasons[6]
    tenant.accepted += [first, other]
    TRIED[route_of("POST", ACTIVITY)] += len(batch) - 1

    # Sent again in a later batch: duplicates, and a changed copy is rejected, never overwrites
    changed_copy = tenant.hostile("POST", ACTIVITY, body={"events": [different]}).json
    assert changed_copy["rejected"] == [
        {"index": 0, "id": first["id"], "reason": "id: already used by a different event in this workspace"}
    ]
    again = tenant.api.post(ACTIVITY, {"events": [first]}).json
    assert (again["accepted"], again["duplicates"], again["rejectedCount"]) == (0, 1, 0)
    stored_exactly_what_was_accepted(tenant, stream, shared_stack)


UNUSUAL_IDS = [
    "#",
    "##",
    "a#",
    "#a",
    "a#b",
    "a#E#b",  # the rollups' exactly-once markers are <workspace>#E#<eventId>
    "E#a",
    "A#nova",  # the agents table's sort keys
    "W#2026-01",  # the rollups' sort keys
    "evt#2026-01-01T00:00:00.000000Z#x",  # the shape of the log index's sort key
    "ws-other#evt-1",  # the shape of another workspace's event key
    "🤖-emoji",
    "\u202eevil-rtl",  # a right-to-left override
    "مرحبا",
    "e\u0301",  # a combining accent
    "zero\u200bwidth",
    "%00",
    "../../etc/passwd",
    "a b",
    "🤖" * 128,  # 128 characters, 512 bytes
    "x" * 128,
]


def test_unusual_ids_are_stored_as_distinct_events_and_read_back_exactly(
    tenant: Tenant, stream: Stream, shared_stack: Any
) -> None:
    # Given events whose ids hold the tables' key separator, key shapes and unusual characters
    events = [
        {**control("u"), "id": event_id, "eventType": "session_start", "details": {"n": n}}
        for n, event_id in enumerate(UNUSUAL_IDS)
    ]
    reply = tenant.hostile("POST", ACTIVITY, body={"events": events})
    TRIED[route_of("POST", ACTIVITY)] += len(events) - 1
    assert (reply.json["accepted"], reply.json["rejectedCount"]) == (len(events), 0), reply.json
    tenant.accepted += events
    # Then each is its own event: the log gives every id back with its own details, none overwritten
    log = tenant.api.get(ACTIVITY, query={"limit": "500"})
    assert log.status == 200
    assert {item["id"]: item["details"]["n"] for item in log.json["data"]} == {
        event_id: n for n, event_id in enumerate(UNUSUAL_IDS)
    }
    stored_exactly_what_was_accepted(tenant, stream, shared_stack)


def test_ids_that_look_like_keys_never_reach_another_workspace(
    tenant: Tenant, stream: Stream, shared_stack: Any
) -> None:
    # Given a victim workspace with an event, and an attacker whose ids mimic the victim's keys
    victim = Tenant(Api(f"{tenant.workspace_id}v"), f"{tenant.workspace_id}v")
    register_agents(victim.api, AGENTS[:1])
    secret = {
        **control("secret"),
        "id": "evt-1",
        "details": {**control("s")["details"], "inputTokens": 777_777},
    }
    assert victim.api.post(ACTIVITY, {"events": [secret]}).json["accepted"] == 1
    victim.accepted.append(secret)
    forged = [
        {**control("f"), "id": f"{victim.workspace_id}#evt-1"},
        {**control("f"), "id": "v#evt-1"},
        {**control("f"), "id": f"E#{victim.workspace_id}#E#evt-1"},
        {**control("f"), "id": "evt-1"},  # the same id in the attacker's own workspace
    ]
    reply = tenant.hostile("POST", ACTIVITY, body={"events": forged})
    TRIED[route_of("POST", ACTIVITY)] += len(forged) - 1
    assert reply.json["accepted"] == len(forged), reply.json
    tenant.accepted += forged
    # Then the victim still has its one event, unchanged, and the attacker sees only its own
    assert [e["id"] for e in victim.api.get(ACTIVITY).json["data"]] == ["evt-1"]
    assert victim.api.get(ACTIVITY).json["data"][0]["details"]["inputTokens"] == 777_777
    seen = tenant.api.get(ACTIVITY).json["data"]
    assert sorted(e["id"] for e in seen) == sorted(e["id"] for e in forged)
    assert all(e["details"]["inputTokens"] == 1000 for e in seen)
    stored_exactly_what_was_accepted(tenant, stream, shared_stack)
    stored_exactly_what_was_accepted(victim, stream, shared_stack)


@pytest.mark.parametrize(
    "workspace",
    ["", "ws#other", "ws-acme\n", "ws acme", "../ws-acme", "w" * 65, "🤖", "-ws", "ws\x00"],
    ids=lambda w: repr(w)[:20],
)
def test_a_token_whose_workspace_is_not_a_workspace_id_is_401(workspace: str, tenant: Tenant) -> None:
    reply = tenant.hostile(
        "POST", ACTIVITY, body={"events": [control("w")]}, claims=claims_for(workspace, ["admin"])
    )
    tenant.refused(reply, 401, "custom:workspace_id")
    reply = tenant.hostile("GET", "/api/agents", claims=claims_for(workspace, ["admin"]))
    tenant.refused(reply, 401, "custom:workspace_id")


# --- The other write routes ------------------------------------------------------------------------

AGENT = agent_body("Nova", status="online", cost_budget_monthly=100, human_equivalent_salary=75000)


def raw_agent(budget: str) -> str:
    """A whole agent as JSON text whose budget is `budget` as written (what json.dumps cannot write)."""
    return json.dumps({**AGENT, "cost_budget_monthly": 0}).replace(
        '"cost_budget_monthly": 0', f'"cost_budget_monthly": {budget}'
    )


AGENT_BODIES: list[tuple[str, Any, str]] = [
    ("no name", {k: v for k, v in AGENT.items() if k != "name"}, "name: missing"),
    (
        "no budget",
        {k: v for k, v in AGENT.items() if k != "cost_budget_monthly"},
        "cost_budget_monthly: missing",
    ),
    ("name null", {**AGENT, "name": None}, "name: Input should be a valid string"),
    ("name a number", {**AGENT, "name": 5}, "name: Input should be a valid string"),
    ("name an array", {**AGENT, "name": ["Nova"]}, "name: Input should be a valid string"),
    ("name an object", {**AGENT, "name": {"first": "Nova"}}, "name: Input should be a valid string"),
    ("name empty", {**AGENT, "name": ""}, "name: String should have at least 1 character"),
    ("name 201 chars", {**AGENT, "name": "n" * 201}, "name: String should have at most 200"),
    (
        "a lone surrogate",
        json.dumps({**AGENT, "name": "x"}).replace('"name": "x"', '"name": "\\ud800"'),
        "name: Input should be a valid string",
    ),
    ("status unknown", {**AGENT, "status": "zombie"}, "status: Input should be"),
    ("status a boolean", {**AGENT, "status": True}, "status: Input should be"),
    ("budget a string", {**AGENT, "cost_budget_monthly": "100"}, "cost_budget_monthly: must be a number"),
    ("budget null", {**AGENT, "cost_budget_monthly": None}, "cost_budget_monthly: must be a number"),
    ("budget a boolean", {**AGENT, "cost_budget_monthly": True}, "cost_budget_monthly: must be a number"),
    ("budget negative", {**AGENT, "cost_budget_monthly": -1}, "cost_budget_monthly: Input should be greater"),
    ("budget 10**40", {**AGENT, "cost_budget_monthly": 10**40}, "cost_budget_monthly: Input should be less"),
    ("budget 3 decimals", {**AGENT, "cost_budget_monthly": 1.005}, "cost_budget_monthly: Decimal input"),
    ("budget NaN", raw_agent("NaN"), "cost_budget_monthly: must be a finite"),
    ("budget Infinity", raw_agent("Infinity"), "cost_budget_monthly"),
    ("budget 1e400", raw_agent("1e400"), "cost_budget_monthly"),
    (
        "salary an array",
        {**AGENT, "human_equivalent_salary": [1]},
        "human_equivalent_salary: must be a number",
    ),
    ("hours a string", {**AGENT, "estimated_hours_saved": "8"}, "estimated_hours_saved: must be a number"),
    ("an unknown field", {**AGENT, "budget": 5}, "budget: Extra inputs are not permitted"),
    ("another workspace", {**AGENT, "workspace_id": "ws-other"}, "workspace_id: Extra inputs"),
    ("another id", {**AGENT, "id": "atlas"}, "id: Extra inputs are not permitted"),
    ("created_at", {**AGENT, "created_at": "2020-01-01T00:00:00Z"}, "created_at: Extra inputs"),
    ("a list", [AGENT], "the body must be a JSON object"),
    ("null", "null", "the body must be a JSON object"),
    ("not JSON", "{name: Nova}", "the body is not valid JSON"),
    ("a 5,000-digit number", raw_agent("9" * 5000), "digits"),
    ("10,000 nested arrays", "[" * 10_000 + "]" * 10_000, "nested too deeply"),
]

PRICE = {
    "provider": "acme-ai",
    "category": "economy",
    "inputPricePerMillion": 1,
    "outputPricePerMillion": 2,
    "cacheReadPricePerMillion": None,
    "cacheWritePricePerMillion": None,
}

PRICE_BODIES: list[tuple[str, Any, str]] = [
    (
        "no input price",
        {k: v for k, v in PRICE.items() if k != "inputPricePerMillion"},
        "inputPricePerMillion: missing",
    ),
    (
        "no cache prices",
        {k: v for k, v in PRICE.items() if not k.startswith("cache")},
        "cacheReadPricePerMillion: missing; cacheWritePricePerMillion: missing",
    ),
    ("no provider", {k: v for k, v in PRICE.items() if k != "provider"}, "provider: missing"),
    ("price a string", {**PRICE, "inputPricePerMillion": "1"}, "inputPricePerMillion: must be a number"),
    ("price null", {**PRICE, "outputPricePerMillion": None}, "outputPricePerMillion: must be a number"),
    (
        "price negative",
        {**PRICE, "inputPricePerMillion": -1},
        "inputPricePerMillion: Input should be greater",
    ),
    ("price 10**40", {**PRICE, "inputPricePerMillion": 10**40}, "inputPricePerMillion: Input should be less"),
    ("price 7 decimals", {**PRICE, "inputPricePerMillion": 1e-7}, "inputPricePerMillion: Decimal input"),
    ("price a boolean", {**PRICE, "outputPricePerMillion": False}, "outputPricePerMillion: must be a number"),
    (
        "price NaN",
        json.dumps(PRICE).replace('"inputPricePerMillion": 1', '"inputPricePerMillion": NaN'),
        "finite",
    ),
    ("cache price an object", {**PRICE, "cacheReadPricePerMillion": {}}, "cacheReadPricePerMillion"),
    ("provider upper case", {**PRICE, "provider": "ACME"}, "provider: String should match pattern"),
    ("provider with '#'", {**PRICE, "provider": "acme#GLOBAL"}, "provider: String should match pattern"),
    ("category unknown", {**PRICE, "category": "ultra"}, "category: Input should be"),
    (
        "effectiveFrom no zone",
        {**PRICE, "effectiveFrom": "2026-01-01T00:00:00"},
        "effectiveFrom: '2026-01-01T00:00",
    ),
    ("effectiveFrom a number", {**PRICE, "effectiveFrom": 1767225600}, "effectiveFrom: must be an ISO 8601"),
    ("effectiveFrom +14:00 year 1", {**PRICE, "effectiveFrom": "0001-01-01T00:00:00+14:00"}, "out of range"),
    (
        "effectiveFrom -14:00 year 9999",
        {**PRICE, "effectiveFrom": "9999-12-31T23:59:59-14:00"},
        "out of range",
    ),
    ("an unknown field", {**PRICE, "model": "gpt-5.4"}, "model: Extra inputs are not permitted"),
    ("a list", [PRICE], "the body must be a JSON object"),
]

SETTINGS = {"thresholds": [80, 100], "forecast": True}
SETTINGS_BODIES: list[tuple[str, Any, str]] = [
    ("no forecast", {"thresholds": [50]}, "forecast: missing"),
    ("no thresholds", {**SETTINGS, "thresholds": []}, "thresholds: List should have at least 1 item"),
    (
        "six thresholds",
        {**SETTINGS, "thresholds": [1, 2, 3, 4, 5, 6]},
        "thresholds: List should have at most 5",
    ),
    (
        "threshold 0",
        {**SETTINGS, "thresholds": [0]},
        "each threshold is a percent of the budget from 1 to 1000",
    ),
    (
        "threshold 1001",
        {**SETTINGS, "thresholds": [1001]},
        "each threshold is a percent of the budget from 1 to 1000",
    ),
    (
        "threshold 10**40",
        {**SETTINGS, "thresholds": [10**40]},
        "each threshold is a percent of the budget from 1 to 1000",
    ),
    (
        "threshold a float",
        {**SETTINGS, "thresholds": [50.5]},
        "thresholds.0: Input should be a valid integer",
    ),
    (
        "threshold 1e400",
        '{"thresholds": [1e400], "forecast": true}',
        "each threshold is a percent of the budget from 1 to 1000",
    ),
    (
        "threshold 1e999999999",
        '{"thresholds": [1e999999999], "forecast": true}',
        "thresholds.0: a number with too many digits",
    ),
    (
        "threshold a string",
        {**SETTINGS, "thresholds": ["80"]},
        "thresholds.0: Input should be a valid integer",
    ),
    (
        "threshold a boolean",
        {**SETTINGS, "thresholds": [True]},
        "thresholds.0: Input should be a valid integer",
    ),
    ("thresholds null", {**SETTINGS, "thresholds": None}, "thresholds: Input should be a valid list"),
    (
        "thresholds an object",
        {**SETTINGS, "thresholds": {"a": 80}},
        "thresholds: Input should be a valid list",
    ),
    ("forecast a string", {**SETTINGS, "forecast": "yes"}, "forecast: Input should be a valid boolean"),
    ("forecast 1", {**SETTINGS, "forecast": 1}, "forecast: Input should be a valid boolean"),
    ("forecast null", {**SETTINGS, "forecast": None}, "forecast: Input should be a valid boolean"),
    ("an unknown field", {**SETTINGS, "email": "x@example.com"}, "email: Extra inputs are not permitted"),
    ("a list", [80, 100], "the body must be a JSON object"),
]

WRITES: dict[str, tuple[str, str, list[tuple[str, Any, str]]]] = {
    "agent": ("/api/agents/nova", "/api/agents/nova", AGENT_BODIES),
    "price": ("/api/cost-analysis/pricing/acme-model-1", "/api/cost-analysis/pricing", PRICE_BODIES),
    "alert settings": (
        "/api/cost-analysis/budget-alerts/settings",
        "/api/cost-analysis/budget-alerts/settings",
        SETTINGS_BODIES,
    ),
}


@pytest.mark.parametrize("target", list(WRITES))
def test_a_bad_body_on_another_write_route_is_a_400_that_changes_nothing(target: str, tenant: Tenant) -> None:
    path, readback, cases = WRITES[target]
    before = tenant.api.get(readback)
    assert before.status == 200
    for what, body, needle in cases:
        reply = tenant.hostile("PUT", path, body=body)
        assert reply.status == 400, (what, reply.text[:300])
        assert needle in reply.json["message"], (what, reply.json["message"][:300])
    assert tenant.api.get(readback).json == before.json


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/agents/a#b", "agentId"),
        ("/api/agents/A%23nova", "agentId"),
        ("/api/agents/" + "n" * 65, "agentId"),
        ("/api/agents/🤖", "agentId"),
        ("/api/agents/\u202enova", "agentId"),
        ("/api/agents/nova\x00", "agentId"),
        ("/api/agents/..", "agentId"),
        ("/api/agents/workforce", "agentId"),
        ("/api/agents/-nova", "agentId"),
        ("/api/cost-analysis/pricing/gpt#GLOBAL", "modelId"),
        ("/api/cost-analysis/pricing/" + "m" * 129, "modelId"),
        ("/api/cost-analysis/pricing/🤖", "modelId"),
        ("/api/cost-analysis/pricing/-model", "modelId"),
        ("/api/cost-analysis/pricing/model\x1b", "modelId"),
    ],
    ids=lambda value: repr(value)[-24:],
)
def test_a_bad_path_id_on_a_write_route_is_a_400_naming_it(path: str, field: str, tenant: Tenant) -> None:
    body = AGENT if field == "agentId" else PRICE
    before = tenant.api.get("/api/agents").json, tenant.api.get("/api/cost-analysis/pricing").json
    reply = tenant.hostile("PUT", path, body=body)
    tenant.refused(reply, 400, field)
    assert (tenant.api.get("/api/agents").json, tenant.api.get("/api/cost-analysis/pricing").json) == before


def test_a_price_from_any_representable_instant_is_stored_and_readable(tenant: Tenant) -> None:
    # Years before 1000 were stored unpadded ("1-01-01T..."), which no read could parse again: every later
    # pricing read and price-dependent route of the workspace answered 500.
    for model, effective in [
        ("acme-ancient", "0001-01-01T00:00:00Z"),
        ("acme-medieval", "0999-06-15T12:00:00+01:00"),
        ("acme-last", "9999-12-31T23:59:59Z"),
    ]:
        reply = tenant.hostile(
            "PUT", f"/api/cost-analysis/pricing/{model}", body={**PRICE, "effectiveFrom": effective}
        )
        assert reply.status == 200, reply.text
    pricing = tenant.api.get("/api/cost-analysis/pricing")
    assert pricing.status == 200, pricing.text
    shown = {m["id"]: m["effectiveFrom"] for m in pricing.json["models"]}
    assert shown["acme-ancient"] == "0001-01-01T00:00:00Z"
    assert shown["acme-medieval"] == "0999-06-15T11:00:00Z"
    again = tenant.api.put("/api/cost-analysis/pricing/acme-ancient", {**PRICE, "inputPricePerMillion": 3})
    assert again.status == 200, again.text
    for read in (
        "/api/cost-analysis/summary",
        "/api/cost-analysis/recommendations",
        "/api/cost-analysis/by-model",
    ):
        assert tenant.api.get(read).status == 200, read


FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def test_agent_names_that_are_spreadsheet_formulas_are_quoted_in_csv(tenant: Tenant) -> None:
    for n, name in enumerate(FORMULAS):
        reply = tenant.hostile(
            "PUT", f"/api/agents/f{n}", body=agent_body(name, status="online", cost_budget_monthly=1)
        )
        assert reply.status == 200, reply.text
        assert reply.json["name"] == name  # stored as sent
    reply = tenant.api.get("/api/cost-analysis/agents", headers={"Accept": "text/csv"})
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.text, newline="")))
    names = {row["name"] for row in rows}
    assert {"'" + name for name in FORMULAS} <= names, names


# --- Query parameters of the read routes -------------------------------------------------------------

LONG = "x" * 100_000
# The reads that take ?month=: every cost-analysis and workforce GET but the catalog, settings and trends.
MONTHLY_READS = [
    r.path
    for r in routes()
    if r.method == "GET"
    and r.path.startswith(("/api/cost-analysis/", "/api/agents/workforce/"))
    and not r.path.endswith(("/pricing", "/settings", "/trends"))
]
QUERY_CASES: list[tuple[str, dict[str, str], str]] = [
    *(
        (path, {"month": month}, "month")
        for path in MONTHLY_READS
        for month in (
            "2026-13",
            "2026-00",
            "2026-1",
            "26-01",
            "2026/01",
            "0000-01",
            "1999-12",
            "2100-01",
            "9999-12",
            "２０２６-01",
            "2026-01\n",
            LONG,
        )
    ),
    *(
        ("/api/agents/workforce/trends", {"months": m}, "months")
        for m in ("0", "25", "-1", "abc", "1.5", "1e1", "", "9" * 5000)
    ),
    *(
        ("/api/activity", {"limit": v}, "limit")
        for v in ("0", "-1", "501", "1e3", "1.5", "abc", "", "9" * 5000, "５")
    ),
    *(("/api/activity", {"offset": v}, "offset") for v in ("-1", "10001", "abc", "1.5")),
    ("/api/activity", {"offset": "10", "nextToken": "x.y"}, "nextToken"),
    *(
        ("/api/activity", {param: v}, param)
        for param in ("from", "to")
        for v in (
            "2026-01-01T00:00:00",
            "2026-01-01",
            "yesterday",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "2026-02-30T00:00:00Z",
            "\x00",
            LONG,
        )
    ),
    ("/api/activity", {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "'from' is after 'to'"),
    *(("/api/activity", {"agentId": v}, "agentId") for v in ("a#b", "🤖", "n" * 65, "", "nova\n", LONG)),
    *(("/api/activity", {"eventType": v}, "eventType") for v in ("teleport", "", "MODEL_INVOCATION", LONG)),
    *(
        ("/api/activity", {"nextToken": v}, "nextToken")
        for v in ("garbage", "a.b.c", ".", "eyJ2IjoxfQ.AAAA", "x" * 4097, "\x00", "🤖.🤖")
    ),
    *(
        ("/api/activity/feed", {"since": v}, "since")
        for v in ("2026-01-01", "0001-01-01T00:00:00+14:00", "x", "9999-12-31T23:59:59Z")
    ),
    *(("/api/activity/feed", {"nextToken": v}, "nextToken") for v in ("garbage", "x" * 4097, "a.b")),
    ("/api/activity/feed", {"limit": "0"}, "limit"),
    ("/api/activity/feed", {"limit": "501"}, "limit"),
]


@pytest.mark.parametrize(
    ("path", "query", "needle"),
    QUERY_CASES,
    ids=[f"{p.removeprefix('/api/')}-{repr(q)[:40]}" for p, q, _ in QUERY_CASES],
)
def test_a_bad_query_parameter_is_a_400_naming_it(
    path: str, query: dict[str, str], needle: str, tenant: Tenant
) -> None:
    reply = tenant.hostile("GET", path, query=query)
    tenant.refused(reply, 400, needle)


def test_a_cursor_altered_in_any_byte_or_moved_to_other_filters_is_a_400(
    tenant: Tenant, stream: Stream
) -> None:
    events = [control(f"page{n}") for n in range(3)]
    assert tenant.api.post(ACTIVITY, {"events": events}).json["accepted"] == 3
    tenant.accepted += events
    stream.drain()
    first = tenant.api.get(ACTIVITY, query={"limit": "1"})
    token = first.json["pagination"]["nextToken"]
    assert token
    assert tenant.api.get(ACTIVITY, query={"limit": "1", "nextToken": token}).status == 200
    # Every 5th character of each part but its last, whose low bits base64 may not use.
    body_part, signature = token.split(".")
    flip = {c: "B" if c == "A" else "A" for c in set(token)}
    variants = [
        f"{body_part[:i]}{flip[body_part[i]]}{body_part[i + 1 :]}.{signature}"
        for i in range(0, len(body_part) - 1, 5)
    ]
    variants += [
        f"{body_part}.{signature[:i]}{flip[signature[i]]}{signature[i + 1 :]}"
        for i in range(len(signature) - 1)
    ]
    variants += [token + "A", token[:-1], token.replace(".", ".."), token.upper()]
    for altered in variants:
        reply = tenant.hostile("GET", ACTIVITY, query={"limit": "1", "nextToken": altered})
        tenant.refused(reply, 400, "nextToken")
    for other_filters in (
        {"agentId": "atlas"},
        {"eventType": "error"},
        {"from": iso(NOW - timedelta(days=1))},
    ):
        reply = tenant.hostile("GET", ACTIVITY, query={"limit": "1", "nextToken": token, **other_filters})
        tenant.refused(reply, 400, "nextToken")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/activity", {"to": "9999-12-30T00:00:00Z"}),
        ("/api/activity", {"to": "9999-12-30T00:00:00Z", "offset": "5"}),
        ("/api/activity", {"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"}),
        ("/api/activity", {"from": "9999-12-31T23:59:59Z"}),
        ("/api/activity/feed", {"since": "0001-01-01T00:00:00Z"}),
        ("/api/activity/feed", {"since": "1900-01-01T00:00:00Z"}),
    ],
)
def test_far_away_times_answer_quickly_and_empty(path: str, query: dict[str, str], tenant: Tenant) -> None:
    # A far `to` walked every day up to it (65 s for year 9999), and an old `since` every day from it
    # (180 s from 1969): now both are bounded by the retention period and the 5-minute future skew.
    started = time.monotonic()
    reply = tenant.hostile("GET", path, query=query)
    assert reply.status == 200, reply.text
    assert reply.json["data"] == []
    assert time.monotonic() - started < 5


def test_unknown_query_parameters_are_ignored_not_5xx(tenant: Tenant) -> None:
    for query in (
        {"unknown": "1"},
        {"workspaceId": "ws-other"},
        {"month": ["2026-01", "2026-02"]},
        {LONG: "1"},
    ):
        reply = tenant.hostile("GET", "/api/cost-analysis/summary", query=query)
        assert reply.status in (200, 400), reply.text
