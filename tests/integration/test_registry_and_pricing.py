"""The agent registry, workspace prices and alert settings through the API: a PUT replaces a whole resource
and so needs every field (a 400 names each one missing, and nothing changes); a PATCH is a JSON Merge Patch
(RFC 7396) that changes only the fields it gives, and never writes back over a change made meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from costmetrics.repositories import agents as agents_repo
from tests.datasets import agent_body
from tests.harness import Api

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
NOVA = agent_body(
    "Nova",
    status="online",
    category="Research",
    department="Strategy",
    role_title="Analyst",
    model_provider="anthropic",
    model_name="claude-haiku-3.5",
    human_equivalent_salary=75000,
    estimated_hours_saved=80,
    cost_budget_monthly=100.5,
)


def patch(api: Api, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return api.call("PATCH", path, body=body, headers=headers or MERGE_PATCH)


# --- Agents --------------------------------------------------------------------------------------------


def test_an_agent_is_created_replaced_and_read_back(stack: Any) -> None:
    api = Api("ws-acme")
    created = api.put("/api/agents/nova", NOVA)
    assert created.status == 200, created.text
    assert created.json["cost_budget_monthly"] == 100.5
    replaced = api.put("/api/agents/nova", {**NOVA, "name": "Nova 2", "status": "paused", "department": None})
    assert replaced.status == 200, replaced.text
    assert replaced.json["created_at"] == created.json["created_at"]
    assert replaced.json["department"] is None
    assert api.get("/api/agents/nova").json == replaced.json
    assert [a["id"] for a in api.get("/api/agents").json["agents"]] == ["nova"]


def test_a_put_without_every_field_is_a_400_naming_each_missing_one_and_changes_nothing(stack: Any) -> None:
    # The case: a partial PUT silently reset the budget to 0.
    api = Api("ws-acme")
    before = api.put("/api/agents/nova", NOVA).json
    reply = api.put("/api/agents/nova", {"name": "Nova", "status": "paused", "department": "Ops"})
    assert reply.status == 400
    missing = [
        "category",
        "role_title",
        "model_provider",
        "model_name",
        "human_equivalent_salary",
        "estimated_hours_saved",
        "cost_budget_monthly",
    ]
    assert [d["field"] for d in reply.json["details"]] == missing
    assert all(d["problem"] == "missing" for d in reply.json["details"])
    assert "PUT replaces the whole agent" in reply.json["message"]
    assert all(f"{name}: missing" in reply.json["message"] for name in missing)
    assert api.get("/api/agents/nova").json == before
    # A new agent too: nothing is created from a partial body.
    assert api.put("/api/agents/atlas", {"name": "Atlas"}).status == 400
    assert api.get("/api/agents/atlas").status == 404


def test_bad_agent_input_is_a_400_naming_the_field(stack: Any) -> None:
    api = Api("ws-acme")
    for body, field in [
        ({**NOVA, "status": "sleeping"}, "status"),
        ({**NOVA, "cost_budget_monthly": -1}, "cost_budget_monthly"),
        ({**NOVA, "cost_budget_monthly": "100"}, "cost_budget_monthly"),
        ({**NOVA, "cost_budget_monthly": 1.001}, "cost_budget_monthly"),
        ({**NOVA, "colour": "blue"}, "colour"),
    ]:
        reply = api.put("/api/agents/nova", body)
        assert reply.status == 400, (body, reply.text)
        assert field in reply.json["message"]
        assert [d["field"] for d in reply.json["details"]] == [field]
    assert api.put("/api/agents/bad%20id", agent_body("N")).status == 400


def test_a_patch_changes_only_the_fields_it_gives(stack: Any) -> None:
    api = Api("ws-acme")
    created = api.put("/api/agents/nova", NOVA).json
    reply = patch(
        api, "/api/agents/nova", {"status": "paused", "department": None, "cost_budget_monthly": 250}
    )
    assert reply.status == 200, reply.text
    changed = {"status": "paused", "department": None, "cost_budget_monthly": 250}
    kept = {k: v for k, v in created.items() if k not in {*changed, "updated_at"}}
    assert reply.json == {**kept, **changed, "updated_at": reply.json["updated_at"]}
    assert api.get("/api/agents/nova").json == reply.json
    # application/json is a merge patch too; an empty patch changes nothing.
    renamed = patch(api, "/api/agents/nova", {"name": "Nova II"}, {"Content-Type": "application/json"})
    assert renamed.status == 200, renamed.text
    assert {**reply.json, "name": "Nova II", "updated_at": None} == {**renamed.json, "updated_at": None}
    assert patch(api, "/api/agents/nova", {}).json == {
        **renamed.json,
        "updated_at": api.get("/api/agents/nova").json["updated_at"],
    }


@pytest.mark.parametrize(
    ("body", "headers", "status", "needle"),
    [
        ({"name": None}, MERGE_PATCH, 400, "every agent has name"),
        ({"status": None, "cost_budget_monthly": None}, MERGE_PATCH, 400, "status, cost_budget_monthly"),
        ({"status": "zombie"}, MERGE_PATCH, 400, "status: Input should be"),
        ({"cost_budget_monthly": 0.001}, MERGE_PATCH, 400, "cost_budget_monthly"),
        ({"colour": "blue"}, MERGE_PATCH, 400, "colour: Extra inputs are not permitted"),
        ([{"op": "replace", "path": "/name", "value": "X"}], MERGE_PATCH, 400, "a JSON object"),
        ("null", MERGE_PATCH, 400, "a JSON object"),
        ({"name": "X"}, {"Content-Type": "application/json-patch+json"}, 415, "merge-patch+json"),
        ({"name": "X"}, {"Content-Type": "text/plain"}, 415, "merge-patch+json"),
    ],
)
def test_a_bad_patch_is_a_4xx_that_changes_nothing(
    stack: Any, body: Any, headers: dict[str, str], status: int, needle: str
) -> None:
    api = Api("ws-acme")
    before = api.put("/api/agents/nova", NOVA).json
    reply = patch(api, "/api/agents/nova", body, headers)
    assert reply.status == status, reply.text
    assert needle in reply.json["message"], reply.json
    assert api.get("/api/agents/nova").json == before


def test_a_patch_of_an_agent_not_registered_is_a_404(stack: Any) -> None:
    api = Api("ws-acme")
    reply = patch(api, "/api/agents/ghost", {"name": "Ghost"})
    assert reply.status == 404
    assert "create it with PUT" in reply.json["message"]
    assert api.get("/api/agents/ghost").status == 404
    # Another workspace's agent is not this one's.
    api.put("/api/agents/nova", NOVA)
    assert patch(Api("ws-other"), "/api/agents/nova", {"name": "Mine"}).status == 404


def test_a_patch_never_writes_back_over_a_change_made_meanwhile(stack: Any, monkeypatch: Any) -> None:
    # Given a PATCH of the budget that reads the agent while an admin renames it
    api = Api("ws-acme")
    api.put("/api/agents/nova", NOVA)
    read = agents_repo.get_agent
    renamed: list[bool] = []

    def read_then_someone_renames(workspace_id: str, agent_id: str) -> Any:
        found = read(workspace_id, agent_id)
        if not renamed:
            renamed.append(True)
            assert patch(api, "/api/agents/nova", {"name": "Renamed meanwhile"}).status == 200
        return found

    monkeypatch.setattr(agents_repo, "get_agent", read_then_someone_renames)
    # When the budget PATCH writes
    reply = patch(api, "/api/agents/nova", {"cost_budget_monthly": 7})
    # Then both changes are kept: the stale write was refused and the patch applied again
    assert reply.status == 200, reply.text
    assert (reply.json["name"], reply.json["cost_budget_monthly"]) == ("Renamed meanwhile", 7)
    monkeypatch.undo()
    assert api.get("/api/agents/nova").json == reply.json


def test_a_patch_keeps_the_past_months_as_they_were(stack: Any) -> None:
    api = Api("ws-acme")
    api.put("/api/agents/nova", NOVA)
    month = datetime.now(UTC).strftime("%Y-%m")
    assert patch(api, "/api/agents/nova", {"cost_budget_monthly": 300}).status == 200
    rows = api.get("/api/cost-analysis/agents", query={"month": month}).json["agents"]
    assert [r["budget"] for r in rows if r["id"] == "nova"] == [300]


def test_the_registry_is_per_workspace_and_role(stack: Any) -> None:
    api = Api("ws-acme")
    api.put("/api/agents/nova", agent_body("Nova"))
    other = Api("ws-other")
    assert other.get("/api/agents").json == {"agents": []}
    assert other.get("/api/agents/nova").status == 404
    viewer = api.as_("ws-acme", "viewer")
    assert viewer.get("/api/agents/nova").status == 200
    assert viewer.put("/api/agents/nova", agent_body("X")).status == 403
    assert patch(viewer, "/api/agents/nova", {"name": "X"}).status == 403
    assert api.as_("ws-acme", "ingest").get("/api/agents").status == 403
    assert api.get("/api/agents/nova").json["name"] == "Nova"


# --- Prices --------------------------------------------------------------------------------------------

PRICE = {
    "provider": "acme",
    "category": "standard",
    "inputPricePerMillion": 1,
    "outputPricePerMillion": 2,
    "cacheReadPricePerMillion": 0.1,
    "cacheWritePricePerMillion": None,
}


def test_pricing_lists_the_catalog_merged_with_the_workspace_prices(stack: Any) -> None:
    api = Api("ws-acme")
    catalog = api.get("/api/cost-analysis/pricing").json["models"]
    assert len(catalog) == 12
    haiku = next(m for m in catalog if m["id"] == "claude-haiku-3.5")
    assert haiku == haiku | {
        "provider": "anthropic",
        "category": "economy",
        "inputPricePerMillion": 0.8,
        "outputPricePerMillion": 4.0,
        "source": "global",
    }
    override = api.put(
        "/api/cost-analysis/pricing/claude-haiku-3.5",
        {**PRICE, "provider": "anthropic", "category": "economy", "inputPricePerMillion": 0.5},
    )
    assert override.status == 200, override.text
    later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    new_model = api.put("/api/cost-analysis/pricing/in-house-llm", {**PRICE, "effectiveFrom": later})
    assert new_model.status == 200, new_model.text
    models = {m["id"]: m for m in api.get("/api/cost-analysis/pricing").json["models"]}
    # A PUT is the whole price: its cache prices are the ones it gives (null: billed as input).
    assert models["claude-haiku-3.5"] | {"effectiveFrom": None, "scheduled": None} == {
        "id": "claude-haiku-3.5",
        "provider": "anthropic",
        "category": "economy",
        "inputPricePerMillion": 0.5,
        "outputPricePerMillion": 2,
        "cacheReadPricePerMillion": 0.1,
        "cacheWritePricePerMillion": None,
        "source": "workspace",
        "effectiveFrom": None,
        "scheduled": None,
    }
    assert "in-house-llm" not in models  # not in force yet
    assert Api("ws-other").get("/api/cost-analysis/pricing").json["models"] == catalog


def test_a_price_put_without_every_field_is_a_400_naming_each_missing_one(stack: Any) -> None:
    api = Api("ws-acme")
    before = api.get("/api/cost-analysis/pricing").json
    # A model of the catalog as much as a new one: PUT gives the whole price.
    for model in ("gpt-5.4", "new-model"):
        reply = api.put(
            f"/api/cost-analysis/pricing/{model}", {"inputPricePerMillion": 1, "outputPricePerMillion": 1}
        )
        assert reply.status == 400
        assert [d["field"] for d in reply.json["details"]] == [
            "provider",
            "category",
            "cacheReadPricePerMillion",
            "cacheWritePricePerMillion",
        ]
    assert api.get("/api/cost-analysis/pricing").json == before


def test_bad_prices_are_400(stack: Any) -> None:
    api = Api("ws-acme")
    for model, body, needle in [
        ("gpt-5.4", {**PRICE, "inputPricePerMillion": -1}, "inputPricePerMillion"),
        ("gpt-5.4", {**PRICE, "effectiveFrom": "2026-01-01"}, "time zone"),
        ("gpt-5.4", {**PRICE, "inputPricePerMillion": 0.0000001}, "inputPricePerMillion"),
        ("-bad!model", PRICE, "modelId"),
    ]:
        reply = api.put(f"/api/cost-analysis/pricing/{model}", body)
        assert reply.status == 400, (model, body, reply.text)
        assert needle in reply.json["message"], reply.json
    assert api.as_("ws-acme", "viewer").put("/api/cost-analysis/pricing/gpt-5.4", PRICE).status == 403


def test_a_price_patch_changes_only_the_fields_it_gives_from_its_effective_date(stack: Any) -> None:
    api = Api("ws-acme")
    # A catalog model: the patch starts from the catalog's price.
    reply = patch(api, "/api/cost-analysis/pricing/claude-haiku-3.5", {"inputPricePerMillion": 0.5})
    assert reply.status == 200, reply.text
    assert reply.json | {"effectiveFrom": None} == {
        "id": "claude-haiku-3.5",
        "provider": "anthropic",
        "category": "economy",
        "inputPricePerMillion": 0.5,
        "outputPricePerMillion": 4,
        "cacheReadPricePerMillion": 0.08,
        "cacheWritePricePerMillion": 1,
        "source": "workspace",
        "effectiveFrom": None,
    }
    # The workspace's own price is the next patch's start; null empties a cache price.
    again = patch(
        api,
        "/api/cost-analysis/pricing/claude-haiku-3.5",
        {"outputPricePerMillion": 3, "cacheWritePricePerMillion": None},
    )
    assert (again.json["inputPricePerMillion"], again.json["outputPricePerMillion"]) == (0.5, 3)
    assert (again.json["cacheReadPricePerMillion"], again.json["cacheWritePricePerMillion"]) == (0.08, None)
    # From a date in the future: in force only then.
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    scheduled = patch(
        api, "/api/cost-analysis/pricing/gpt-5.4", {"inputPricePerMillion": 2, "effectiveFrom": later}
    )
    assert scheduled.json["effectiveFrom"] == later
    row = next(m for m in api.get("/api/cost-analysis/pricing").json["models"] if m["id"] == "gpt-5.4")
    assert (row["inputPricePerMillion"], row["scheduled"]["inputPricePerMillion"]) == (2.5, 2)


@pytest.mark.parametrize(
    ("model", "body", "status", "needle"),
    [
        ("never-priced", {"inputPricePerMillion": 1}, 404, "set one with PUT"),
        ("gpt-5.4", {"provider": None}, 400, "every price has provider"),
        ("gpt-5.4", {"inputPricePerMillion": None}, 400, "every price has inputPricePerMillion"),
        ("gpt-5.4", {"category": "ultra"}, 400, "category: Input should be"),
        ("gpt-5.4", {"effectiveFrom": "yesterday"}, 400, "effectiveFrom"),
        ("gpt-5.4", {"model": "x"}, 400, "model: Extra inputs are not permitted"),
    ],
)
def test_a_bad_price_patch_is_a_4xx_that_changes_nothing(
    stack: Any, model: str, body: Any, status: int, needle: str
) -> None:
    api = Api("ws-acme")
    before = api.get("/api/cost-analysis/pricing").json
    reply = patch(api, f"/api/cost-analysis/pricing/{model}", body)
    assert reply.status == status, reply.text
    assert needle in reply.json["message"], reply.json
    assert api.get("/api/cost-analysis/pricing").json == before


# --- Alert settings ------------------------------------------------------------------------------------

SETTINGS = "/api/cost-analysis/budget-alerts/settings"


def test_alert_settings_put_is_whole_and_patch_is_partial(stack: Any) -> None:
    api = Api("ws-acme")
    assert api.get(SETTINGS).json == {"thresholds": [80, 100], "forecast": True}
    reply = api.put(SETTINGS, {"thresholds": [50]})
    assert reply.status == 400
    assert [d["field"] for d in reply.json["details"]] == ["forecast"]
    assert api.put(SETTINGS, {"thresholds": [90, 50, 90], "forecast": False}).json == {
        "thresholds": [50, 90],
        "forecast": False,
    }
    assert patch(api, SETTINGS, {"forecast": True}).json == {"thresholds": [50, 90], "forecast": True}
    assert patch(api, SETTINGS, {"thresholds": [70]}).json == {"thresholds": [70], "forecast": True}
    # JSON has one number type: 75.0 is the integer 75 (as JSON Schema's "integer" says); 75.5 is not.
    assert patch(api, SETTINGS, {"thresholds": [75.0, 70]}).json == {"thresholds": [70, 75], "forecast": True}
    assert patch(api, SETTINGS, {"thresholds": [75.5]}).status == 400
    refused = patch(api, SETTINGS, {"forecast": None})
    assert (refused.status, refused.json["details"]) == (
        400,
        [{"in": "body", "field": "forecast", "problem": "cannot be null"}],
    )
    assert api.get(SETTINGS).json == {"thresholds": [70, 75], "forecast": True}
    assert patch(api.as_("ws-acme", "viewer"), SETTINGS, {"forecast": False}).status == 403


def test_a_settings_patch_never_writes_back_over_a_change_made_meanwhile(
    stack: Any, monkeypatch: Any
) -> None:
    api = Api("ws-acme")
    api.put(SETTINGS, {"thresholds": [80, 100], "forecast": True})
    read = agents_repo.alert_settings_revision
    changed: list[bool] = []

    def read_then_someone_changes(workspace_id: str) -> Any:
        found = read(workspace_id)
        if not changed:
            changed.append(True)
            assert patch(api, SETTINGS, {"thresholds": [60]}).status == 200
        return found

    monkeypatch.setattr(agents_repo, "alert_settings_revision", read_then_someone_changes)
    assert patch(api, SETTINGS, {"forecast": False}).json == {"thresholds": [60], "forecast": False}


def test_health_needs_no_token(stack: Any) -> None:
    reply = Api().get("/api/health", claims=None)
    assert reply.status == 200
