"""The agent registry: PUT and PATCH /api/agents/{agentId}, GET /api/agents, GET /api/agents/{agentId}."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from costmetrics import auth, registry
from costmetrics.agents import AgentList, AgentOut
from costmetrics.api import caller, create_app, json_body, lambda_entry, openapi_responses
from costmetrics.events import AGENT_ID

app = create_app()
TAGS = ["Agents"]

AgentId = Annotated[
    str,
    Path(
        # Documented here, checked by costmetrics.registry (which also refuses the reserved ids).
        json_schema_extra={"pattern": AGENT_ID.pattern},
        description="1 to 64 letters, digits and . _ : - (starting with a letter or digit); "
        f"not {', '.join(sorted(registry.RESERVED_IDS))}, a route of its own",
    ),
]


@app.put(
    "/api/agents/<agentId>",
    summary="Create or replace an agent, every field given (admin)",
    tags=TAGS,
    responses=openapi_responses(400, 403, 413, 415),
)
def put_agent(agentId: AgentId) -> AgentOut:
    principal = caller(app, auth.ADMINS)
    return registry.register(principal.workspace_id, agentId, json_body(app))


@app.patch(
    "/api/agents/<agentId>",
    summary="Change some fields of an agent: a JSON Merge Patch (admin)",
    tags=TAGS,
    responses=openapi_responses(400, 403, 404, 409, 413, 415),
)
def patch_agent(agentId: AgentId) -> AgentOut:
    principal = caller(app, auth.ADMINS)
    return registry.amend(principal.workspace_id, agentId, json_body(app, merge_patch=True))


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
def get_agent(agentId: AgentId) -> AgentOut:
    principal = caller(app, auth.READERS)
    return registry.agent(principal.workspace_id, agentId)


lambda_handler = lambda_entry(app)
