"""The agent registry: PUT /api/agents/{agentId}, GET /api/agents, GET /api/agents/{agentId}."""

from __future__ import annotations

from costmetrics import auth, registry
from costmetrics.agents import AgentList, AgentOut
from costmetrics.api import caller, create_app, json_body, lambda_entry, openapi_responses

app = create_app()
TAGS = ["Agents"]


@app.put(
    "/api/agents/<agentId>",
    summary="Create or replace an agent (admin)",
    tags=TAGS,
    responses=openapi_responses(400, 403, 413, 415),
)
def put_agent(agentId: str) -> AgentOut:
    principal = caller(app, auth.ADMINS)
    return registry.register(principal.workspace_id, agentId, json_body(app))


@app.get(
    "/api/agents",
    summary="The agent registry of the workspace",
    tags=TAGS,
    responses=openapi_responses(403),
)
def list_agents() -> AgentList:
    principal = caller(app, auth.READERS)
    return registry.list_agents(principal.workspace_id)


@app.get(
    "/api/agents/<agentId>",
    summary="One agent of the registry",
    tags=TAGS,
    responses=openapi_responses(400, 403, 404),
)
def get_agent(agentId: str) -> AgentOut:
    principal = caller(app, auth.READERS)
    return registry.agent(principal.workspace_id, agentId)


lambda_handler = lambda_entry(app)
