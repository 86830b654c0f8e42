"""Per-workspace, per-month rollups (pure logic).

Each event contributes counters to rollup items of its workspace (docs/data-model.md):
  workspace    (month)            workspace totals and the set of active agents
  agent        (month, agent)     per agent: events by type, tasks by task type, errors
  agent_model  (month, agent, model)  per agent and model: tokens by kind, cost, invocations, durations
and to the activity log's counters of events per UTC day and hour (of the workspace and of the agent).
Counters only ever grow by ADD, and each event is applied at most once (see costmetrics.stream); how the
items are keyed and stored is costmetrics.repositories.rollups' business.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, Literal, NamedTuple

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

ALL_TASK_TYPES = (*TASK_TYPES, OTHER_TASK_TYPE, UNSPECIFIED_TASK_TYPE)
Number = int

RollupKind = Literal["workspace", "agent", "agent_model", "day", "agent_day", "hour", "agent_hour"]


class RollupItem(NamedTuple):
    """Which rollup item counters go to: a kind, the workspace, its period (a month for the month kinds, a
    UTC day or hour for the activity counters), and the agent and model where the kind has them. The
    table's keys for it are costmetrics.repositories.rollups' business."""

    workspace_id: str
    kind: RollupKind
    period: str
    agent_id: str | None = None
    model: str | None = None


@dataclass
class Delta:
    """What to add to one rollup item: counters (ADD), string-set members (ADD, idempotent), and labels
    (SET: the model's provider and category; the labels that say which item it is come with its key)."""

    item: RollupItem
    adds: dict[str, Number] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

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

    workspace = Delta(RollupItem(ws, "workspace", month))
    workspace.add(common)
    workspace.members["activeAgents"] = {agent_id}
    agent = Delta(RollupItem(ws, "agent", month, agent_id))
    agent.add(common)
    day, hour = periods.day_of(event.created_at), periods.hour_of(event.created_at)
    counted: dict[str, Number] = {"events": 1, f"evt_{event.event_type}": 1}
    counters = [
        Delta(RollupItem(ws, "day", day), dict(counted)),
        Delta(RollupItem(ws, "agent_day", day, agent_id), dict(counted)),
        Delta(RollupItem(ws, "hour", hour), dict(counted)),
        Delta(RollupItem(ws, "agent_hour", hour, agent_id), dict(counted)),
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
        model = Delta(RollupItem(ws, "agent_model", month, agent_id, details.model))
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
    merged: dict[RollupItem, Delta] = {}
    for delta in deltas:
        if delta.item in merged:
            merged[delta.item].merge(delta)
        else:
            copy = Delta(delta.item)
            copy.merge(delta)
            merged[delta.item] = copy
    return list(merged.values())


@dataclass
class Contribution:
    """An event ready to apply, with its deltas."""

    event: StoredEvent
    sequence_number: str
    deltas: list[Delta]

    @property
    def event_ref(self) -> tuple[str, str]:
        """(workspace, event id): the event whose application is recorded once (its marker)."""
        return self.event.workspace_id, self.event.id


@dataclass
class _Group:
    """Contributions planned together, with the rollup items they update (so that the actions a group
    needs, one marker per event plus one update per distinct item, are known without recounting)."""

    entries: list[Contribution] = field(default_factory=list)
    items: set[RollupItem] = field(default_factory=set)

    @property
    def actions(self) -> int:
        return len(self.entries) + len(self.items)

    def actions_with(self, entries: int, items: Iterable[RollupItem]) -> int:
        return self.actions + entries + sum(1 for item in set(items) if item not in self.items)

    def add(self, entries: list[Contribution], items: Iterable[RollupItem]) -> None:
        self.entries.extend(entries)
        self.items.update(items)


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
            items = [d.item for d in entry.deltas]
            if piece.entries and piece.actions_with(1, items) > max_actions:
                pieces.append(piece)
                piece = _Group()
            piece.add([entry], items)
        pieces.append(piece)
    chunks: list[_Group] = []
    open_chunks: list[_Group] = []
    for piece in sorted(pieces, key=lambda p: p.actions, reverse=True):
        for chunk in open_chunks[-PACKING_WINDOW:]:
            if chunk.actions_with(len(piece.entries), piece.items) <= max_actions:
                chunk.add(piece.entries, piece.items)
                break
        else:
            chunk = _Group(list(piece.entries), set(piece.items))
            chunks.append(chunk)
            open_chunks.append(chunk)
        if chunk.actions >= max_actions:
            open_chunks.remove(chunk)
    return [chunk.entries for chunk in chunks]


# --- Rollup counters as figures --------------------------------------------------------------------


def _int(counters: Mapping[str, Any], name: str) -> int:
    return int(counters.get(name, 0))


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
    def from_counters(cls, counters: Mapping[str, Any]) -> UsageTotals:
        """The usage counted by `contributions` (counter name → value; a missing counter is 0)."""
        return cls(
            invocations=_int(counters, "invocations"),
            input_tokens=_int(counters, "inputTokens"),
            output_tokens=_int(counters, "outputTokens"),
            cache_read_tokens=_int(counters, "cacheReadTokens"),
            cache_write_tokens=_int(counters, "cacheWriteTokens"),
            input_cost=from_pico(_int(counters, "inputCostPico")),
            output_cost=from_pico(_int(counters, "outputCostPico")),
            unpriced_invocations=_int(counters, "unpricedInvocations"),
            unpriced_tokens=_int(counters, "unpricedTokens"),
            duration_ms_total=Decimal(_int(counters, "durationUsTotal")) / 1000,
            duration_count=_int(counters, "durationCount"),
            failed_invocations=_int(counters, "failedInvocations"),
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

    def models_of(self, agent_id: str) -> list[AgentModelMonth]:
        return [m for m in self.models if m.agent_id == agent_id]


def agent_month(agent_id: str, counters: Mapping[str, Any]) -> AgentMonth:
    """An agent's month from the counters of its agent item."""
    return AgentMonth(
        agent_id=agent_id,
        events=_int(counters, "events"),
        events_by_type={t: _int(counters, f"evt_{t}") for t in EVENT_TYPES},
        tasks=_int(counters, "tasks"),
        errors=_int(counters, "errors"),
        tasks_by_type={t: _int(counters, f"task_{t}") for t in ALL_TASK_TYPES if counters.get(f"task_{t}")},
        usage=UsageTotals.from_counters(counters),
    )


def workspace_month(month: str, counters: Mapping[str, Any]) -> WorkspaceMonth:
    """A workspace's month from the counters and the active-agent set of its workspace item."""
    return WorkspaceMonth(
        month=month,
        events=_int(counters, "events"),
        tasks=_int(counters, "tasks"),
        errors=_int(counters, "errors"),
        active_agents=frozenset(counters.get("activeAgents", set())),
        usage=UsageTotals.from_counters(counters),
    )
