"""The agent registry: request, stored and response models of an agent (the README's API section and
docs/metrics.md)."""

from __future__ import annotations

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
_CENTS = Decimal("0.01")


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

    def to_item(self, sk: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": self.workspace_id,
            "sk": sk or agent_sk(self.id),
            **self.model_dump(exclude={"workspace_id", "created_at", "updated_at"}),
            # Fixed-point amounts: DynamoDB numbers without exponent notation, whatever the JSON said.
            "human_equivalent_salary": self.human_equivalent_salary.quantize(_CENTS),
            "estimated_hours_saved": self.estimated_hours_saved.quantize(_CENTS),
            "cost_budget_monthly": self.cost_budget_monthly.quantize(_CENTS),
            "created_at": periods.stored(self.created_at),
            "updated_at": periods.stored(self.updated_at),
        }
        return {name: value for name, value in item.items() if value is not None}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Agent:
        fields = {name: item.get(name) for name in cls.model_fields if name not in {"workspace_id"}}
        fields["created_at"] = periods.parse_stored(item["created_at"])
        fields["updated_at"] = periods.parse_stored(item["updated_at"])
        return cls(workspace_id=item["pk"], **fields)


def agent_sk(agent_id: str) -> str:
    return f"A#{agent_id}"


ORIGIN = "0000-00"


def history_sk(agent_id: str, month: str) -> str:
    """The agent as it stood in `month`: written by every change, the last change of a month wins.
    `ORIGIN` holds the values the agent was first registered with."""
    return f"H#{agent_id}#{month}"


def agents_as_of(
    items: list[dict[str, Any]], month: str, active: set[str] | frozenset[str] = frozenset()
) -> list[Agent]:
    """The registry as it stood in `month`, from every current (A#) and history (H#) item of a workspace.

    An agent counts in `month` if it was registered by then, with the values of its last change up to that
    month (a later budget or salary change does not rewrite the past); or if it has activity in `month`
    although registered later (a backfill), with the values it was first registered with.
    """
    history: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    current: dict[str, dict[str, Any]] = {}
    for item in items:
        sk = str(item["sk"])
        if sk.startswith("H#"):
            agent_id, _, changed = sk[2:].rpartition("#")
            history.setdefault(agent_id, []).append((changed, item))
        elif sk.startswith("A#"):
            current[sk[2:]] = item
    found = []
    for agent_id, item in sorted(current.items()):
        versions = sorted(history.get(agent_id, []), key=lambda v: v[0])
        origin = next((v for changed, v in versions if changed == ORIGIN), None)
        changes = [(changed, v) for changed, v in versions if changed != ORIGIN]
        if not changes:  # registered before history was kept: the current values
            found.append(Agent.from_item(item))
            continue
        upto = [v for changed, v in changes if changed <= month]
        if upto:
            found.append(Agent.from_item(upto[-1]))
        elif agent_id in active:
            found.append(Agent.from_item(origin or changes[0][1]))
    return found


class AgentOut(BaseModel):
    """An agent as GET/PUT /api/agents answer it (snake_case, like the workforce endpoints)."""

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
