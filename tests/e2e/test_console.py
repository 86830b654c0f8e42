"""The web console in a real browser: Debian's Chromium driven by Playwright, against the local stack, signed
in through the console's own form (USER_PASSWORD_AUTH at the stack's Cognito endpoint, the moto server).

Every figure a view shows is compared with the API's answer for the same month, written the way the
console writes it; the activity view's filters and cursor pages return the API's rows, and its CSV holds
them; a viewer finds no control that changes anything, and an edit forced from a stale tab gets the API's
403 shown; an expired token leads back to the sign-in; an empty workspace says so in every view; axe-core
finds no accessibility violation at a laptop's or a phone's width, and the console works from the
keyboard. Every test's page may only reach the stack's API origin and its Cognito endpoint, and log no
script error or Content-Security-Policy violation (console_support.touring)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.datasets import agent_body
from tests.e2e.console_support import (
    Tour,
    count,
    csv_rows,
    details_of,
    percent,
    ratio_percent,
    touring,
    usd,
)
from tests.e2e.support import (
    PASSWORD,
    RunningStack,
    fresh_workspace,
    http,
    now_in_month,
    signed,
    token_claims,
    wait_for,
)
from tools.browser import LAPTOP, PHONE, VIEWS, drawn_after
from tools.browser import open_view as show
from tools.browser import sign_in as console_sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]


@pytest.fixture
def tour(browser: Any, stack: RunningStack) -> Iterator[Tour]:
    with touring(browser, stack) as page:
        yield page


# --- A workspace of the module's own, read by most tests ------------------------------------------------

AGENTS: dict[str, dict[str, Any]] = {
    "ada": agent_body(
        "Ada",
        status="online",
        category="support",
        department="Support",
        role_title="Support Agent",
        model_provider="anthropic",
        model_name="claude-sonnet-4-6",
        human_equivalent_salary=60000,
        estimated_hours_saved=40,
        cost_budget_monthly=1,
    ),
    "bix": agent_body(
        "Bix",
        status="online",
        department="Research",
        model_provider="openai",
        model_name="gpt-5.4",
        human_equivalent_salary=90000,
        estimated_hours_saved=25.5,
        cost_budget_monthly=500,
    ),
    "cyd": agent_body(
        "Cyd",
        status="paused",
        department="Support",
        model_provider="google",
        model_name="gemini-2.5-flash",
        human_equivalent_salary=30000,
    ),
    "dee": agent_body("Dee", status="draft", department="Finance", cost_budget_monthly=20),
}
TOOL_CALLS = 30  # Bix's tool calls this month: two pages of 25


def _event(event_id: str, agent: str, kind: str, at: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "agentId": agent, "eventType": kind, "createdAt": at, "details": details}


def _invocation(model: str, tokens_in: int, tokens_out: int) -> dict[str, Any]:
    return {"model": model, "inputTokens": tokens_in, "outputTokens": tokens_out, "durationMs": 1200}


def _previous(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


@dataclass
class Fleet:
    workspace: str
    admin: str  # username
    admin_token: str
    viewer: str
    viewer_token: str
    month: str  # the stack's current month
    previous: str
    events: int


@pytest.fixture(scope="module")
def fleet(stack: RunningStack) -> Fleet:
    """Four agents (over budget, within budget, paused without budget, draft), events this month and last."""
    workspace = fresh_workspace()
    admin, admin_token = stack.new_login(workspace, "admin")
    viewer, viewer_token = stack.new_login(workspace, "viewer")
    for agent_id, body in AGENTS.items():
        assert http("PUT", f"{stack.api}/api/agents/{agent_id}", token=admin_token, body=body).status == 200
    month = stack.get("/api/cost-analysis/summary", admin_token).body["month"]
    previous = _previous(month)
    now, before = now_in_month(), f"{previous}-01T12:00:00Z"
    events = [
        _event(
            f"ada-inv-{n}", "ada", "model_invocation", now, _invocation("claude-sonnet-4-6", 200_000, 1_500)
        )
        for n in range(3)
    ]
    events += [
        _event(f"ada-task-{n}", "ada", "task_completed", now, {"taskType": "classification"})
        for n in range(2)
    ]
    events += [
        _event(f"bix-inv-{n}", "bix", "model_invocation", now, _invocation("gpt-5.4", 50_000, 5_000))
        for n in range(2)
    ]
    events += [
        _event(
            f"bix-tool-{n:02d}",
            "bix",
            "tool_call",
            now,
            {"tool": "search", "success": n % 7 != 0, "durationMs": 40 + n},
        )
        for n in range(TOOL_CALLS)
    ]
    events += [
        _event("bix-err-1", "bix", "error", now, {"code": "timeout", "message": "search timed out"}),
        _event("cyd-inv-1", "cyd", "model_invocation", now, _invocation("gemini-2.5-flash", 100_000, 10_000)),
        _event(
            "ada-old-1", "ada", "model_invocation", before, _invocation("claude-sonnet-4-6", 100_000, 1_000)
        ),
        _event("bix-old-1", "bix", "model_invocation", before, _invocation("gpt-5.4", 40_000, 4_000)),
        _event("bix-old-2", "bix", "session_start", before, {"trigger": "cron"}),
    ]
    for offset in range(0, len(events), 100):
        posted = http(
            "POST",
            f"{stack.api}/api/activity",
            token=admin_token,
            body={"events": events[offset : offset + 100]},
        )
        assert posted.status == 200, posted.body
        assert posted.body["rejectedCount"] == 0, posted.body
    # The log's total counts from the rollups' counters, written with every other rollup of an event.
    rolled_up = wait_for(
        lambda: stack.get("/api/activity?limit=1", admin_token).body["pagination"]["total"] == len(events),
        timeout=30,
    )
    assert rolled_up, "the events were not rolled up"
    return Fleet(workspace, admin, admin_token, viewer, viewer_token, month, previous, len(events))


def _api(stack: RunningStack, token: str, path: str, **query: str) -> Any:
    reply = stack.get(path + (f"?{urlencode(query)}" if query else ""), token)
    assert reply.status == 200, (path, reply.body)
    return reply.body


# --- Overview ------------------------------------------------------------------------------------------


def _overview_expected(stack: RunningStack, token: str, month: str) -> dict[str, Any]:
    summary = _api(stack, token, "/api/cost-analysis/summary", month=month)
    providers = _api(stack, token, "/api/cost-analysis/by-provider", month=month)["providers"]
    models = _api(stack, token, "/api/cost-analysis/by-model", month=month)["models"]
    agents = _api(stack, token, "/api/cost-analysis/agents", month=month)["agents"]
    projected = sum((Decimal(str(a["projectedCost"])) for a in agents), Decimal(0))
    return {
        "figures": {
            "totalSpend": usd(summary["totalSpend"]),
            "budgetTotal": usd(summary["budget"]["total"]),
            "budgetUtilization": ratio_percent(summary["budget"]["utilization"]),
            "projectedCost": usd(projected),
            "agentCount": count(summary["agentCount"]),
            "providerCount": count(summary["providerCount"]),
        },
        "providers": [
            (p["providerId"], usd(p["totalCost"]), f"{count(p['totalTokens'])} tokens") for p in providers
        ],
        "models": [(m["model"], usd(m["totalCost"]), f"{percent(m['pctOfTotal'])} of spend") for m in models],
        "agents": [
            {
                "key": a["id"],
                "actualCost": usd(a["actualCost"]),
                "budget": usd(a["budget"]) if Decimal(str(a["budget"])) > 0 else "none",
                "utilization": ratio_percent(a["utilization"]),
                "projectedCost": usd(a["projectedCost"]),
                "badges": [
                    *(["Over budget"] if a["overBudget"] else []),
                    *(["Forecast over budget"] if a["forecastOverBudget"] else []),
                ],
            }
            for a in agents
        ],
        "projected": projected,
        "actual": sorted((Decimal(str(a["actualCost"])) for a in agents), reverse=True),
    }


def _money(shown: str) -> Decimal:
    return Decimal(shown.replace("$", "").replace(",", ""))


def _projections(overview: dict[str, Any]) -> list[Decimal]:
    """The overview's projected costs: the month's, then each agent's, in the order shown."""
    return [_money(overview["figures"]["projectedCost"])] + [
        _money(row["projectedCost"]) for row in overview["agents"]
    ]


def _unprojected(overview: dict[str, Any]) -> dict[str, Any]:
    """The overview without what depends on the instant within the month: projections and their badge."""
    figures = {k: v for k, v in overview["figures"].items() if k != "projectedCost"}
    agents = [
        {
            **{k: v for k, v in row.items() if k not in ("projectedCost", "badges")},
            "badges": [b for b in row["badges"] if b != "Forecast over budget"],
        }
        for row in overview["agents"]
    ]
    return {**overview, "figures": figures, "agents": agents}


def _overview_shown(tour: Tour) -> dict[str, Any]:
    rows = tour.table("Agents by month-to-date cost")
    return {
        "figures": tour.figures(),
        "providers": tour.chart_rows("provider"),
        "models": tour.chart_rows("model"),
        "agents": [
            {
                "key": row["key"],
                "actualCost": row["cells"]["actualCost"],
                "budget": row["cells"]["budget"],
                "utilization": row["cells"]["utilization"],
                "projectedCost": row["cells"]["projectedCost"],
                "badges": row["badges"],
            }
            for row in rows
        ],
    }


def test_the_overview_shows_the_api_s_figures_for_this_month_and_a_chosen_past_month(
    tour: Tour, stack: RunningStack, fleet: Fleet
) -> None:
    # Given the admin, signed in through the console's form
    early = _overview_expected(stack, fleet.admin_token, fleet.month)
    console_sign_in(tour.page, tour.console_url, fleet.admin, PASSWORD)
    assert tour.page.locator("#who-name").inner_text().endswith(f"{fleet.workspace} · admin")

    # Then the overview of the current month shows exactly the API's figures, agents by cost; the
    # projections, which fall as the month goes by (fast in its first minutes), lie between the API's
    # answers just before and just after the console drew them
    shown = _overview_shown(tour)
    expected = _overview_expected(stack, fleet.admin_token, fleet.month)
    assert _unprojected(shown) == _unprojected({key: expected[key] for key in shown})
    bounds = zip(_projections(early), _projections(shown), _projections(expected), strict=True)
    for before, now, after in bounds:
        assert after <= now <= before, (before, now, after)
    assert [row["key"] for row in shown["agents"]][:3] == ["ada", "bix", "cyd"]
    assert "Over budget" in shown["agents"][0]["badges"]
    assert tour.page.get_by_label("Month (UTC)").input_value() == fleet.month

    # When the previous month is chosen in the month picker
    tour.page.get_by_label("Month (UTC)").fill(fleet.previous)
    drawn_after(tour.page, lambda: tour.page.get_by_role("button", name="Show", exact=True).click())

    # Then the view is that month's, with the API's figures for it
    assert tour.page.locator("#view h1").inner_text().endswith(fleet.previous[:4])
    before = _overview_expected(stack, fleet.admin_token, fleet.previous)
    shown_before = _overview_shown(tour)
    assert shown_before == {key: before[key] for key in shown_before}
    assert shown_before["figures"] != shown["figures"]
    assert shown_before["figures"]["projectedCost"] == shown_before["figures"]["totalSpend"]  # a past month


def test_budgets_recommendations_and_workforce_show_the_api_s_figures(
    tour: Tour, stack: RunningStack, fleet: Fleet
) -> None:
    console_sign_in(tour.page, tour.console_url, fleet.viewer, PASSWORD)
    token = fleet.viewer_token

    show(tour.page, "budgets")
    alerts = _api(stack, token, "/api/cost-analysis/budget-alerts")
    settings = _api(stack, token, "/api/cost-analysis/budget-alerts/settings")
    assert tour.figures()["alertCount"] == count(alerts["alertCount"])
    assert [
        (
            r["key"],
            r["cells"]["actualCost"],
            r["cells"]["budget"],
            r["cells"]["overage"],
            r["cells"]["overagePct"],
        )
        for r in tour.table("Agents over their budget")
    ] == [
        (a["agentId"], usd(a["actualCost"]), usd(a["budget"]), usd(a["overage"]), percent(a["overagePct"]))
        for a in alerts["alerts"]
    ]
    assert alerts["alertCount"] >= 1
    shown_settings = tour.page.eval_on_selector_all(
        "#view dd[data-figure]", "els => els.map(e => e.textContent.trim())"
    )
    assert ", ".join(f"{t}%" for t in settings["thresholds"]) in shown_settings
    assert ("on" if settings["forecast"] else "off") in shown_settings
    assert "does not list the notices already sent" in tour.page.locator("#view").inner_text()

    show(tour.page, "recommendations")
    recommendations = _api(stack, token, "/api/cost-analysis/recommendations")
    assert recommendations["recommendations"], "the fleet's data should give a recommendation"
    assert tour.figures()["totalPotentialSavings"] == usd(recommendations["totalPotentialSavings"])
    assert [
        (r["key"], r["cells"]["estimatedMonthlySavings"], r["cells"]["savingsPct"], r["cells"]["reason"])
        for r in tour.table("Recommendations")
    ] == [
        (r["agentId"], usd(r["estimatedMonthlySavings"]), percent(r["savingsPct"]), r["reason"])
        for r in recommendations["recommendations"]
    ]

    early = _api(stack, token, "/api/agents/workforce/summary")["projected_roi_percent"]
    show(tour.page, "workforce", "months=3")
    summary = _api(stack, token, "/api/agents/workforce/summary")
    agents = _api(stack, token, "/api/agents/workforce/agents")
    trends = _api(stack, token, "/api/agents/workforce/trends", months="3")
    figures = tour.figures()
    for key in ("total_agent_cost_monthly", "monthly_human_equivalent", "monthly_savings"):
        assert figures[key] == usd(summary[key]), key
    assert figures["roi_percent"] == percent(summary["roi_percent"])
    # A run rate moves with the clock: the page's lies between the API's before and after it was drawn.
    late = summary["projected_roi_percent"]
    if late is None:
        assert figures["projected_roi_percent"] == "—"
    else:
        shown = Decimal(figures["projected_roi_percent"].rstrip("%").replace(",", ""))
        assert Decimal(str(early)) <= shown <= Decimal(str(late)), (early, shown, late)
    assert figures["events_while_paused"] == count(summary["events_while_paused"]) == "1"  # Cyd's invocation
    assert figures["total_agents"] == count(summary["total_agents"])
    assert figures["total_tasks_completed"] == count(summary["total_tasks_completed"])
    assert [
        (r["key"], r["cells"]["monthly_savings"], r["cells"]["roi_percent"])
        for r in tour.table("Departments")
    ] == [
        (d["department"], usd(d["monthly_savings"]), percent(d["roi_percent"]))
        for d in summary["departments"]
    ]
    rows = tour.table("Agents' ROI")
    assert [(r["key"], r["cells"]["actual_cost_monthly"], r["cells"]["tasks_completed"]) for r in rows] == [
        (a["id"], usd(a["actual_cost_monthly"]), count(a["tasks_completed"])) for a in agents
    ]
    # The paused agent that ran is flagged on its row, and only it.
    assert {r["key"]: r["badges"] for r in rows if r["badges"]} == {"cyd": ["1 event while paused"]}
    tour.page.locator("#view details.data").evaluate("details => { details.open = true; }")
    assert [
        (r["key"], r["cells"]["total_cost"], r["cells"]["invocations"]) for r in tour.table("Trends by month")
    ] == [(t["period"], usd(t["total_cost"]), count(t["invocations"])) for t in trends["trends"]]
    assert len(trends["trends"]) == 3
    assert tour.page.locator("#view figure svg[role=img]").count() == 1


# --- Activity -----------------------------------------------------------------------------------------------


def test_the_activity_filters_and_cursor_pages_return_the_api_s_rows_and_the_csv_holds_them(
    tour: Tour, stack: RunningStack, fleet: Fleet
) -> None:
    token = fleet.admin_token
    console_sign_in(tour.page, tour.console_url, fleet.admin, PASSWORD)
    show(tour.page, "activity")
    newest = _api(stack, token, "/api/activity", limit="50")
    assert [r["key"] for r in tour.table("Events, newest first")] == [e["id"] for e in newest["data"]]

    # When an agent, an event type and a page size of 25 are chosen
    page = tour.page
    page.get_by_label("Agent", exact=True).select_option("bix")
    page.get_by_label("Event type").select_option("tool_call")
    page.get_by_label("Page size").select_option("25")
    drawn_after(page, lambda: page.get_by_role("button", name="Apply the filters").click())

    # Then the first page is the API's, and the next one is the API's by its cursor
    first = _api(stack, token, "/api/activity", agentId="bix", eventType="tool_call", limit="25")
    assert first["pagination"]["total"] == TOOL_CALLS
    assert [r["key"] for r in tour.table("Events, newest first")] == [e["id"] for e in first["data"]]
    assert page.locator("#view [data-figure=total]").inner_text() == f"Events 1–25 of {TOOL_CALLS}"
    second = _api(
        stack,
        token,
        "/api/activity",
        agentId="bix",
        eventType="tool_call",
        limit="25",
        nextToken=first["pagination"]["nextToken"],
    )
    page.get_by_role("button", name="Next page").click()
    page.get_by_text(f"Events 26–{TOOL_CALLS} of {TOOL_CALLS}").wait_for()
    assert [r["key"] for r in tour.table("Events, newest first, page 2")] == [e["id"] for e in second["data"]]
    assert page.get_by_role("button", name="Next page").is_disabled()
    page.get_by_role("button", name="Previous page").click()
    page.get_by_text(f"Events 1–25 of {TOOL_CALLS}").wait_for()

    # And the CSV download holds every row of the filter, as the API has them
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = csv_rows(download.value.path().read_text(encoding="utf-8"))
    every = _api(stack, token, "/api/activity", agentId="bix", eventType="tool_call", limit="500")["data"]
    assert [r["id"] for r in rows] == [e["id"] for e in every]
    assert [(r["agentId"], r["eventType"], r["createdAt"], details_of(r["details"])) for r in rows] == [
        (e["agentId"], e["eventType"], e["createdAt"], e["details"]) for e in every
    ]
    assert download.value.suggested_filename == "activity_bix_tool_call.csv"

    # When a window of the previous month is chosen instead
    drawn_after(page, lambda: page.get_by_role("button", name="Clear").click())
    assert page.get_by_label("Event type").input_value() == ""
    show(
        tour.page,
        "activity",
        urlencode({"from": f"{fleet.previous}-01T00:00:00Z", "to": f"{fleet.previous}-28T23:59:59Z"}),
    )
    window = _api(
        stack,
        token,
        "/api/activity",
        **{"from": f"{fleet.previous}-01T00:00:00Z", "to": f"{fleet.previous}-28T23:59:59Z"},
    )
    assert [r["key"] for r in tour.table("Events, newest first")] == [e["id"] for e in window["data"]]
    assert sorted(e["id"] for e in window["data"]) == ["ada-old-1", "bix-old-1", "bix-old-2"]
    # (Chromium writes a time without its zero seconds)
    assert page.get_by_label("From (UTC)").input_value() == f"{fleet.previous}-01T00:00"


def test_an_api_error_is_shown_with_the_api_s_message(tour: Tour, stack: RunningStack, fleet: Fleet) -> None:
    console_sign_in(tour.page, tour.console_url, fleet.admin, PASSWORD)
    window = {"from": f"{fleet.month}-02T00:00:00Z", "to": f"{fleet.month}-01T00:00:00Z"}
    show(tour.page, "activity", urlencode(window))
    refused = stack.get(f"/api/activity?{urlencode({**window, 'limit': 50})}", fleet.admin_token)
    assert refused.status == 400
    assert tour.problems() == [
        f"400 {refused.body['error']}: {refused.body['message']}" + _details(refused.body)
    ]


def _details(body: dict[str, Any]) -> str:
    parts = [": ".join(str(d[k]) for k in ("field", "problem") if d.get(k)) for d in body.get("details", [])]
    parts = [p for p in parts if p]
    return f" ({'; '.join(parts)})" if parts else ""


# --- Who may change what ------------------------------------------------------------------------------------


def test_a_viewer_sees_no_edit_control_and_a_forced_edit_gets_the_api_s_403(
    browser: Any, stack: RunningStack, fleet: Fleet
) -> None:
    # Given the viewer, in every view: nothing that writes
    with touring(browser, stack) as viewer:
        console_sign_in(viewer.page, viewer.console_url, fleet.viewer, PASSWORD)
        assert viewer.page.locator('#nav a[data-view="admin"]').inner_text() == "Agents and prices"
        for view in VIEWS:
            show(viewer.page, view)
            assert viewer.page.locator("#view form[data-write]").count() == 0, view
            assert viewer.page.locator("#view table input, #view table button").count() == 0, view
            assert viewer.problems() == [], view
        assert [r["key"] for r in viewer.table("The agent registry")] == sorted(AGENTS)

    # When an admin's tab, whose token is then a viewer's (stale or tampered), saves a budget
    with touring(browser, stack) as admin:
        console_sign_in(admin.page, admin.console_url, fleet.admin, PASSWORD)
        show(admin.page, "admin")
        form = admin.page.locator('form[data-agent="bix"]')
        assert form.count() == 1
        form.get_by_role("spinbutton").fill("777")
        admin.set_token(fleet.viewer_token)
        form.get_by_role("button").click()
        refusal = form.locator(".problem")
        refusal.wait_for()

        # Then the console shows the API's own 403, and the budget did not change
        direct = http("PUT", f"{stack.api}/api/agents/bix", token=fleet.viewer_token, body=AGENTS["bix"])
        assert direct.status == 403
        assert refusal.inner_text() == f"403 forbidden: {direct.body['message']}"
        assert _api(stack, fleet.admin_token, "/api/agents/bix")["cost_budget_monthly"] == 500


def test_an_admin_edits_alert_settings_registers_an_agent_edits_its_budget_and_sets_a_price(
    tour: Tour, stack: RunningStack
) -> None:
    workspace = fresh_workspace()
    admin, token = stack.new_login(workspace, "admin")
    page = tour.page
    console_sign_in(page, tour.console_url, admin, PASSWORD)

    show(page, "budgets")
    page.get_by_label("Thresholds (% of the budget)").fill("50, 90")
    page.get_by_label("Alert when the month-end forecast exceeds the budget").uncheck()
    page.get_by_role("button", name="Save the alert settings").click()
    page.get_by_text("Saved: thresholds 50, 90%").wait_for()
    assert _api(stack, token, "/api/cost-analysis/budget-alerts/settings") == {
        "thresholds": [50, 90],
        "forecast": False,
    }
    assert page.locator("#view dd[data-figure=thresholds]").inner_text() == "50%, 90%"

    show(page, "admin")
    registration = page.locator("form[data-write=agent-register]")
    registration.get_by_label("Agent id").fill("eve")
    registration.get_by_label("Name").fill("Eve")
    registration.get_by_label("Status").select_option("offline")
    registration.get_by_label("Department").fill("Legal")
    registration.get_by_label("Model", exact=True).fill("gpt-5.4-mini")
    registration.get_by_label("Human-equivalent salary (USD a year)").fill("72000")
    registration.get_by_label("Monthly budget (USD)").fill("30")
    registration.get_by_role("button", name="Register the agent").click()
    page.get_by_text("Registered Eve (eve).").wait_for()
    registered = _api(stack, token, "/api/agents/eve")
    assert (registered["name"], registered["status"], registered["department"], registered["model_name"]) == (
        "Eve",
        "offline",
        "Legal",
        "gpt-5.4-mini",
    )
    assert (registered["human_equivalent_salary"], registered["cost_budget_monthly"]) == (72000, 30)

    budget = page.locator('form[data-agent="eve"]')
    budget.get_by_role("spinbutton").fill("12.5")
    budget.get_by_role("button").click()
    budget.get_by_text("Saved: $12.50").wait_for()
    edited = _api(stack, token, "/api/agents/eve")
    assert edited["cost_budget_monthly"] == Decimal("12.5")
    assert {k: v for k, v in edited.items() if k not in ("cost_budget_monthly", "updated_at")} == {
        k: v for k, v in registered.items() if k not in ("cost_budget_monthly", "updated_at")
    }

    prices = page.locator("form[data-write=price]")
    prices.get_by_label("Model id").fill("acme-small")
    prices.get_by_label("Provider").fill("acme")
    prices.get_by_label("Tier").select_option("economy")
    prices.get_by_label("Input, USD per million tokens").fill("0.4")
    prices.get_by_label("Output, USD per million tokens").fill("1.6")
    prices.get_by_role("button", name="Set the price").click()
    page.get_by_text("acme-small: $0.40 input").wait_for()
    priced = {m["id"]: m for m in _api(stack, token, "/api/cost-analysis/pricing")["models"]}["acme-small"]
    assert (priced["provider"], priced["category"], priced["source"]) == ("acme", "economy", "workspace")
    assert (priced["inputPricePerMillion"], priced["outputPricePerMillion"]) == (
        Decimal("0.4"),
        Decimal("1.6"),
    )
    page.locator('#view tr[data-key="acme-small"]').wait_for()  # the list is read again after the change
    assert "acme-small" in [r["key"] for r in tour.table("Prices this workspace pays now")]


# --- Sessions, empty workspaces -----------------------------------------------------------------------------


def test_an_expired_token_goes_back_to_the_sign_in_and_then_to_the_same_view(
    tour: Tour, stack: RunningStack, fleet: Fleet
) -> None:
    page = tour.page
    console_sign_in(page, tour.console_url, fleet.admin, PASSWORD)
    show(page, "workforce")
    expired = signed({**token_claims(fleet.admin_token), "exp": int(time.time()) - 60})
    tour.set_token(expired)

    page.evaluate("() => { location.hash = '#/activity'; }")
    page.locator("#sign-in").wait_for()
    assert "expired" in page.locator("#sign-in-problem").inner_text()
    assert page.locator("#nav").is_hidden()

    drawn_after(
        page,
        lambda: (
            page.get_by_label("User name or e-mail").fill(fleet.admin),
            page.get_by_label("Password", exact=True).fill(PASSWORD),
            page.get_by_role("button", name="Sign in").click(),
        ),
    )
    assert page.locator("#view .view").get_attribute("data-view") == "activity"


def test_refused_sign_ins_say_why(tour: Tour, stack: RunningStack, fleet: Fleet) -> None:
    page = tour.page
    page.goto(tour.console_url)
    page.get_by_label("User name or e-mail").fill(fleet.admin)
    page.get_by_label("Password", exact=True).fill("Not-The-Password-1")
    page.get_by_role("button", name="Sign in").click()
    page.locator("#sign-in-problem:not(:empty)").wait_for()
    assert (
        page.locator("#sign-in-problem").inner_text().startswith("Sign-in refused (NotAuthorizedException): ")
    )

    # An ingest user signs in, and is told the API shows it no figures
    ingest, _ = stack.new_login(fleet.workspace, "ingest")
    console_sign_in(page, tour.console_url, ingest, PASSWORD)
    assert "neither the admin nor the viewer group" in page.locator("#view").inner_text()
    assert page.locator("#nav").is_hidden()


def test_a_user_with_a_temporary_password_chooses_a_new_one_and_signs_in(
    tour: Tour, stack: RunningStack
) -> None:
    cognito, pool = stack.client("cognito-idp"), stack.outputs["UserPoolId"]
    username = f"new-{fresh_workspace()}@example.com"
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=username,
        TemporaryPassword="Temporary-Pass-2026",
        UserAttributes=[{"Name": "custom:workspace_id", "Value": fresh_workspace()}],
        MessageAction="SUPPRESS",
    )
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName="viewer")
    page = tour.page
    page.goto(tour.console_url)
    page.get_by_label("User name or e-mail").fill(username)
    page.get_by_label("Password", exact=True).fill("Temporary-Pass-2026")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("New password").fill("Chosen-Password-2026")
    drawn_after(page, lambda: page.get_by_role("button", name="Set the password and sign in").click())
    assert page.locator("#view .view").get_attribute("data-view") == "overview"
    assert stack.sign_in(username, "Chosen-Password-2026")


def test_an_empty_workspace_says_so_in_every_view(tour: Tour, stack: RunningStack) -> None:
    admin, _ = stack.new_login(fresh_workspace(), "admin")
    console_sign_in(tour.page, tour.console_url, admin, PASSWORD)
    for view in VIEWS:
        show(tour.page, view)
        assert tour.problems() == [], view
        empty = tour.page.locator("#view .empty")
        assert empty.count() >= 1, f"{view} does not say the workspace is empty"
    show(tour.page, "overview")
    assert tour.figures()["totalSpend"] == "$0.00"


# --- Origins, accessibility, keyboard -----------------------------------------------------------------------


def test_no_request_leaves_the_stack_s_origins_and_the_page_has_a_strict_policy(
    tour: Tour, stack: RunningStack, fleet: Fleet
) -> None:
    reply = tour.page.goto(tour.console_url)
    policy = reply.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == f"'self' {stack.outputs['AwsEndpointUrl']}"
    assert "unsafe" not in policy

    console_sign_in(tour.page, tour.console_url, fleet.admin, PASSWORD)
    for view in VIEWS:
        show(tour.page, view)
    origins = {request.url.split("/", 3)[2] for request in tour.requests}
    assert origins == {stack.api.split("/")[2], stack.outputs["AwsEndpointUrl"].split("/")[2]}
    cognito = [r for r in tour.requests if stack.outputs["AwsEndpointUrl"] in r.url]
    assert [(r.method, r.headers.get("x-amz-target")) for r in cognito] == [
        ("POST", "AWSCognitoIdentityProviderService.InitiateAuth")
    ]
    api_calls = {r.url.split("?")[0].removeprefix(stack.api) for r in tour.requests if "/api/" in r.url}
    assert api_calls
    assert all(path.startswith("/api/") for path in api_calls)
    assert all(
        r.headers.get("authorization", "").startswith("Bearer ") for r in tour.requests if "/api/" in r.url
    )
    assert tour.foreign_requests() == []


def _axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    options = {
        "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}
    }
    results = Axe().run(page, options=options)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
    ]


@pytest.mark.parametrize("width", ["laptop", "phone"])
def test_axe_finds_no_violation_in_any_view_and_nothing_overflows(
    browser: Any, stack: RunningStack, fleet: Fleet, width: str
) -> None:
    with touring(browser, stack, LAPTOP if width == "laptop" else PHONE) as tour:
        page = tour.page
        page.goto(tour.console_url)
        page.get_by_label("User name or e-mail").wait_for()
        found = {"sign-in": _axe_violations(page)}
        console_sign_in(page, tour.console_url, fleet.admin, PASSWORD)
        for view in VIEWS:
            show(page, view)
            page.locator("#view details").evaluate_all("els => els.forEach(e => { e.open = true; })")
            found[view] = _axe_violations(page)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{view} is {overflow} px wider than the {width} viewport"
        assert {view: problems for view, problems in found.items() if problems} == {}


def test_the_console_works_from_the_keyboard(tour: Tour, fleet: Fleet) -> None:
    page = tour.page
    page.goto(tour.console_url)
    page.get_by_label("User name or e-mail").wait_for()
    # The sign-in form has the focus: type, Tab, type, Enter
    assert page.evaluate("() => document.activeElement.id") == "username"
    page.keyboard.type(fleet.admin)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    drawn_after(page, lambda: page.keyboard.press("Enter"))
    assert page.evaluate("() => document.activeElement.tagName") == "H1"

    # The first Tab stop is the skip link; Tab reaches each view's link; Enter opens it, focusing its heading
    page.reload()  # the session stays (this tab's), nothing has the focus
    page.locator("#view .view h1").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "skip-link"
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.dataset.view") == "workforce":
            break
    else:
        pytest.fail("Tab never reached the Workforce link")
    drawn_after(page, lambda: page.keyboard.press("Enter"))
    assert page.evaluate("() => document.activeElement.textContent").startswith("Workforce, ")
    assert page.locator('#nav a[data-view="workforce"]').get_attribute("aria-current") == "page"
