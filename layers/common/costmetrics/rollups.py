"""Per-workspace, per-month rollups (pure logic).

Each event contributes counters to three items of the rollups table, all under the workspace's
partition key (docs/data-model.md):
  W#<month>                       workspace totals and the set of active agents
  M#<month>#A#<agent>             per agent: events by type, tasks by task type, errors
  M#<month>#A#<agent>#M#<model>   per agent and model: tokens by kind, cost, invocations, durations
Counters only ever grow by ADD, and each event is applied at most once (see costmetrics.stream).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from costmetrics import periods
from costmetrics.events import (
    EVENT_TYPES,
    OTHER_TASK_TYPE,
    TASK_TYPES,
    UNSPECIFIED_TASK_TYPE,
    ModelInvocationDetails,
    StoredEvent,
    rollup_task_type,
)
from costmetrics.numbers import ZERO, from_pico, to_pico
from costmetrics.pricing import UNKNOWN_PROVIDER, PriceVersion, TokenUsage, cost_of

MARKER_SK = "applied"
ALL_TASK_TYPES = (*TASK_TYPES, OTHER_TASK_TYPE, UNSPECIFIED_TASK_TYPE)
Number = int


def workspace_sk(month: str) -> str:
    return f"W#{month}"


def month_prefix(month: str) -> str:
    return f"M#{month}#"


def agent_sk(month: str, agent_id: str) -> str:
    return f"M#{month}#A#{agent_id}"


def agent_model_sk(month: str, agent_id: str, model_id: str) -> str:
    return f"M#{month}#A#{agent_id}#M#{model_id}"


def day_sk(day: str, agent_id: str | None = None) -> str:
    """Events per UTC day (of the workspace, or of one agent), by type: the activity log's totals."""
    return f"DA#{agent_id}#{day}" if agent_id else f"DT#{day}"


def hour_sk(hour: str, agent_id: str | None = None) -> str:
    """Events per UTC hour, by type: totals and offsets inside a day without reading events."""
    return f"HA#{agent_id}#{hour}" if agent_id else f"HT#{hour}"


def marker_pk(workspace_id: str, event_id: str) -> str:
    """The key of the record that an event was applied; it starts with the workspace like all tenant keys."""
    return f"{workspace_id}#E#{event_id}"


@dataclass
class Delta:
    """What to add to one rollup item: counters (ADD), string-set members (ADD, idempotent), and labels."""

    pk: str
    sk: str
    adds: dict[str, Number] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.pk, self.sk

    def add(self, counters: Mapping[str, Number]) -> None:
        for name, value in counters.items():
            self.adds[name] = self.adds.get(name, 0) + value

    def merge(self, other: Delta) -> None:
        self.add(other.adds)
        for name, values in other.members.items():
            self.members.setdefault(name, set()).update(values)
        self.labels.update(other.labels)
        for name, value in other.defaults.items():
            self.defaults.setdefault(name, value)


def contributions(event: StoredEvent, price: PriceVersion | None) -> list[Delta]:
    """The rollup deltas of one event, costed at `price` (None: the model has no price at createdAt).

    Raises pydantic.ValidationError when a model_invocation's details are malformed.
    """
    ws, month, agent_id = event.workspace_id, event.month, event.agent_id
    common: dict[str, Number] = {"events": 1, f"evt_{event.event_type}": 1}
    if event.event_type == "task_completed":
        common["tasks"] = 1
    elif event.event_type == "error":
        common["errors"] = 1

    workspace = Delta(ws, workspace_sk(month), labels={"kind": "workspace", "month": month})
    workspace.add(common)
    workspace.members["activeAgents"] = {agent_id}
    agent = Delta(
        ws, agent_sk(month, agent_id), labels={"kind": "agent", "month": month, "agentId": agent_id}
    )
    agent.add(common)
    day, hour = periods.day_of(event.created_at), periods.hour_of(event.created_at)
    counted: dict[str, Number] = {"events": 1, f"evt_{event.event_type}": 1}
    counters = [
        Delta(ws, day_sk(day), dict(counted), labels={"kind": "day"}),
        Delta(ws, day_sk(day, agent_id), dict(counted), labels={"kind": "agent_day"}),
        Delta(ws, hour_sk(hour), dict(counted), labels={"kind": "hour"}),
        Delta(ws, hour_sk(hour, agent_id), dict(counted), labels={"kind": "agent_hour"}),
    ]
    if event.event_type == "task_completed":
        agent.add({f"task_{rollup_task_type(event.details)}": 1})
    deltas = [workspace, agent]

    if event.event_type == "model_invocation":
        details = ModelInvocationDetails.model_validate(event.details)
        usage = TokenUsage(
            input=details.input_tokens,
            output=details.output_tokens,
            cache_read=details.cache_read_tokens,
            cache_write=details.cache_write_tokens,
        )
        usage_counters: dict[str, Number] = {
            "invocations": 1,
            "inputTokens": usage.input,
            "outputTokens": usage.output,
            "cacheReadTokens": usage.cache_read,
            "cacheWriteTokens": usage.cache_write,
        }
        if details.duration_ms is not None:
            usage_counters |= {"durationUsTotal": int(details.duration_ms * 1000), "durationCount": 1}
        if not details.success:
            usage_counters["failedInvocations"] = 1
        model = Delta(
            ws,
            agent_model_sk(month, agent_id, details.model),
            labels={"kind": "agent_model", "month": month, "agentId": agent_id, "model": details.model},
        )
        if price is None:
            usage_counters |= {"unpricedInvocations": 1, "unpricedTokens": usage.total}
            model.defaults["provider"] = UNKNOWN_PROVIDER
        else:
            cost = cost_of(usage, price)
            usage_counters |= {"inputCostPico": to_pico(cost.input), "outputCostPico": to_pico(cost.output)}
            model.labels |= {"provider": price.provider, "category": price.category}
        model.add(usage_counters)
        agent.add(usage_counters)
        workspace.add(usage_counters)
        deltas.append(model)
    return deltas + counters


def merge_deltas(deltas: Iterable[Delta]) -> list[Delta]:
    """One delta per rollup item: this is what makes writes one per item per batch, not one per event."""
    merged: dict[tuple[str, str], Delta] = {}
    for delta in deltas:
        if delta.key in merged:
            merged[delta.key].merge(delta)
        else:
            copy = Delta(delta.pk, delta.sk)
            copy.merge(delta)
            merged[delta.key] = copy
    return list(merged.values())


@dataclass
class Contribution:
    """An event ready to apply: its marker key and its deltas."""

    event: StoredEvent
    sequence_number: str
    deltas: list[Delta]

    @property
    def marker(self) -> tuple[str, str]:
        return marker_pk(self.event.workspace_id, self.event.id), MARKER_SK


@dataclass
class _Group:
    """Contributions planned together, with the rollup items they update (so that the actions a group
    needs, one marker per event plus one update per distinct item, are known without recounting)."""

    entries: list[Contribution] = field(default_factory=list)
    keys: set[tuple[str, str]] = field(default_factory=set)

    @property
    def actions(self) -> int:
        return len(self.entries) + len(self.keys)

    def actions_with(self, entries: int, keys: Iterable[tuple[str, str]]) -> int:
        return self.actions + entries + sum(1 for key in set(keys) if key not in self.keys)

    def add(self, entries: list[Contribution], keys: Iterable[tuple[str, str]]) -> None:
        self.entries.extend(entries)
        self.keys.update(keys)


# How many of the newest open transactions a piece may join: bounds the planning work per piece, so that
# planning is O(n log n) in the batch size whatever the mix of agents.
PACKING_WINDOW = 16


def plan_chunks(entries: list[Contribution], max_actions: int = 100) -> list[list[Contribution]]:
    """Groups contributions into transactions of at most `max_actions` actions (one marker per event plus
    one update per distinct rollup item). An agent's events stay in one transaction when they fit, so only
    the workspace-wide items are updated once per transaction; the largest agents are placed first, each
    in the first of the newest PACKING_WINDOW open transactions with room for it."""
    by_agent: dict[tuple[str, str], list[Contribution]] = {}
    for entry in sorted(entries, key=lambda e: (e.event.workspace_id, e.event.agent_id, e.event.created_at)):
        by_agent.setdefault((entry.event.workspace_id, entry.event.agent_id), []).append(entry)
    pieces: list[_Group] = []
    for group in by_agent.values():
        # An agent too large for one transaction is cut into pieces that each fit.
        piece = _Group()
        for entry in group:
            keys = [d.key for d in entry.deltas]
            if piece.entries and piece.actions_with(1, keys) > max_actions:
                pieces.append(piece)
                piece = _Group()
            piece.add([entry], keys)
        pieces.append(piece)
    chunks: list[_Group] = []
    open_chunks: list[_Group] = []
    for piece in sorted(pieces, key=lambda p: p.actions, reverse=True):
        for chunk in open_chunks[-PACKING_WINDOW:]:
            if chunk.actions_with(len(piece.entries), piece.keys) <= max_actions:
                chunk.add(piece.entries, piece.keys)
                break
        else:
            chunk = _Group(list(piece.entries), set(piece.keys))
            chunks.append(chunk)
            open_chunks.append(chunk)
        if chunk.actions >= max_actions:
            open_chunks.remove(chunk)
    return [chunk.entries for chunk in chunks]


# --- Reading rollup items back -------------------------------------------------------------------


def _int(item: Mapping[str, Any], name: str) -> int:
    return int(item.get(name, 0))


@dataclass(frozen=True)
class UsageTotals:
    """Counters shared by workspace, agent and agent-model items."""

    invocations: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    input_cost: Decimal = ZERO
    output_cost: Decimal = ZERO
    unpriced_invocations: int = 0
    unpriced_tokens: int = 0
    duration_ms_total: Decimal = ZERO
    duration_count: int = 0
    failed_invocations: int = 0

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> UsageTotals:
        return cls(
            invocations=_int(item, "invocations"),
            input_tokens=_int(item, "inputTokens"),
            output_tokens=_int(item, "outputTokens"),
            cache_read_tokens=_int(item, "cacheReadTokens"),
            cache_write_tokens=_int(item, "cacheWriteTokens"),
            input_cost=from_pico(_int(item, "inputCostPico")),
            output_cost=from_pico(_int(item, "outputCostPico")),
            unpriced_invocations=_int(item, "unpricedInvocations"),
            unpriced_tokens=_int(item, "unpricedTokens"),
            duration_ms_total=Decimal(_int(item, "durationUsTotal")) / 1000,
            duration_count=_int(item, "durationCount"),
            failed_invocations=_int(item, "failedInvocations"),
        )

    def __add__(self, other: UsageTotals) -> UsageTotals:
        return UsageTotals(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def total_cost(self) -> Decimal:
        return self.input_cost + self.output_cost

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def usage(self) -> TokenUsage:
        return TokenUsage(
            self.input_tokens, self.output_tokens, self.cache_read_tokens, self.cache_write_tokens
        )


@dataclass(frozen=True)
class AgentModelMonth:
    agent_id: str
    model: str
    provider: str
    category: str | None
    usage: UsageTotals


@dataclass(frozen=True)
class AgentMonth:
    agent_id: str
    events: int
    events_by_type: dict[str, int]
    tasks: int
    errors: int
    tasks_by_type: dict[str, int]
    usage: UsageTotals


@dataclass(frozen=True)
class WorkspaceMonth:
    month: str
    events: int
    tasks: int
    errors: int
    active_agents: frozenset[str]
    usage: UsageTotals


@dataclass
class MonthRollups:
    """Every rollup item of one workspace-month, as read by one Query."""

    month: str
    agents: dict[str, AgentMonth] = field(default_factory=dict)
    models: list[AgentModelMonth] = field(default_factory=list)

    @classmethod
    def from_items(cls, month: str, items: Iterable[Mapping[str, Any]]) -> MonthRollups:
        result = cls(month)
        for item in items:
            kind = item.get("kind")
            if kind == "agent":
                agent = agent_month_from_item(item)
                result.agents[agent.agent_id] = agent
            elif kind == "agent_model":
                result.models.append(
                    AgentModelMonth(
                        agent_id=str(item["agentId"]),
                        model=str(item["model"]),
                        provider=str(item.get("provider", UNKNOWN_PROVIDER)),
                        category=item.get("category"),
                        usage=UsageTotals.from_item(item),
                    )
                )
        return result

    def models_of(self, agent_id: str) -> list[AgentModelMonth]:
        return [m for m in self.models if m.agent_id == agent_id]


def agent_month_from_item(item: Mapping[str, Any]) -> AgentMonth:
    return AgentMonth(
        agent_id=str(item["agentId"]),
        events=_int(item, "events"),
        events_by_type={t: _int(item, f"evt_{t}") for t in EVENT_TYPES},
        tasks=_int(item, "tasks"),
        errors=_int(item, "errors"),
        tasks_by_type={t: _int(item, f"task_{t}") for t in ALL_TASK_TYPES if item.get(f"task_{t}")},
        usage=UsageTotals.from_item(item),
    )


def workspace_month_from_item(item: Mapping[str, Any]) -> WorkspaceMonth:
    return WorkspaceMonth(
        month=str(item["month"]),
        events=_int(item, "events"),
        tasks=_int(item, "tasks"),
        errors=_int(item, "errors"),
        active_agents=frozenset(item.get("activeAgents", set())),
        usage=UsageTotals.from_item(item),
    )
