"""The agent registry: PUT and PATCH /api/agents/{agentId}, GET /api/agents, GET /api/agents/{agentId};
and the workspace's ingest keys, the machine credentials of its agents: POST, GET /api/ingest-keys,
DELETE /api/ingest-keys/{keyId}."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path

from costmetrics import auth, ingest_keys, periods, registry
from costmetrics.agents import AgentIn, AgentList, AgentOut
from costmetrics.api import (
    caller,
    create_app,
    json_of,
    json_response,
    lambda_entry,
    openapi_responses,
    parse_body,
    request_body,
)
from costmetrics.events import AGENT_ID
from costmetrics.writes import Patch

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
    openapi_extensions=request_body(AgentIn, "The whole agent (snake_case fields)"),
)
def put_agent(agentId: AgentId) -> AgentOut:
    principal = caller(app, auth.ADMINS)
    return registry.register(principal.workspace_id, agentId, parse_body(app, AgentIn))


@app.patch(
    "/api/agents/<agentId>",
    summary="Change some fields of an agent: a JSON Merge Patch (admin)",
    tags=TAGS,
    responses=openapi_responses(400, 403, 404, 409, 413, 415),
    openapi_extensions=request_body(
        Patch[AgentIn], "The agent's fields to change; a 404 for an agent not registered"
    ),
)
def patch_agent(agentId: AgentId) -> AgentOut:
    principal = caller(app, auth.ADMINS)
    return registry.amend(principal.workspace_id, agentId, parse_body(app, Patch[AgentIn]))


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


KEY_TAGS = ["Ingest keys"]


@app.post(
    "/api/ingest-keys",
    summary="Create an ingest key; the key is in this answer only (admin)",
    tags=KEY_TAGS,
    responses=openapi_responses(
        400,
        403,
        413,
        415,
        ok=json_of(ingest_keys.CreatedKey, "The new key, with the key itself, shown this once"),
        status=201,
    ),
    openapi_extensions=request_body(ingest_keys.NewKey, "The new key's name"),
)
def create_ingest_key() -> Any:
    principal = caller(app, auth.ADMINS)
    request = parse_body(app, ingest_keys.NewKey)
    created = ingest_keys.create(principal.workspace_id, request, principal.subject, periods.utcnow())
    return json_response(201, created.model_dump(mode="json"))


@app.get(
    "/api/ingest-keys",
    summary="The workspace's ingest keys, revoked ones included; never a key itself (admin)",
    tags=KEY_TAGS,
    responses=openapi_responses(403),
)
def list_ingest_keys() -> ingest_keys.KeyList:
    principal = caller(app, auth.ADMINS)
    return ingest_keys.list_keys(principal.workspace_id)


@app.delete(
    "/api/ingest-keys/<keyId>",
    summary="Revoke an ingest key: refused by API Gateway within 5 minutes, its cache TTL (admin)",
    tags=KEY_TAGS,
    responses=openapi_responses(400, 403, 404),
)
def revoke_ingest_key(
    keyId: Annotated[
        str,
        Path(
            # Documented here, checked by costmetrics.ingest_keys.revoke (any other id is a 404).
            json_schema_extra={"pattern": ingest_keys.KEY_ID.pattern},
            description="the key's id: 16 lowercase hex digits, as listed by GET /api/ingest-keys",
        ),
    ],
) -> ingest_keys.IngestKeyOut:
    principal = caller(app, auth.ADMINS)
    return ingest_keys.revoke(principal.workspace_id, keyId, periods.utcnow())


lambda_handler = lambda_entry(app)
