"""The CLI's output: table cells (money with 2 decimals, half-up), aligned tables, CSV, and the report
views built from the API's documented shapes."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from costmetrics_cli.render import Column, cell, csv_document, csv_table, flatten, table
from costmetrics_cli.reports import REPORTS

# The reference's example summary (seed/cost-metrics-api.txt), with the month the service adds.
SUMMARY = json.loads(
    """{"tokenCost": {"total": 142.80, "byProvider": [{"provider": "anthropic", "cost": 98.40},
    {"provider": "openai", "cost": 44.40}], "byModel": [{"model": "claude-haiku-3.5", "cost": 62.10},
    {"model": "claude-sonnet-4-20250514", "cost": 36.30}]}, "totalSpend": 142.80,
    "budget": {"total": 500.00, "utilization": 0.286}, "agentCount": 6, "providerCount": 2,
    "month": "2026-03"}""",
    parse_float=Decimal,
)


@pytest.mark.parametrize(
    ("value", "fmt", "shown"),
    [
        (Decimal("1234.5"), "money", "1,234.50"),
        (Decimal("0.125"), "money", "0.13"),  # half-up, as the API rounds
        (7, "money", "7.00"),
        (Decimal("1.1545"), "money3", "1.155"),
        (10198698, "int", "10,198,698"),
        (Decimal("35.94"), "pct", "35.9%"),
        (Decimal("101389.25"), "pct", "101,389.3%"),
        (Decimal("0.286"), "ratio", "28.6%"),
        (Decimal("1.58"), "ratio", "158.0%"),
        (Decimal("0.8"), "price", "0.80"),
        (Decimal("0.075"), "price", "0.075"),
        (True, "bool", "yes"),
        (False, "bool", "no"),
        (["a", "b"], "list", "a, b"),
        (None, "money", ""),
        ("n/a", "money", "n/a"),
    ],
)
def test_cells_show_numbers_as_people_read_them(value: object, fmt: str, shown: str) -> None:
    assert cell(value, fmt) == shown


def test_a_table_aligns_columns_and_right_aligns_numbers() -> None:
    rows = [{"name": "Nova", "cost": Decimal("3.5")}, {"name": "Atlas-Long", "cost": Decimal("1234.567")}]
    text = table(rows, [Column("name", "agent"), Column("cost", "cost", "money")])
    assert text.splitlines() == [
        "AGENT           COST",
        "Nova            3.50",
        "Atlas-Long  1,234.57",
    ]
    assert table([], [Column("name", "agent")], empty="(no agents)") == "(no agents)"


def test_a_missing_field_is_an_empty_cell_not_an_error() -> None:
    assert table([{"a": 1}], [Column("a", "a", "int"), Column("b", "b", "money")]).splitlines()[1] == "1"


def test_csv_has_the_json_field_names_and_keeps_spreadsheet_formulas_as_text() -> None:
    rows = [{"id": "=HYPERLINK()", "cost": -5, "over": True, "models": ["a", "b"], "note": None}]
    parsed = list(csv.reader(io.StringIO(csv_table(rows))))
    assert parsed == [["id", "cost", "over", "models", "note"], ["'=HYPERLINK()", "-5", "true", "a;b", ""]]


def test_a_summary_flattens_to_field_value_rows_keyed_by_name() -> None:
    pairs = dict(flatten(SUMMARY))
    assert pairs["tokenCost.byProvider.anthropic"] == Decimal("98.40")
    assert pairs["tokenCost.byModel.claude-sonnet-4-20250514"] == Decimal("36.30")
    assert pairs["budget.utilization"] == Decimal("0.286")
    rows = list(csv.reader(io.StringIO(csv_document(SUMMARY))))
    assert rows[0] == ["field", "value"]
    assert ["totalSpend", "142.80"] in rows


def test_a_list_of_objects_with_several_fields_flattens_per_field() -> None:
    body = {"departments": [{"department": "Ops", "agent_count": 3, "monthly_savings": 1}]}
    assert flatten(body) == [("departments.Ops.agent_count", 3), ("departments.Ops.monthly_savings", 1)]


def test_the_summary_table_shows_the_totals_and_both_breakdowns() -> None:
    lines = REPORTS["summary"].table(SUMMARY).splitlines()
    assert lines[:6] == [
        "Month        2026-03",
        "Total spend  142.80",
        "Budget       500.00",
        "Utilization  28.6%",
        "Agents       6",
        "Providers    2",
    ]
    assert "anthropic  98.40" in lines
    assert "claude-haiku-3.5          62.10" in lines


def test_the_budget_alert_table_says_how_many_agents_are_over() -> None:
    body = {
        "month": "2026-03",
        "alertCount": 1,
        "alerts": [
            {
                "agentId": "atlas",
                "agentName": "Atlas",
                "modelName": "claude-sonnet-4-20250514",
                "actualCost": Decimal("124.8"),
                "budget": Decimal("100"),
                "overage": Decimal("24.8"),
                "overagePct": Decimal("24.8"),
            }
        ],
    }
    text = REPORTS["budget-alerts"].table(body)
    assert text.startswith("1 agent over budget in 2026-03")
    assert text.splitlines()[-1].split() == [
        "atlas",
        "Atlas",
        "claude-sonnet-4-20250514",
        "124.80",
        "100.00",
        "24.80",
        "24.8%",
    ]


def test_every_report_renders_an_empty_answer() -> None:
    for report in REPORTS.values():
        assert isinstance(report.table([] if report.rows_key == "" else {}), str)


def test_workforce_agents_csv_rows_come_from_the_bare_array() -> None:
    body = [{"id": "nova", "cost_per_task": Decimal("0.091")}]
    assert REPORTS["workforce-agents"].csv_rows(body) == body
    assert REPORTS["summary"].csv_rows(SUMMARY) is None


@pytest.mark.parametrize(
    "cell", ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]
)
def test_csv_quotes_every_formula_prefix_the_api_quotes(cell: str) -> None:
    parsed = list(csv.reader(io.StringIO(csv_table([{"name": cell}]))))
    assert parsed[1] == ["'" + cell]


def test_the_workforce_view_says_why_there_is_no_projection_yet() -> None:
    early = {
        "month": "2026-12",
        "elapsed_fraction": Decimal("0.0457"),
        "projection_status": "too_early",
        "projection_ready_at": "2026-12-04T00:00:00Z",
        "projected_cost_monthly": None,
        "projected_savings": None,
        "projected_roi_percent": None,
        "events_while_paused": 75,
    }
    text = REPORTS["workforce"].table(early)
    assert "none yet (too_early, from 2026-12-04T00:00:00Z)" in text
    assert "4.6%" in text
    later = {**early, "projection_status": "run_rate", "projected_cost_monthly": Decimal("310.5")}
    assert "310.50" in REPORTS["workforce"].table(later)
