"""The agent registry: PUT /api/agents/{agentId}, GET /api/agents, GET /api/agents/{agentId}."""

from __future__ import annotations

from costmetrics import auth, registry
from costmetrics.agents import AgentList, AgentOut
from costmetrics.api import caller, create_app, json_body, lambda_entry

app = create_app()


@app.put("/api/agents/<agentId>")
def put_agent(agentId: str) -> AgentOut:
    principal = caller(app, auth.ADMINS)
    return registry.register(principal.workspace_id, agentId, json_body(app))


@app.get("/api/agents")
def list_agents() -> AgentList:
    principal = caller(app, auth.READERS)
    return registry.list_agents(principal.workspace_id)


@app.get("/api/agents/<agentId>")
def get_agent(agentId: str) -> AgentOut:
    principal = caller(app, auth.READERS)
    return registry.agent(principal.workspace_id, agentId)


lambda_handler = lambda_entry(app)
