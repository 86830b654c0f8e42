"""Realistic, deterministic datasets: agents of several departments and providers, with cache tokens,
over several months, as clients send them to the API."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

AGENTS: list[dict[str, Any]] = [
    {
        "id": "nova",
        "name": "Nova",
        "status": "online",
        "category": "Research",
        "department": "Strategy",
        "role_title": "Research Analyst",
        "model_provider": "anthropic",
        "model_name": "claude-haiku-3.5",
        "human_equivalent_salary": 75000,
        "estimated_hours_saved": 80,
        "cost_budget_monthly": 100,
    },
    {
        "id": "atlas",
        "name": "Atlas",
        "status": "online",
        "category": "Engineering",
        "department": "Operations",
        "role_title": "Support Engineer",
        "model_provider": "anthropic",
        "model_name": "claude-sonnet-4-20250514",
        "human_equivalent_salary": 90000,
        "estimated_hours_saved": 120,
        "cost_budget_monthly": 1,
    },
    {
        "id": "pulse",
        "name": "Pulse",
        "status": "offline",
        "category": "Marketing",
        "department": "Operations",
        "role_title": "Content Writer",
        "model_provider": "openai",
        "model_name": "gpt-5.4",
        "human_equivalent_salary": 60000,
        "estimated_hours_saved": 60,
        "cost_budget_monthly": 50,
    },
    {
        "id": "sage",
        "name": "Sage",
        "status": "online",
        "category": "Finance",
        "department": "Finance",
        "role_title": "Analyst",
        "model_provider": "google",
        "model_name": "gemini-2.5-pro",
        "human_equivalent_salary": 80000,
        "estimated_hours_saved": 40,
        "cost_budget_monthly": 40,
    },
    {
        "id": "echo",
        "name": "Echo",
        "status": "paused",
        "category": "Support",
        "department": "Operations",
        "role_title": "Triage",
        "model_provider": "openai",
        "model_name": "gpt-5.4-mini",
        "human_equivalent_salary": 45000,
        "estimated_hours_saved": 30,
        "cost_budget_monthly": 20,
    },
    {
        "id": "draft-bot",
        "name": "Draft Bot",
        "status": "draft",
        "category": "Research",
        "department": "Strategy",
        "role_title": "Prototype",
        "model_provider": "anthropic",
        "model_name": "claude-haiku-4-5",
        "human_equivalent_salary": 50000,
        "estimated_hours_saved": 10,
        "cost_budget_monthly": 10,
    },
]

# PUT /api/agents/{agentId} replaces the whole agent: every field. These are the values an agent had when a
# field was left out, before PUT required them all.
AGENT_DEFAULTS: dict[str, Any] = {
    "status": "draft",
    "category": None,
    "department": None,
    "role_title": None,
    "model_provider": None,
    "model_name": None,
    "human_equivalent_salary": 0,
    "estimated_hours_saved": 0,
    "cost_budget_monthly": 0,
}


def agent_body(name: str, **fields: Any) -> dict[str, Any]:
    """A whole agent for PUT: `name`, the fields given, and AGENT_DEFAULTS for the others."""
    unknown = set(fields) - set(AGENT_DEFAULTS)
    assert not unknown, f"not fields of an agent: {unknown}"
    return {"name": name, **AGENT_DEFAULTS, **fields}


# Models each active agent uses (the first is its main model); "mystery-model-x" is in no catalog.
AGENT_MODELS = {
    "nova": ["claude-haiku-3.5", "claude-sonnet-4-6"],
    "atlas": ["claude-sonnet-4-20250514", "mystery-model-x"],
    "pulse": ["gpt-5.4", "gpt-5.4-mini"],
    "sage": ["gemini-2.5-pro", "gemini-2.5-flash"],
    "echo": ["gpt-5.4-mini"],
}
# The work each agent does (its task types), plus the occasional unusual task.
AGENT_TASKS = {
    "nova": ["research", "summarization"],
    "atlas": ["classification", "extraction"],
    "pulse": ["writing"],
    "sage": ["planning", "research"],
    "echo": ["classification"],
}
RARE_TASKS = ["bespoke-analysis", "coding"]


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_events(
    count: int,
    *,
    start: datetime,
    end: datetime,
    seed: int = 7,
    agents: dict[str, list[str]] | None = None,
    prefix: str = "evt",
) -> list[dict[str, Any]]:
    """`count` events spread over [start, end), in the API's input format, with unique ids."""
    rng = random.Random(seed)
    agents = agents or AGENT_MODELS
    names = sorted(agents)
    span = (end - start).total_seconds()
    events = []
    for n in range(count):
        agent = rng.choice(names)
        at = start + timedelta(seconds=rng.random() * span)
        kind = rng.choices(
            [
                "model_invocation",
                "task_completed",
                "tool_call",
                "error",
                "session_start",
                "session_end",
                "cron_execution",
                "config_change",
            ],
            weights=[50, 18, 14, 0.3, 4, 4, 3, 3],
        )[0]
        details: dict[str, Any]
        if kind == "model_invocation":
            model = agents[agent][0] if rng.random() < 0.75 else rng.choice(agents[agent])
            details = {
                "model": model,
                "inputTokens": rng.randint(200, 40_000),
                "outputTokens": rng.randint(50, 1_500),
                "durationMs": rng.randint(300, 9_000),
                "success": rng.random() > 0.01,
            }
            if rng.random() < 0.5:
                details["cacheReadTokens"] = rng.randint(0, 60_000)
            if rng.random() < 0.2:
                details["cacheWriteTokens"] = rng.randint(0, 20_000)
        elif kind == "task_completed":
            tasks = AGENT_TASKS.get(agent, ["research"])
            chosen = rng.choice(RARE_TASKS) if rng.random() < 0.02 else rng.choice(tasks)
            details = {"taskType": chosen} if rng.random() < 0.95 else {}
        elif kind == "tool_call":
            details = {
                "tool": rng.choice(["web_search", "sql", "email"]),
                "success": rng.random() > 0.1,
                "durationMs": rng.randint(10, 3_000),
            }
        elif kind == "error":
            details = {"message": "upstream timeout", "code": rng.choice(["E_TIMEOUT", 502])}
        else:
            details = {"note": f"{kind} {n}"}
        events.append(
            {
                "id": f"{prefix}-{n:06d}",
                "agentId": agent,
                "eventType": kind,
                "createdAt": iso(at),
                "details": details,
            }
        )
    return events


def months_back(now: datetime, months: int) -> datetime:
    """The first instant of the month `months` before `now`'s month."""
    index = now.year * 12 + now.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
