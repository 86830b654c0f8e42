"""Agent registry logic: create or replace, list, read."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from costmetrics import periods
from costmetrics.agents import Agent, AgentIn, AgentList, AgentOut
from costmetrics.errors import InvalidRequest, NotFound
from costmetrics.events import AGENT_ID, describe
from costmetrics.repositories import agents as agents_repo

# /api/agents/workforce/* are routes of their own, so no agent may be called "workforce".
RESERVED_IDS = frozenset({"workforce"})


def _checked_id(agent_id: str) -> str:
    if agent_id in RESERVED_IDS:
        raise InvalidRequest(
            f"agentId {agent_id!r} is reserved by the API's own routes",
            details=[{"in": "path", "field": "agentId", "problem": "reserved"}],
        )
    if not AGENT_ID.match(agent_id):
        raise InvalidRequest(
            f"agentId {agent_id!r} is invalid: 1-64 characters, letters, digits and . _ : -",
            details=[{"in": "path", "field": "agentId", "problem": "invalid agent id"}],
        )
    return agent_id


def register(workspace_id: str, agent_id: str, body: Any) -> AgentOut:
    """Creates or replaces an agent; its creation time survives a replace."""
    _checked_id(agent_id)
    try:
        request = AgentIn.model_validate(body)
    except ValidationError as error:
        raise InvalidRequest(describe(error), details=[{"in": "body", "problem": describe(error)}]) from None
    existing = agents_repo.get_agent(workspace_id, agent_id)
    now = periods.utcnow()
    agent = Agent.from_request(
        workspace_id, agent_id, request, now=now, created_at=existing.created_at if existing else None
    )
    agents_repo.put_agent(agent, created=existing is None)
    return AgentOut.of(agent)


def list_agents(workspace_id: str) -> AgentList:
    return AgentList(agents=[AgentOut.of(a) for a in agents_repo.agents_of_workspace(workspace_id)])


def agent(workspace_id: str, agent_id: str) -> AgentOut:
    found = agents_repo.get_agent(workspace_id, _checked_id(agent_id))
    if found is None:
        raise NotFound(f"no agent {agent_id!r} in this workspace")
    return AgentOut.of(found)
