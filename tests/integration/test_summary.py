"""GET /api/cost-analysis/summary against figures computed independently from the raw events, on three
months of several agents and providers with cache tokens, a mid-month workspace price change, an unpriced
model, an agent over budget and a draft agent with no usage."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from tests import truth
from tests.datasets import AGENTS, iso, make_events, months_back
from tests.harness import Api, Stream
from tests.integration.rollup_support import ingest, register_agents

NOW = datetime.now(UTC)
PRICE_CHANGE = months_back(NOW, 1) + timedelta(days=14, hours=12)


@pytest.fixture(scope="module")
def dataset() -> list[dict[str, Any]]:
    return make_events(1500, start=months_back(NOW, 2), end=NOW - timedelta(minutes=1), seed=11)


@pytest.fixture(scope="module")
def loaded(shared_stack: Any, dataset: list[dict[str, Any]]) -> tuple[Api, truth.Truth]:
    api = Api("ws-acme")
    register_agents(api, AGENTS)
    # A workspace price for the main model from the middle of last month on (set before those events
    # are rolled up, as for a backfill): events before it keep the catalog price.
    reply = api.put(
        "/api/cost-analysis/pricing/claude-haiku-3.5",
        {
            "inputPricePerMillion": 0.5,
            "outputPricePerMillion": 2.5,
            "cacheReadPricePerMillion": 0.05,
            "cacheWritePricePerMillion": 0.6,
            "effectiveFrom": iso(PRICE_CHANGE),
        },
    )
    assert reply.status == 200, reply.text
    ingest(api, dataset)
    Stream(shared_stack).drain()
    override = truth.Override("claude-haiku-3.5", PRICE_CHANGE, ("0.5", "2.5", "0.05", "0.6"))
    return api, truth.compute(dataset, [override])


def test_every_summary_figure_equals_the_independent_computation(loaded: tuple[Api, truth.Truth]) -> None:
    api, expected = loaded
    budget_total = sum(Decimal(a["cost_budget_monthly"]) for a in AGENTS)
    months = sorted(expected.active_agents)
    assert len(months) == 3
    for month in months:
        summary = api.get("/api/cost-analysis/summary", query={"month": month}).json
        total = expected.month_cost(month)
        assert Decimal(str(summary["totalSpend"])) == truth.money(total), month
        assert summary["tokenCost"]["total"] == summary["totalSpend"]
        model_costs = expected.model_costs(month)
        assert [(m["model"], Decimal(str(m["cost"]))) for m in summary["tokenCost"]["byModel"]] == [
            (model, truth.money(cost))
            for model, cost in sorted(model_costs.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        provider_costs: dict[str, Decimal] = defaultdict(Decimal)
        for model, cost in model_costs.items():
            provider_costs[truth.PRICES[model][0]] += cost
        assert {p["provider"]: Decimal(str(p["cost"])) for p in summary["tokenCost"]["byProvider"]} == {
            p: truth.money(c) for p, c in provider_costs.items()
        }
        costs = [p["cost"] for p in summary["tokenCost"]["byProvider"]]
        assert costs == sorted(costs, reverse=True)
        assert summary["providerCount"] == len(provider_costs)
        assert summary["agentCount"] == len(AGENTS)
        assert Decimal(str(summary["budget"]["total"])) == budget_total
        assert Decimal(str(summary["budget"]["utilization"])) == (total / budget_total).quantize(
            Decimal("0.001"), rounding=ROUND_HALF_UP
        )
        unpriced = sum(u.unpriced_tokens for (m, _, _), u in expected.by_agent_model.items() if m == month)
        assert summary["unpricedTokens"] == unpriced
        assert summary["unpricedModels"] == (["mystery-model-x"] if unpriced else [])
        assert summary["month"] == month


def test_the_price_change_applies_from_its_instant_only(
    loaded: tuple[Api, truth.Truth], dataset: list[dict[str, Any]]
) -> None:
    api, _expected = loaded
    month = PRICE_CHANGE.strftime("%Y-%m")
    haiku = [
        e
        for e in dataset
        if e["eventType"] == "model_invocation"
        and e["details"]["model"] == "claude-haiku-3.5"
        and e["createdAt"].startswith(month)
    ]
    before = [e for e in haiku if truth.parse_time(e["createdAt"]) < PRICE_CHANGE]
    after = [e for e in haiku if truth.parse_time(e["createdAt"]) >= PRICE_CHANGE]
    assert before, "the dataset must have events before the change"
    assert after, "the dataset must have events after the change"
    at_catalog = truth.compute(before).month_cost(month)
    at_override = truth.compute(
        after, [truth.Override("claude-haiku-3.5", PRICE_CHANGE, ("0.5", "2.5", "0.05", "0.6"))]
    )
    summary = api.get("/api/cost-analysis/summary", query={"month": month}).json
    shown = next(m for m in summary["tokenCost"]["byModel"] if m["model"] == "claude-haiku-3.5")
    assert Decimal(str(shown["cost"])) == truth.money(at_catalog + at_override.month_cost(month))
    # ...which differs from pricing the whole month at either price.
    assert truth.money(truth.compute(haiku).month_cost(month)) != Decimal(str(shown["cost"]))


def test_the_response_has_every_reference_field_with_its_type(loaded: tuple[Api, truth.Truth]) -> None:
    api, _ = loaded
    summary = api.get("/api/cost-analysis/summary").json
    assert isinstance(summary["tokenCost"]["total"], float | int)
    assert set(summary["tokenCost"]) == {"total", "byProvider", "byModel"}
    assert set(summary["tokenCost"]["byProvider"][0]) == {"provider", "cost"}
    assert set(summary["tokenCost"]["byModel"][0]) == {"model", "cost"}
    assert set(summary["budget"]) == {"total", "utilization"}
    assert {"tokenCost", "totalSpend", "budget", "agentCount", "providerCount"} <= set(summary)
    assert isinstance(summary["agentCount"], int)
    assert isinstance(summary["providerCount"], int)


def test_another_workspace_sees_none_of_it(loaded: tuple[Api, truth.Truth]) -> None:
    other = Api("ws-other").get("/api/cost-analysis/summary").json
    assert other["totalSpend"] == 0
    assert other["tokenCost"]["byModel"] == []
    assert other["agentCount"] == 0


def test_a_month_without_data_and_bad_months(loaded: tuple[Api, truth.Truth]) -> None:
    api, _ = loaded
    empty = api.get("/api/cost-analysis/summary", query={"month": "2019-01"}).json
    assert empty["totalSpend"] == 0
    assert empty["budget"]["utilization"] == 0
    for bad in ("2026-13", "March", "2026-3"):
        reply = api.get("/api/cost-analysis/summary", query={"month": bad})
        assert reply.status == 400
        assert reply.json["details"][0]["field"] == "month"
