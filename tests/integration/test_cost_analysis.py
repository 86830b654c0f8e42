"""GET /api/cost-analysis/summary against figures computed independently from the raw events, on three
months of several agents and providers with cache tokens, a mid-month workspace price change, an unpriced
model, an agent over budget and a draft agent with no usage."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import time_machine

from tests import truth
from tests.clock import INSTANT
from tests.datasets import AGENTS, iso, make_events, months_back
from tests.harness import Api, Stream
from tests.integration.rollup_support import ingest, register_agents

NOW = INSTANT
PRICE_CHANGE = months_back(NOW, 1) + timedelta(days=14, hours=12)
PAST_MONTH = months_back(NOW, 1).strftime("%Y-%m")
THIS_MONTH = NOW.strftime("%Y-%m")


@pytest.fixture(scope="module")
def dataset() -> list[dict[str, Any]]:
    events = make_events(1500, start=months_back(NOW, 2), end=NOW - timedelta(minutes=1), seed=11)
    # Atlas ($1 budget) over budget this month whatever the day: $3 of Sonnet 4 input since the month began.
    start = months_back(NOW, 0)
    step = (NOW - start) / 21
    events += [
        {
            "id": f"atlas-over-{n}",
            "agentId": "atlas",
            "eventType": "model_invocation",
            "createdAt": (start + step * n).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "details": {"model": "claude-sonnet-4-20250514", "inputTokens": 50_000, "outputTokens": 0},
        }
        for n in range(1, 21)
    ]
    return events


@pytest.fixture(scope="module")
def loaded(shared_stack: Any, dataset: list[dict[str, Any]]) -> tuple[Api, truth.Truth]:
    api = Api("ws-acme")
    register_agents(api, AGENTS)
    # A workspace price for the main model from the middle of last month on (set before those events
    # are rolled up, as for a backfill): events before it keep the catalog price.
    reply = api.put(
        "/api/cost-analysis/pricing/claude-haiku-3.5",
        {
            "provider": "anthropic",
            "category": "economy",
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
    months = sorted(expected.active_agents)
    assert len(months) == 3
    for month in months:
        summary = api.get("/api/cost-analysis/summary", query={"month": month}).json
        total = expected.month_cost(month)
        # Agents were registered this month: earlier months count the agents active in them.
        in_month = [a for a in AGENTS if month == THIS_MONTH or a["id"] in expected.active_agents[month]]
        budget_total = sum(Decimal(a["cost_budget_monthly"]) for a in in_month)
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
        assert summary["agentCount"] == len(in_month)
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


# --- by-model, by-provider, agents, budget-alerts, recommendations, CSV -------------------------------

OVERRIDES = [truth.Override("claude-haiku-3.5", PRICE_CHANGE, ("0.5", "2.5", "0.05", "0.6"))]


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def pct(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@pytest.mark.parametrize("month", [PAST_MONTH, THIS_MONTH])
def test_by_model_rows_equal_the_independent_computation(loaded: tuple[Api, truth.Truth], month: str) -> None:
    api, expected = loaded
    body = api.get("/api/cost-analysis/by-model", query={"month": month}).json
    total = expected.month_cost(month)
    rows = {r["model"]: r for r in body["models"]}
    models = {model for (m, _, model) in expected.by_agent_model if m == month}
    assert set(rows) == models
    for model in models:
        usage = truth.Usage()
        for (m, _, name), u in expected.by_agent_model.items():
            if (m, name) == (month, model):
                usage.input_tokens += u.input_tokens
                usage.output_tokens += u.output_tokens
                usage.cache_read_tokens += u.cache_read_tokens
                usage.cache_write_tokens += u.cache_write_tokens
                usage.input_cost += u.input_cost
                usage.output_cost += u.output_cost
                usage.unpriced_tokens += u.unpriced_tokens
        row = rows[model]
        assert dec(row["inputCost"]) == truth.money(usage.input_cost), model
        assert dec(row["outputCost"]) == truth.money(usage.output_cost), model
        assert dec(row["totalCost"]) == truth.money(usage.cost), model
        assert (row["inputTokens"], row["outputTokens"]) == (usage.input_tokens, usage.output_tokens)
        assert row["cacheReadTokens"] == usage.cache_read_tokens
        assert row["totalTokens"] == usage.input_tokens + usage.output_tokens + usage.cache_read_tokens + (
            usage.cache_write_tokens
        )
        assert dec(row["pctOfTotal"]) == pct(usage.cost / total * 100)
        assert row["provider"] == truth.PRICES.get(model, ("unknown",))[0]
        assert row["unpricedTokens"] == usage.unpriced_tokens
        assert row["priced"] is (model in truth.PRICES)
    assert body["unpricedModels"] == sorted(m for m in models if m not in truth.PRICES)
    costs = [r["totalCost"] for r in body["models"]]
    assert costs == sorted(costs, reverse=True)


def test_by_provider_rows_equal_the_independent_computation(loaded: tuple[Api, truth.Truth]) -> None:
    api, expected = loaded
    body = api.get("/api/cost-analysis/by-provider", query={"month": PAST_MONTH}).json
    rows = {r["providerId"]: r for r in body["providers"]}
    for provider in ("anthropic", "openai", "google"):
        usages = [
            (model, u)
            for (m, _, model), u in expected.by_agent_model.items()
            if m == PAST_MONTH and truth.PRICES.get(model, ("",))[0] == provider
        ]
        row = rows[provider]
        assert dec(row["totalCost"]) == truth.money(sum((u.cost for _, u in usages), Decimal(0)))
        assert row["totalTokens"] == sum(
            u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens for _, u in usages
        )
        assert row["models"] == sorted({model for model, _ in usages})
    assert rows["anthropic"]["providerName"] == "Anthropic"
    assert rows["openai"]["providerName"] == "OpenAI"
    assert rows["unknown"]["totalCost"] == 0
    assert rows["unknown"]["unpricedTokens"] > 0


@pytest.mark.parametrize("month", [PAST_MONTH, THIS_MONTH])
def test_agents_rows_equal_the_independent_computation(loaded: tuple[Api, truth.Truth], month: str) -> None:
    api, expected = loaded
    # The projection depends on the instant of the request: this one stands still while it is answered.
    with time_machine.travel(datetime.now(UTC), tick=False):
        asked = datetime.now(UTC)
        body = api.get("/api/cost-analysis/agents", query={"month": month}).json
    rows = {r["id"]: r for r in body["agents"]}
    in_month = [a for a in AGENTS if month == THIS_MONTH or a["id"] in expected.active_agents[month]]
    assert set(rows) == {a["id"] for a in in_month}, (
        "the month's registry, this month's draft without usage too"
    )
    start, end = months_back(NOW, 1 if month == PAST_MONTH else 0), None
    for agent in in_month:
        row = rows[agent["id"]]
        cost = expected.agent_cost(month, agent["id"])
        budget = Decimal(agent["cost_budget_monthly"])
        assert dec(row["actualCost"]) == truth.money(cost), agent["id"]
        assert dec(row["budget"]) == budget
        assert dec(row["utilization"]) == (cost / budget).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
        assert row["overBudget"] is (cost > budget)
        assert (row["name"], row["status"], row["modelName"]) == (
            agent["name"],
            agent["status"],
            agent["model_name"],
        )
        if month == PAST_MONTH:
            assert dec(row["projectedCost"]) == truth.money(cost)
        else:
            # The run rate over the whole seconds of the month so far, to the month's end.
            elapsed = int((asked - start).total_seconds())
            total = ((start + timedelta(days=40)).replace(day=1) - start).total_seconds()
            projected = cost * Decimal(total) / Decimal(elapsed)
            assert dec(row["projectedCost"]) == truth.money(projected), agent["id"]
        assert end is None
    if month == THIS_MONTH:
        assert rows["draft-bot"]["actualCost"] == 0
    assert rows["atlas"]["overBudget"] is True
    costs = [r["actualCost"] for r in body["agents"]]
    assert costs == sorted(costs, reverse=True)


def test_budget_alerts_list_the_agents_over_budget(loaded: tuple[Api, truth.Truth]) -> None:
    api, expected = loaded
    body = api.get("/api/cost-analysis/budget-alerts", query={"month": PAST_MONTH}).json
    over = []
    for agent in AGENTS:
        cost, budget = expected.agent_cost(PAST_MONTH, agent["id"]), Decimal(agent["cost_budget_monthly"])
        if cost > budget:
            over.append((agent["id"], cost - budget, budget))
    over.sort(key=lambda o: -o[1])
    assert body["alertCount"] == len(over) >= 1
    assert [a["agentId"] for a in body["alerts"]] == [o[0] for o in over]
    for alert, (_, overage, budget) in zip(body["alerts"], over, strict=True):
        assert dec(alert["overage"]) == truth.money(overage)
        assert dec(alert["overagePct"]) == pct(overage / budget * 100)
        assert set(alert) >= {
            "agentId",
            "agentName",
            "modelName",
            "actualCost",
            "budget",
            "overage",
            "overagePct",
        }


TIER_RANK = {"economy": 0, "standard": 1, "flagship": 2}
RULE_TABLE = {
    "classification": 0,
    "extraction": 0,
    "summarization": 0,
    "writing": 1,
    "research": 1,
    "coding": 1,
    "planning": 2,
    "other": 1,
    "unspecified": 1,
}


def needed_rank(expected: truth.Truth, month: str, agent: str) -> int:
    """docs/recommendations.md's rule table, implemented again from the document."""
    tasks = {t: n for (m, a, t), n in expected.task_types.items() if (m, a) == (month, agent)}
    total = sum(tasks.values())
    counted = [t for t, n in tasks.items() if n * 10 >= total] or ["unspecified"]
    rank = max(RULE_TABLE[t] for t in counted)
    usage = expected.agent_usage(month, agent)
    failures = expected.count(month, agent, "error") + expected.failed_invocations[(month, agent)]
    if usage.invocations and usage.output_tokens / usage.invocations > 2000:
        rank = max(rank, 1)
    if usage.invocations and failures / usage.invocations > 0.05:
        rank = min(rank + 1, 2)
    return rank


def mix_cost(usage: truth.Usage, model: str) -> Decimal:
    at = NOW
    prices = truth.unit_prices(model, at, OVERRIDES)
    assert prices is not None
    inp, out, read, write = prices
    return (
        usage.input_tokens * inp
        + usage.output_tokens * out
        + usage.cache_read_tokens * read
        + usage.cache_write_tokens * write
    ) / Decimal(1_000_000)


def test_recommendations_follow_the_rule_table_and_reprice_the_token_mix(
    loaded: tuple[Api, truth.Truth],
) -> None:
    api, expected = loaded
    body = api.get("/api/cost-analysis/recommendations", query={"month": PAST_MONTH}).json
    got = {r["agentId"]: r for r in body["recommendations"]}
    want: dict[str, tuple[str, Decimal]] = {}
    for agent in [a["id"] for a in AGENTS]:
        models = {
            model: u for (m, a, model), u in expected.by_agent_model.items() if (m, a) == (PAST_MONTH, agent)
        }
        if not models:
            continue
        main, usage = max(models.items(), key=lambda kv: (kv[1].cost, kv[0]))
        if main not in truth.PRICES:
            continue
        provider = truth.PRICES[main][0]
        need = needed_rank(expected, PAST_MONTH, agent)
        current = mix_cost(usage, main)
        options = sorted(
            (mix_cost(usage, model), model)
            for model, (prov, category, *_) in truth.PRICES.items()
            if prov == provider and model != main and TIER_RANK[category] >= need
        )
        options = [o for o in options if o[0] < current]
        if options:
            want[agent] = (options[0][1], usage.cost - options[0][0])
    assert set(got) == set(want), (got.keys(), want)
    assert want, "the dataset must produce at least one recommendation"
    for agent, (model, savings) in want.items():
        row = got[agent]
        assert row["recommendedModel"] == model
        assert dec(row["estimatedMonthlySavings"]) == truth.money(savings)
        assert row["reason"]
    assert dec(body["totalPotentialSavings"]) == sum(
        (dec(r["estimatedMonthlySavings"]) for r in body["recommendations"]), Decimal(0)
    ) or abs(
        dec(body["totalPotentialSavings"]) - truth.money(sum((s for _, s in want.values()), Decimal(0)))
    ) <= Decimal("0.01")


CSV_ENDPOINTS = {
    "agents": ("agents", "id"),
    "by-model": ("models", "model"),
    "by-provider": ("providers", "providerId"),
    "recommendations": ("recommendations", "agentId"),
    "budget-alerts": ("alerts", "agentId"),
}


@pytest.mark.parametrize("endpoint", sorted(CSV_ENDPOINTS))
def test_csv_has_the_same_rows_as_json(loaded: tuple[Api, truth.Truth], endpoint: str) -> None:
    import csv
    import io

    api, _ = loaded
    key, ident = CSV_ENDPOINTS[endpoint]
    query = {"month": PAST_MONTH}
    rows = api.get(f"/api/cost-analysis/{endpoint}", query=query).json[key]
    reply = api.get(f"/api/cost-analysis/{endpoint}", query=query, headers={"Accept": "text/csv"})
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(reply.text)))
    assert [r[ident] for r in table] == [r[ident] for r in rows]
    for csv_row, json_row in zip(table, rows, strict=True):
        for name, value in json_row.items():
            if isinstance(value, float | int) and not isinstance(value, bool):
                assert Decimal(csv_row[name]) == dec(value), (name, csv_row[name], value)
            elif isinstance(value, list):
                assert csv_row[name] == ";".join(value)


@pytest.mark.parametrize("endpoint", ["summary", *sorted(CSV_ENDPOINTS), "pricing"])
def test_another_workspace_sees_nothing_on_any_endpoint(
    loaded: tuple[Api, truth.Truth], endpoint: str
) -> None:
    api, _ = loaded
    theirs = api.get(f"/api/cost-analysis/{endpoint}", query={"month": PAST_MONTH}).text
    other = Api("ws-other").get(f"/api/cost-analysis/{endpoint}", query={"month": PAST_MONTH})
    assert other.status == 200
    for agent in AGENTS:
        if f'"{agent["id"]}"' in theirs:
            assert f'"{agent["id"]}"' not in other.text
    as_csv = Api("ws-other").get(f"/api/cost-analysis/{endpoint}", headers={"Accept": "text/csv"}).text
    assert "nova" not in as_csv
