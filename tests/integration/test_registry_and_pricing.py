"""The agent registry and the pricing catalog through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.harness import Api


def test_an_agent_is_created_replaced_and_read_back(stack: Any) -> None:
    api = Api("ws-acme")
    created = api.put(
        "/api/agents/nova",
        {
            "name": "Nova",
            "status": "online",
            "cost_budget_monthly": 100.5,
            "human_equivalent_salary": 75000,
            "department": "Strategy",
        },
    )
    assert created.status == 200, created.text
    assert created.json["cost_budget_monthly"] == 100.5
    replaced = api.put("/api/agents/nova", {"name": "Nova 2", "status": "paused"})
    assert replaced.json["created_at"] == created.json["created_at"]
    assert replaced.json["department"] is None
    assert api.get("/api/agents/nova").json["name"] == "Nova 2"
    assert [a["id"] for a in api.get("/api/agents").json["agents"]] == ["nova"]


def test_bad_agent_input_is_a_400_naming_the_field(stack: Any) -> None:
    api = Api("ws-acme")
    for body, field in [
        ({"status": "online"}, "name"),
        ({"name": "N", "status": "sleeping"}, "status"),
        ({"name": "N", "cost_budget_monthly": -1}, "cost_budget_monthly"),
        ({"name": "N", "cost_budget_monthly": "100"}, "cost_budget_monthly"),
        ({"name": "N", "cost_budget_monthly": 1.001}, "cost_budget_monthly"),
        ({"name": "N", "colour": "blue"}, "colour"),
    ]:
        reply = api.put("/api/agents/nova", body)
        assert reply.status == 400, (body, reply.text)
        assert field in reply.json["message"]
    assert api.put("/api/agents/bad%20id", {"name": "N"}).status == 400


def test_the_registry_is_per_workspace_and_role(stack: Any) -> None:
    api = Api("ws-acme")
    api.put("/api/agents/nova", {"name": "Nova"})
    other = Api("ws-other")
    assert other.get("/api/agents").json == {"agents": []}
    assert other.get("/api/agents/nova").status == 404
    assert api.as_("ws-acme", "viewer").get("/api/agents/nova").status == 200
    assert api.as_("ws-acme", "viewer").put("/api/agents/nova", {"name": "X"}).status == 403
    assert api.as_("ws-acme", "ingest").get("/api/agents").status == 403


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
        {"inputPricePerMillion": 0.5, "outputPricePerMillion": 2.5},
    )
    assert override.status == 200, override.text
    later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    new_model = api.put(
        "/api/cost-analysis/pricing/in-house-llm",
        {
            "provider": "acme",
            "category": "standard",
            "inputPricePerMillion": 1,
            "outputPricePerMillion": 2,
            "effectiveFrom": later,
        },
    )
    assert new_model.status == 200, new_model.text
    models = {m["id"]: m for m in api.get("/api/cost-analysis/pricing").json["models"]}
    assert models["claude-haiku-3.5"]["inputPricePerMillion"] == 0.5
    # Cache prices not given keep the model's known ones; null explicitly means "none".
    assert models["claude-haiku-3.5"]["cacheReadPricePerMillion"] == 0.08
    assert models["claude-haiku-3.5"]["cacheWritePricePerMillion"] == 1.0
    assert models["claude-haiku-3.5"]["source"] == "workspace"
    assert "in-house-llm" not in models  # not in force yet
    assert Api("ws-other").get("/api/cost-analysis/pricing").json["models"] == catalog


def test_bad_prices_are_400(stack: Any) -> None:
    api = Api("ws-acme")
    for model, body, needle in [
        ("new-model", {"inputPricePerMillion": 1, "outputPricePerMillion": 1}, "provider and category"),
        ("gpt-5.4", {"inputPricePerMillion": -1, "outputPricePerMillion": 1}, "inputPricePerMillion"),
        ("gpt-5.4", {"inputPricePerMillion": 1}, "outputPricePerMillion"),
        (
            "gpt-5.4",
            {"inputPricePerMillion": 1, "outputPricePerMillion": 1, "effectiveFrom": "2026-01-01"},
            "time zone",
        ),
        ("gpt-5.4", {"inputPricePerMillion": 0.0000001, "outputPricePerMillion": 1}, "inputPricePerMillion"),
        ("-bad!model", {"inputPricePerMillion": 1, "outputPricePerMillion": 1}, "modelId"),
    ]:
        reply = api.put(f"/api/cost-analysis/pricing/{model}", body)
        assert reply.status == 400, (model, body, reply.text)
        assert needle in reply.json["message"], reply.json
    assert (
        api.as_("ws-acme", "viewer")
        .put("/api/cost-analysis/pricing/gpt-5.4", {"inputPricePerMillion": 1, "outputPricePerMillion": 1})
        .status
        == 403
    )


def test_health_needs_no_token(stack: Any) -> None:
    reply = Api().get("/api/health", claims=None)
    assert reply.status == 200
    assert reply.json["status"] == "ok"
