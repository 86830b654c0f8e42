"""Request bodies read as their models (costmetrics.writes.read_body, behind api.parse_body): a PUT's is the
whole resource, a PATCH's a merge patch checked before it is applied, any other's the model as is; the
routes document the same models (api.request_body). The HTTP side: tests/integration/test_hostile_input.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from costmetrics.agents import AgentIn
from costmetrics.alerts import AlertSettings
from costmetrics.api import request_body
from costmetrics.errors import InvalidRequest
from costmetrics.ingest_keys import NewKey
from costmetrics.ingestion import ActivityBatch
from costmetrics.price_admin import PriceIn
from costmetrics.writes import Patch, read_body

PRICE: dict[str, Any] = {
    "provider": "acme-ai",
    "category": "economy",
    "inputPricePerMillion": Decimal(1),
    "outputPricePerMillion": Decimal(2),
    "cacheReadPricePerMillion": None,
    "cacheWritePricePerMillion": None,
}


def refused(kind: Any, body: Any, method: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        read_body(kind, body, method=method)
    return raised.value


def test_a_put_body_needs_every_field_but_the_write_parameters() -> None:
    price = read_body(PriceIn, PRICE, method="PUT")
    assert isinstance(price, PriceIn)
    assert price.effective_from is None
    error = refused(PriceIn, {k: v for k, v in PRICE.items() if k != "provider"}, "PUT")
    assert error.message.startswith("PUT replaces the whole price")
    assert {"in": "body", "field": "provider", "problem": "missing"} in error.details


def test_a_post_body_is_its_model_as_is_and_a_bad_field_is_named() -> None:
    assert read_body(NewKey, {"name": "fleet"}, method="POST") == NewKey(name="fleet")
    error = refused(NewKey, {"name": " fleet"}, "POST")
    assert error.message == "name: must be printable, without leading or trailing spaces"
    assert error.details == [{"in": "body", "field": "name", "problem": error.message.partition(": ")[2]}]


def test_a_patch_is_checked_on_its_own_and_applied_later() -> None:
    patch = read_body(Patch[AlertSettings], {"forecast": False}, method="PATCH")
    assert isinstance(patch, Patch)
    assert patch.applied_to({"thresholds": [50], "forecast": True}) == AlertSettings(
        thresholds=[50], forecast=False
    )
    assert "colour: Extra inputs" in refused(Patch[AgentIn], {"colour": "blue"}, "PATCH").message
    assert "every agent has name" in refused(Patch[AgentIn], {"name": None}, "PATCH").message
    assert "a merge patch of the agent" in refused(Patch[AgentIn], [], "PATCH").message


def test_a_patch_gives_its_write_parameters_validated_before_it_is_applied() -> None:
    patch = read_body(Patch[PriceIn], {"effectiveFrom": "2026-11-01T00:00:00Z"}, method="PATCH")
    assert patch.parameters == {"effectiveFrom": datetime(2026, 11, 1, tzinfo=UTC)}
    assert read_body(Patch[PriceIn], {"effectiveFrom": None}, method="PATCH").parameters == {
        "effectiveFrom": None
    }
    error = refused(Patch[PriceIn], {"effectiveFrom": "yesterday"}, "PATCH")
    assert error.message == "effectiveFrom: 'yesterday' is not an ISO 8601 timestamp"
    assert error.details[0]["field"] == "effectiveFrom"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], 'the body must be a JSON object {"events": [...]}'),
        ({"events": {}}, 'the body must be a JSON object {"events": [...]}'),
        ({"events": [{}], "workspaceId": "x"}, "unknown field(s) in the body: workspaceId"),
        ({"events": []}, "events must hold 1 to 100 events, got 0"),
        ({"events": [{}] * 101}, "events must hold 1 to 100 events, got 101"),
    ],
)
def test_the_ingest_envelope_says_what_is_wrong_with_it(body: Any, message: str) -> None:
    assert refused(ActivityBatch, body, "POST").message == message


def test_the_ingest_envelope_keeps_each_event_as_sent_for_its_own_validation() -> None:
    events = [{"id": "e-1"}, "not an event", None]
    assert read_body(ActivityBatch, {"events": events}, method="POST").events == events


def test_a_route_documents_the_schema_its_model_gives() -> None:
    body = request_body(Patch[AgentIn], "The agent's fields to change")["requestBody"]
    assert body["content"]["application/merge-patch+json"]["schema"] == {
        "$ref": "#/components/schemas/AgentInPatch"
    }
    assert set(body["content"]) == {"application/merge-patch+json", "application/json"}
    assert request_body(AgentIn, "The whole agent")["requestBody"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/AgentIn"}}
    }


def test_two_request_models_cannot_share_a_schema_name() -> None:
    request_body(AgentIn, "The whole agent")
    another = type("AgentIn", (NewKey,), {})
    with pytest.raises(ValueError, match="two request bodies are named AgentIn"):
        request_body(another, "a clash")
