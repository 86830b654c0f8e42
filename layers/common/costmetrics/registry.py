"""Agent registry logic: create or replace (PUT, every field), change some fields (PATCH, a JSON Merge
Patch), list, read."""

from __future__ import annotations

from costmetrics import periods
from costmetrics.agents import Agent, AgentIn, AgentList, AgentOut
from costmetrics.errors import Conflict, InvalidRequest, NotFound
from costmetrics.events import AGENT_ID
from costmetrics.repositories import agents as agents_repo
from costmetrics.writes import Patch

# A PATCH re-reads and re-applies itself when the agent changed between its read and its write.
PATCH_ATTEMPTS = 5

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


def register(workspace_id: str, agent_id: str, request: AgentIn) -> AgentOut:
    """Creates or replaces an agent given whole; its creation time survives a replace."""
    _checked_id(agent_id)
    existing = agents_repo.get_agent(workspace_id, agent_id)
    now = periods.utcnow()
    agent = Agent.from_request(
        workspace_id, agent_id, request, now=now, created_at=existing.created_at if existing else None
    )
    agents_repo.put_agent(agent, created=existing is None)
    return AgentOut.of(agent)


def amend(workspace_id: str, agent_id: str, patch: Patch[AgentIn]) -> AgentOut:
    """Changes the fields a merge patch gives, and only those, of an existing agent. A change made by
    someone else between this read and this write is never overwritten: the patch is applied again to it."""
    _checked_id(agent_id)
    for _ in range(PATCH_ATTEMPTS):
        existing = agents_repo.get_agent(workspace_id, agent_id)
        if existing is None:
            raise NotFound(f"no agent {agent_id!r} in this workspace: create it with PUT (every field)")
        request = patch.applied_to(AgentIn.of(existing))
        agent = Agent.from_request(
            workspace_id, agent_id, request, now=periods.utcnow(), created_at=existing.created_at
        )
        try:
            agents_repo.replace_agent_if_unchanged(agent, existing)
        except agents_repo.ConcurrentChange:
            continue
        return AgentOut.of(agent)
    raise Conflict(f"agent {agent_id!r} kept changing while this patch was applied: send it again")


def list_agents(workspace_id: str) -> AgentList:
    return AgentList(agents=[AgentOut.of(a) for a in agents_repo.agents_of_workspace(workspace_id)])


def agent(workspace_id: str, agent_id: str) -> AgentOut:
    found = agents_repo.get_agent(workspace_id, _checked_id(agent_id))
    if found is None:
        raise NotFound(f"no agent {agent_id!r} in this workspace")
    return AgentOut.of(found)
