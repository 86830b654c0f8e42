"""Figures computed straight from raw events, independently of the code under test: its own copy of the
published list prices (PRICES, kept apart from costmetrics/catalog.py) and its own arithmetic. Tests
compare the service's numbers to these."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# model: (provider, category, input, output, cache read, cache write or None), USD per million tokens.
PRICES: dict[str, tuple[str, str, str, str, str, str | None]] = {
    "claude-haiku-3.5": ("anthropic", "economy", "0.80", "4.00", "0.08", "1.00"),
    "claude-sonnet-4-20250514": ("anthropic", "flagship", "3.00", "15.00", "0.30", "3.75"),
    "claude-haiku-4-5": ("anthropic", "economy", "1.00", "5.00", "0.10", "1.25"),
    "claude-sonnet-4-6": ("anthropic", "standard", "3.00", "15.00", "0.30", "3.75"),
    "claude-opus-4-7": ("anthropic", "flagship", "5.00", "25.00", "0.50", "6.25"),
    "gpt-5.5": ("openai", "flagship", "5.00", "30.00", "0.50", None),
    "gpt-5.4": ("openai", "standard", "2.50", "15.00", "0.25", None),
    "gpt-5.4-mini": ("openai", "economy", "0.75", "4.50", "0.075", None),
    "gpt-5.4-nano": ("openai", "economy", "0.20", "1.25", "0.02", None),
    "gpt-4.1": ("openai", "standard", "2.00", "8.00", "0.50", None),
    "gemini-2.5-pro": ("google", "flagship", "1.25", "10.00", "0.125", None),
    "gemini-2.5-flash": ("google", "economy", "0.30", "2.50", "0.03", None),
}


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Override:
    """A workspace price from `effective_from` on: (input, output, cache read, cache write)."""

    model: str
    effective_from: datetime
    prices: tuple[str, str, str | None, str | None]
    provider: str = ""


def unit_prices(model: str, at: datetime, overrides: list[Override]) -> tuple[Decimal, ...] | None:
    """(input, output, cache read, cache write) in force at `at`, or None for an unpriced model."""
    applicable = [o for o in overrides if o.model == model and o.effective_from <= at]
    if applicable:
        inp, out, read, write = max(applicable, key=lambda o: o.effective_from).prices
    elif model in PRICES:
        _, _, inp, out, read, write = PRICES[model]
    else:
        return None
    return (Decimal(inp), Decimal(out), Decimal(read or inp), Decimal(write or inp))


@dataclass
class Usage:
    invocations: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    input_cost: Decimal = Decimal(0)
    output_cost: Decimal = Decimal(0)
    unpriced_tokens: int = 0
    duration_total: Decimal = Decimal(0)
    duration_count: int = 0

    @property
    def cost(self) -> Decimal:
        return self.input_cost + self.output_cost


@dataclass
class Truth:
    """Everything the rollups should hold, per month."""

    by_agent_model: dict[tuple[str, str, str], Usage] = field(default_factory=lambda: defaultdict(Usage))
    events_by_agent: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    active_agents: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    task_types: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    failed_invocations: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))

    def agent_usage(self, month: str, agent: str) -> Usage:
        total = Usage()
        for (m, a, _), u in self.by_agent_model.items():
            if (m, a) == (month, agent):
                for name in (
                    "invocations",
                    "input_tokens",
                    "output_tokens",
                    "cache_read_tokens",
                    "cache_write_tokens",
                    "unpriced_tokens",
                    "duration_count",
                ):
                    setattr(total, name, getattr(total, name) + getattr(u, name))
                total.input_cost += u.input_cost
                total.output_cost += u.output_cost
                total.duration_total += u.duration_total
        return total

    def month_cost(self, month: str) -> Decimal:
        return sum((u.cost for (m, _, _), u in self.by_agent_model.items() if m == month), Decimal(0))

    def model_costs(self, month: str) -> dict[str, Decimal]:
        costs: dict[str, Decimal] = defaultdict(Decimal)
        for (m, _, model), usage in self.by_agent_model.items():
            if m == month and usage.invocations > 0 and model in PRICES:
                costs[model] += usage.cost
        return dict(costs)

    def agent_cost(self, month: str, agent: str) -> Decimal:
        return sum(
            (u.cost for (m, a, _), u in self.by_agent_model.items() if m == month and a == agent), Decimal(0)
        )

    def count(self, month: str, agent: str, event_type: str) -> int:
        return self.events_by_agent[(month, agent, event_type)]


def compute(events: list[dict[str, Any]], overrides: list[Override] | None = None) -> Truth:
    """The truth for a list of distinct events (as sent to POST /api/activity)."""
    truth = Truth()
    seen: set[str] = set()
    for event in events:
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        at = parse_time(event["createdAt"])
        from datetime import UTC

        month = at.astimezone(UTC).strftime("%Y-%m")
        agent = event["agentId"]
        truth.events_by_agent[(month, agent, event["eventType"])] += 1
        truth.active_agents[month].add(agent)
        if event["eventType"] == "task_completed":
            raw = event["details"].get("taskType")
            known = {
                "classification",
                "summarization",
                "extraction",
                "research",
                "writing",
                "coding",
                "planning",
            }
            kind = "unspecified" if not raw else (raw.lower() if raw.lower() in known else "other")
            truth.task_types[(month, agent, kind)] += 1
        if event["eventType"] != "model_invocation":
            continue
        if event["details"].get("success") is False:
            truth.failed_invocations[(month, agent)] += 1
        d = event["details"]
        usage = truth.by_agent_model[(month, agent, d["model"])]
        tokens = (
            d["inputTokens"],
            d["outputTokens"],
            d.get("cacheReadTokens", 0),
            d.get("cacheWriteTokens", 0),
        )
        usage.invocations += 1
        usage.input_tokens += tokens[0]
        usage.output_tokens += tokens[1]
        usage.cache_read_tokens += tokens[2]
        usage.cache_write_tokens += tokens[3]
        if "durationMs" in d:
            usage.duration_total += Decimal(str(d["durationMs"]))
            usage.duration_count += 1
        prices = unit_prices(d["model"], at, overrides or [])
        if prices is None:
            usage.unpriced_tokens += sum(tokens)
            continue
        inp, out, read, write = prices
        million = Decimal(1_000_000)
        usage.input_cost += (tokens[0] * inp + tokens[2] * read + tokens[3] * write) / million
        usage.output_cost += tokens[1] * out / million
    return truth
