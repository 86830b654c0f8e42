"""The agent registry: request, stored and response models of an agent (the README's API section and
docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from costmetrics import periods
from costmetrics.numbers import JsonDecimal, Money, Quantity

AgentStatus = Literal["online", "offline", "paused", "draft"]
# docs/metrics.md: an active agent is one whose status is online or offline (deployed, in service).
ACTIVE_STATUSES: frozenset[str] = frozenset({"online", "offline"})
# A draft agent replaces no one: no human equivalent, no hours saved, no savings.
REPLACES_NO_ONE: frozenset[str] = frozenset({"draft"})
# Events from an agent in these statuses are a signal for its manager (events_while_paused).
NOT_IN_SERVICE: frozenset[str] = frozenset({"paused", "draft"})

Text = Annotated[str, Field(min_length=1, max_length=200)]
Amount = Annotated[JsonDecimal, Field(ge=0, le=Decimal(10) ** 12, decimal_places=2)]


class AgentIn(BaseModel):
    """An agent as a client writes it: PUT /api/agents/{agentId} gives every field (null for an empty
    optional one), PATCH the ones to change (costmetrics.writes)."""

    model_config = ConfigDict(extra="forbid")
    NOUN: ClassVar[str] = "agent"

    name: Text
    status: AgentStatus
    category: Text | None
    department: Text | None
    role_title: Text | None
    model_provider: Text | None
    model_name: Text | None
    human_equivalent_salary: Amount
    estimated_hours_saved: Amount
    cost_budget_monthly: Amount

    @classmethod
    def of(cls, agent: Agent) -> dict[str, Any]:
        """The agent's writable fields, as the document a merge patch applies to."""
        return agent.model_dump(include=set(cls.model_fields))


class Agent(BaseModel):
    """An agent as the registry keeps it."""

    model_config = ConfigDict(frozen=True)

    workspace_id: str
    id: str
    name: str
    status: AgentStatus
    category: str | None
    department: str | None
    role_title: str | None
    model_provider: str | None
    model_name: str | None
    human_equivalent_salary: Decimal
    estimated_hours_saved: Decimal
    cost_budget_monthly: Decimal
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_request(
        cls,
        workspace_id: str,
        agent_id: str,
        body: AgentIn,
        *,
        now: datetime,
        created_at: datetime | None = None,
    ) -> Agent:
        return cls(
            workspace_id=workspace_id,
            id=agent_id,
            created_at=created_at or now,
            updated_at=now,
            **body.model_dump(),
        )


@dataclass(frozen=True)
class AgentHistory:
    """An agent as it is now, as it was first registered, and as each month with a change left it."""

    current: Agent
    first: Agent | None = None  # None: registered before history was kept
    changes: dict[str, Agent] = field(default_factory=dict)  # month → the agent after its last change


def agents_as_of(
    histories: list[AgentHistory], month: str, active: set[str] | frozenset[str] = frozenset()
) -> list[Agent]:
    """The registry as it stood in `month`, from the histories of a workspace's agents (by agent id).

    An agent counts in `month` if it was registered by then, with the values of its last change up to that
    month (a later budget or salary change does not rewrite the past); or if it has activity in `month`
    although registered later (a backfill), with the values it was first registered with.
    """
    found = []
    for history in histories:
        if not history.changes:  # registered before history was kept: the current values
            found.append(history.current)
            continue
        upto = [history.changes[changed] for changed in sorted(history.changes) if changed <= month]
        if upto:
            found.append(upto[-1])
        elif history.current.id in active:
            found.append(history.first or history.changes[min(history.changes)])
    return found


class AgentProfile(BaseModel):
    """The agent's own fields that every answer about an agent starts with, in this order (snake_case)."""

    id: str
    name: str
    status: AgentStatus
    category: str | None
    department: str | None
    role_title: str | None
    model_provider: str | None
    model_name: str | None
    human_equivalent_salary: Money
    estimated_hours_saved: Quantity


class AgentOut(AgentProfile):
    """An agent as GET/PUT /api/agents answer it (snake_case, like the workforce endpoints)."""

    cost_budget_monthly: Money
    created_at: periods.Instant
    updated_at: periods.Instant

    @classmethod
    def of(cls, agent: Agent) -> AgentOut:
        return cls(
            **agent.model_dump(exclude={"workspace_id", "created_at", "updated_at"}),
            created_at=periods.display(agent.created_at),
            updated_at=periods.display(agent.updated_at),
        )


class AgentList(BaseModel):
    agents: list[AgentOut]
