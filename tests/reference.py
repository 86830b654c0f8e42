"""The response examples of the product reference (cost-metrics-api.txt), verbatim: a contract with
existing dashboards. Tests check that every field of each example is present with the same JSON type."""

from __future__ import annotations

from typing import Any

EXAMPLES: dict[str, Any] = {
    "/api/cost-analysis/summary": {
        "tokenCost": {
            "total": 142.80,
            "byProvider": [{"provider": "anthropic", "cost": 98.40}, {"provider": "openai", "cost": 44.40}],
            "byModel": [
                {"model": "claude-haiku-3.5", "cost": 62.10},
                {"model": "claude-sonnet-4-20250514", "cost": 36.30},
            ],
        },
        "totalSpend": 142.80,
        "budget": {"total": 500.00, "utilization": 0.286},
        "agentCount": 6,
        "providerCount": 2,
    },
    "/api/cost-analysis/by-provider": {
        "providers": [
            {
                "providerId": "anthropic",
                "providerName": "Anthropic",
                "totalCost": 98.40,
                "totalTokens": 12400000,
                "models": ["claude-haiku-3.5", "claude-sonnet-4-20250514"],
            }
        ]
    },
    "/api/cost-analysis/by-model": {
        "models": [
            {
                "model": "claude-haiku-3.5",
                "provider": "anthropic",
                "inputCost": 18.40,
                "outputCost": 43.70,
                "totalCost": 62.10,
                "inputTokens": 23000000,
                "outputTokens": 10925000,
                "pctOfTotal": 43.5,
            }
        ]
    },
    "/api/cost-analysis/agents": {
        "agents": [
            {
                "id": "550e8400-...",
                "name": "Nova",
                "modelName": "claude-haiku-3.5",
                "actualCost": 28.40,
                "budget": 100.00,
                "utilization": 0.284,
                "overBudget": False,
                "status": "online",
            }
        ]
    },
    "/api/cost-analysis/recommendations": {
        "recommendations": [
            {
                "agentId": "550e8400-...",
                "agentName": "Pulse",
                "currentModel": "claude-sonnet-4-20250514",
                "recommendedModel": "claude-haiku-3.5",
                "savingsPct": 73.3,
                "estimatedMonthlySavings": 48.20,
                "currentInputPrice": 3.00,
                "recommendedInputPrice": 0.80,
            }
        ],
        "totalPotentialSavings": 48.20,
    },
    "/api/cost-analysis/budget-alerts": {
        "alertCount": 2,
        "alerts": [
            {
                "agentId": "550e8400-...",
                "agentName": "Atlas",
                "modelName": "claude-sonnet-4-20250514",
                "actualCost": 124.80,
                "budget": 100.00,
                "overage": 24.80,
                "overagePct": 24.8,
            }
        ],
    },
    "/api/cost-analysis/pricing": {
        "models": [
            {
                "id": "claude-haiku-3.5",
                "provider": "anthropic",
                "category": "economy",
                "inputPricePerMillion": 0.80,
                "outputPricePerMillion": 4.00,
            },
            {
                "id": "claude-sonnet-4-20250514",
                "provider": "anthropic",
                "category": "flagship",
                "inputPricePerMillion": 3.00,
                "outputPricePerMillion": 15.00,
            },
        ]
    },
    "/api/agents/workforce/summary": {
        "total_agents": 6,
        "active_agents": 5,
        "paused_agents": 1,
        "draft_agents": 0,
        "total_human_salary": 360000,
        "total_agent_cost_monthly": 284.40,
        "total_budget_monthly": 600.00,
        "total_hours_saved_monthly": 480,
        "total_tasks_completed": 1842,
        "total_invocations": 3210,
        "total_errors": 18,
        "monthly_human_equivalent": 30000,
        "monthly_savings": 29715.60,
        "roi_percent": 10449.0,
        "departments": [{"department": "Operations", "agent_count": 3, "monthly_savings": 18200.00}],
    },
    "/api/agents/workforce/agents": [
        {
            "id": "550e8400-...",
            "name": "Nova",
            "status": "online",
            "category": "Research",
            "department": "Strategy",
            "role_title": "Research Analyst",
            "model_provider": "anthropic",
            "model_name": "claude-haiku-3.5",
            "human_equivalent_salary": 75000,
            "estimated_hours_saved": 80,
            "actual_cost_monthly": 28.40,
            "cost_budget_monthly": 100.00,
            "tasks_completed": 312,
            "invocation_count": 540,
            "error_count": 3,
            "avg_response_ms": 3840,
            "monthly_human_equivalent": 6250,
            "monthly_savings": 6221.60,
            "roi_percent": 21906.3,
            "cost_per_task": 0.091,
        }
    ],
    "/api/agents/workforce/trends": {
        "months": 6,
        "trends": [
            {
                "period": "2026-03",
                "tasks_completed": 1842,
                "invocations": 3210,
                "total_tokens": 48200000,
                "total_cost": 284.40,
                "errors": 18,
                "avg_response_ms": 3840,
                "active_agents": 5,
            }
        ],
    },
    "/api/activity": {
        "data": [
            {
                "id": "evt-uuid-...",
                "eventType": "tool_call",
                "agentId": "550e8400-...",
                "agentName": "Nova",
                "details": {"tool": "web_search", "success": True, "durationMs": 1240},
                "createdAt": "2026-03-17T08:01:44Z",
            }
        ],
        "pagination": {"total": 1842, "limit": 100, "offset": 0, "hasMore": True},
    },
}


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def shape_errors(example: Any, actual: Any, path: str = "$") -> list[str]:
    """Every field of `example` missing from `actual` or of another JSON type (first list item checked;
    `details` is free-form and `null` is accepted for optional strings)."""
    if json_type(example) != json_type(actual):
        if not (json_type(actual) == "null" and json_type(example) == "str"):
            return [f"{path}: expected {json_type(example)}, got {json_type(actual)}"]
        return []
    errors: list[str] = []
    if isinstance(example, dict) and not path.endswith(".details"):
        for key, value in example.items():
            if key not in actual:
                errors.append(f"{path}.{key}: missing")
            else:
                errors += shape_errors(value, actual[key], f"{path}.{key}")
    elif isinstance(example, list) and example and actual:
        errors += shape_errors(example[0], actual[0], f"{path}[0]")
    return errors
