"""The report commands: which endpoint each reads, and how its answer looks as a table or as CSV."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from costmetrics_cli.render import Column, cell, key_values, section, table

Rows = list[dict[str, Any]]


def _rows(body: Any, key: str) -> Rows:
    rows = body.get(key) if isinstance(body, dict) else body
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _unpriced(body: dict[str, Any]) -> str:
    tokens, models = body.get("unpricedTokens") or 0, body.get("unpricedModels") or []
    if not tokens:
        return ""
    return f"\n\n{cell(tokens, 'int')} tokens of models without a price are not counted: {', '.join(models)}"


def _summary(body: dict[str, Any]) -> str:
    budget = body.get("budget") or {}
    token_cost = body.get("tokenCost") or {}
    head = key_values(
        [
            ("Month", cell(body.get("month"))),
            ("Total spend", cell(body.get("totalSpend"), "money")),
            ("Budget", cell(budget.get("total"), "money")),
            ("Utilization", cell(budget.get("utilization"), "ratio")),
            ("Agents", cell(body.get("agentCount"), "int")),
            ("Providers", cell(body.get("providerCount"), "int")),
        ]
    )
    providers = table(
        _rows(token_cost, "byProvider"), [Column("provider", "provider"), Column("cost", "cost", "money")]
    )
    models = table(_rows(token_cost, "byModel"), [Column("model", "model"), Column("cost", "cost", "money")])
    return f"{head}\n\n{section('By provider', providers)}\n\n{section('By model', models)}{_unpriced(body)}"


def _month_line(body: dict[str, Any]) -> str:
    return f"Month {body['month']}\n\n" if body.get("month") else ""


AGENT_COLUMNS = [
    Column("id", "agent"),
    Column("name", "name"),
    Column("status", "status"),
    Column("modelName", "model"),
    Column("actualCost", "actual", "money"),
    Column("budget", "budget", "money"),
    Column("utilization", "used", "ratio"),
    Column("overBudget", "over", "bool"),
    Column("projectedCost", "projected", "money"),
]


def _agents(body: dict[str, Any]) -> str:
    return _month_line(body) + table(_rows(body, "agents"), AGENT_COLUMNS, empty="(no agents)")


PROVIDER_COLUMNS = [
    Column("providerName", "provider"),
    Column("totalCost", "cost", "money"),
    Column("inputCost", "input", "money"),
    Column("outputCost", "output", "money"),
    Column("totalTokens", "tokens", "int"),
    Column("models", "models", "list"),
]


def _by_provider(body: dict[str, Any]) -> str:
    rows = table(_rows(body, "providers"), PROVIDER_COLUMNS, empty="(no cost this month)")
    return _month_line(body) + rows


MODEL_COLUMNS = [
    Column("model", "model"),
    Column("provider", "provider"),
    Column("invocations", "calls", "int"),
    Column("inputTokens", "input tokens", "int"),
    Column("outputTokens", "output tokens", "int"),
    Column("totalTokens", "total tokens", "int"),
    Column("inputCost", "input", "money"),
    Column("outputCost", "output", "money"),
    Column("totalCost", "cost", "money"),
    Column("pctOfTotal", "share", "pct"),
]


def _by_model(body: dict[str, Any]) -> str:
    rows = table(_rows(body, "models"), MODEL_COLUMNS, empty="(no cost this month)")
    total = f"\n\nTotal {cell(body['totalCost'], 'money')}" if "totalCost" in body else ""
    return _month_line(body) + rows + total + _unpriced(body)


RECOMMENDATION_COLUMNS = [
    Column("agentName", "agent"),
    Column("currentModel", "current model"),
    Column("recommendedModel", "recommended"),
    Column("currentCost", "cost", "money"),
    Column("estimatedMonthlySavings", "saves / month", "money"),
    Column("savingsPct", "saves", "pct"),
]


def _recommendations(body: dict[str, Any]) -> str:
    rows = _rows(body, "recommendations")
    text = _month_line(body) + table(rows, RECOMMENDATION_COLUMNS, empty="(no cheaper model to recommend)")
    if rows:
        text += f"\n\nTotal potential savings {cell(body.get('totalPotentialSavings'), 'money')} / month"
        reasons = [
            f"- {row.get('agentName') or row.get('agentId')}: {row['reason']}"
            for row in rows
            if row.get("reason")
        ]
        if reasons:
            text += "\n\nWhy:\n" + "\n".join(reasons)
    return text


ALERT_COLUMNS = [
    Column("agentId", "agent"),
    Column("agentName", "name"),
    Column("modelName", "model"),
    Column("actualCost", "actual", "money"),
    Column("budget", "budget", "money"),
    Column("overage", "over by", "money"),
    Column("overagePct", "over %", "pct"),
    Column("projectedCost", "projected", "money"),
]


def _budget_alerts(body: dict[str, Any]) -> str:
    count = body.get("alertCount", len(_rows(body, "alerts")))
    head = f"{count} agent{'s' if count != 1 else ''} over budget"
    head += f" in {body['month']}" if body.get("month") else ""
    return head + "\n\n" + table(_rows(body, "alerts"), ALERT_COLUMNS, empty="(none)")


DEPARTMENT_COLUMNS = [
    Column("department", "department"),
    Column("agent_count", "agents", "int"),
    Column("actual_cost_monthly", "cost", "money"),
    Column("monthly_human_equivalent", "human equivalent", "money"),
    Column("monthly_savings", "savings", "money"),
    Column("tasks_completed", "tasks", "int"),
    Column("roi_percent", "roi", "pct"),
]


def _projected(body: dict[str, Any], name: str, fmt: str) -> str:
    """A projected figure, or why there is none (docs/metrics.md: too early in the month, or not begun)."""
    if body.get(name) is not None or not body.get("projection_status"):
        return cell(body.get(name), fmt)
    return f"none yet ({body['projection_status']}, from {body.get('projection_ready_at')})"


def _workforce(body: dict[str, Any]) -> str:
    agents = (
        f"{cell(body.get('total_agents'), 'int')} ({cell(body.get('active_agents'), 'int')} active, "
        f"{cell(body.get('paused_agents'), 'int')} paused, {cell(body.get('draft_agents'), 'int')} draft)"
    )
    head = key_values(
        [
            ("Month", cell(body.get("month"))),
            ("Agents", agents),
            ("Agent cost", cell(body.get("total_agent_cost_monthly"), "money")),
            ("Budget", cell(body.get("total_budget_monthly"), "money")),
            ("Human equivalent", cell(body.get("monthly_human_equivalent"), "money")),
            ("Savings", cell(body.get("monthly_savings"), "money")),
            ("ROI", cell(body.get("roi_percent"), "pct")),
            ("Hours saved", cell(body.get("total_hours_saved_monthly"), "int")),
            ("Tasks completed", cell(body.get("total_tasks_completed"), "int")),
            ("Invocations", cell(body.get("total_invocations"), "int")),
            ("Errors", cell(body.get("total_errors"), "int")),
            ("Human salaries / year", cell(body.get("total_human_salary"), "money")),
            ("Month elapsed", cell(body.get("elapsed_fraction"), "ratio")),
            ("Projected cost", _projected(body, "projected_cost_monthly", "money")),
            ("Projected savings", _projected(body, "projected_savings", "money")),
            ("Projected ROI", _projected(body, "projected_roi_percent", "pct")),
            ("Events while paused", cell(body.get("events_while_paused"), "int")),
        ]
    )
    departments = table(_rows(body, "departments"), DEPARTMENT_COLUMNS)
    return f"{head}\n\n{section('By department', departments)}"


WORKFORCE_AGENT_COLUMNS = [
    Column("id", "agent"),
    Column("name", "name"),
    Column("status", "status"),
    Column("department", "department"),
    Column("model_name", "model"),
    Column("actual_cost_monthly", "cost", "money"),
    Column("cost_budget_monthly", "budget", "money"),
    Column("tasks_completed", "tasks", "int"),
    Column("invocation_count", "calls", "int"),
    Column("error_count", "errors", "int"),
    Column("avg_response_ms", "avg ms", "int"),
    Column("cost_per_task", "cost/task", "money3"),
    Column("monthly_savings", "savings", "money"),
    Column("roi_percent", "roi", "pct"),
    Column("projected_roi_percent", "projected roi", "pct"),
    Column("events_while_paused", "events while paused", "int"),
]


def _workforce_agents(body: Any) -> str:
    return table(_rows(body, ""), WORKFORCE_AGENT_COLUMNS, empty="(no agents)")


TREND_COLUMNS = [
    Column("period", "month"),
    Column("active_agents", "active agents", "int"),
    Column("agents_with_activity", "with activity", "int"),
    Column("tasks_completed", "tasks", "int"),
    Column("invocations", "calls", "int"),
    Column("errors", "errors", "int"),
    Column("total_tokens", "tokens", "int"),
    Column("total_cost", "cost", "money"),
    Column("avg_response_ms", "avg ms", "int"),
]


def _trends(body: dict[str, Any]) -> str:
    return table(_rows(body, "trends"), TREND_COLUMNS)


PRICE_COLUMNS = [
    Column("id", "model"),
    Column("provider", "provider"),
    Column("category", "category"),
    Column("inputPricePerMillion", "input $/M", "price"),
    Column("outputPricePerMillion", "output $/M", "price"),
    Column("cacheReadPricePerMillion", "cache read $/M", "price"),
    Column("cacheWritePricePerMillion", "cache write $/M", "price"),
    Column("source", "source"),
    Column("effectiveFrom", "since"),
]


def _pricing(body: dict[str, Any]) -> str:
    return table(_rows(body, "models"), PRICE_COLUMNS)


@dataclass(frozen=True)
class Report:
    """A read endpoint as a command."""

    command: str
    path: str
    help: str
    table: Callable[[Any], str]
    rows_key: str | None = None  # the list a locally made CSV has one row per item of ("" : a bare array)
    api_csv: bool = False  # the API answers `Accept: text/csv` itself
    month: bool = True  # takes ?month=YYYY-MM

    def csv_rows(self, body: Any) -> Rows | None:
        """The rows of a CSV made here, or None for a single document (a `field,value` CSV)."""
        return None if self.rows_key is None else _rows(body, self.rows_key)


REPORTS: dict[str, Report] = {
    report.command: report
    for report in [
        Report(
            "summary",
            "/api/cost-analysis/summary",
            "the month's spend, budget and cost by provider and model",
            _summary,
        ),
        Report(
            "agents",
            "/api/cost-analysis/agents",
            "cost and budget use per agent",
            _agents,
            "agents",
            api_csv=True,
        ),
        Report(
            "by-provider",
            "/api/cost-analysis/by-provider",
            "cost by AI provider",
            _by_provider,
            "providers",
            api_csv=True,
        ),
        Report(
            "by-model",
            "/api/cost-analysis/by-model",
            "cost and tokens by model",
            _by_model,
            "models",
            api_csv=True,
        ),
        Report(
            "recommendations",
            "/api/cost-analysis/recommendations",
            "cheaper models that fit each agent's work, and what they would save",
            _recommendations,
            "recommendations",
            api_csv=True,
        ),
        Report(
            "budget-alerts",
            "/api/cost-analysis/budget-alerts",
            "agents over their monthly budget",
            _budget_alerts,
            "alerts",
            api_csv=True,
        ),
        Report(
            "workforce", "/api/agents/workforce/summary", "fleet ROI against human equivalents", _workforce
        ),
        Report(
            "workforce-agents",
            "/api/agents/workforce/agents",
            "ROI per agent (`workforce --agents`)",
            _workforce_agents,
            "",
        ),
        Report(
            "trends",
            "/api/agents/workforce/trends",
            "month-over-month fleet figures",
            _trends,
            "trends",
            month=False,
        ),
        Report(
            "pricing",
            "/api/cost-analysis/pricing",
            "the model price catalog in force",
            _pricing,
            "models",
            month=False,
        ),
    ]
}
