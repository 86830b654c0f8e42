"""The web console: GET /console (the page) and GET /console/{asset} (its scripts, style sheet and icon, the
files of assets/ beside this module, served as they are: no build step, no third-party host).

The page signs the user in against the stack's Cognito user pool (USER_PASSWORD_AUTH with the app client,
from the browser) and then calls only the public API with the user's ID token, so it shows exactly what
the API shows, and a viewer cannot do what the API forbids. What the browser needs to know is embedded in
the page as JSON: the API's base path, the user pool, the app client and the Cognito endpoint (the region's
cognito-idp, or the local stack's emulator), and the fields the API's request models take.

Both routes are open at API Gateway (Authorizer: NONE), like /api/docs: a browser opening a page sends no
bearer token. They carry no workspace data; the function has no AWS permission of its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, get_args
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from costmetrics.activity import MAX_LIMIT
from costmetrics.agents import AgentIn, AgentStatus
from costmetrics.api import create_app, file_name, lambda_entry, openapi_responses
from costmetrics.config import settings
from costmetrics.errors import NotFound
from costmetrics.events import EVENT_TYPES
from costmetrics.pages import base_path, page_headers, script_json
from costmetrics.price_admin import PriceIn
from costmetrics.pricing import TIERS
from costmetrics.workforce import DEFAULT_TREND_MONTHS, MAX_TREND_MONTHS

app = create_app()
TAGS = ["Console"]

HERE = Path(__file__).parent
ASSET_DIR = HERE / "assets"
PAGE_FILE = HERE / "page.html"
# Text only: API Gateway passes these through without binary media types.
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
}
# What an asset may do if it were opened on its own (an SVG is a document): nothing.
ASSET_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@dataclass(frozen=True)
class Asset:
    body: str
    content_type: str
    etag: str


def _etag(body: str) -> str:
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


# The names the console serves, which the OpenAPI document lists: no other name is a file of it.
ASSET_NAMES = sorted(p.name for p in ASSET_DIR.iterdir() if p.is_file() and p.suffix in CONTENT_TYPES)


@cache
def assets() -> dict[str, Asset]:
    """The files of assets/ by name, with their content type and ETag (read once per container)."""
    found = {}
    for name in ASSET_NAMES:
        body = (ASSET_DIR / name).read_text(encoding="utf-8")
        found[name] = Asset(body, CONTENT_TYPES[(ASSET_DIR / name).suffix], _etag(body))
    return found


@cache
def page_template() -> str:
    return PAGE_FILE.read_text(encoding="utf-8")


def cognito_origin(endpoint: str) -> str | None:
    """The origin (scheme://host[:port]) of the Cognito endpoint, for the page's connect-src; None when the
    endpoint is not an http(s) URL."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(cognito: str | None) -> str:
    """Scripts, styles and images from this origin only (no inline script or style), and requests to this
    origin (the API) and to the Cognito endpoint alone."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src 'self' {cognito}" if cognito else "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def console_config(prefix: str) -> dict[str, Any]:
    """What the page's script reads from the page: where the API and Cognito are, and what the API takes."""
    config = settings()
    return {
        "apiBase": prefix,
        "stage": config.stage,
        "region": config.region,
        "userPoolId": config.user_pool_id,
        "clientId": config.user_pool_client_id,
        "cognitoEndpoint": config.cognito_endpoint if cognito_origin(config.cognito_endpoint) else "",
        # A registration sends every field the request model takes (PUT replaces), and nothing else.
        "agentFields": list(AgentIn.model_fields),
        "agentStatuses": list(get_args(AgentStatus)),
        "priceFields": [field.alias or name for name, field in PriceIn.model_fields.items()],
        "tiers": list(TIERS),
        "eventTypes": list(EVENT_TYPES),
        "trendMonths": {"min": 1, "max": MAX_TREND_MONTHS, "default": DEFAULT_TREND_MONTHS},
        "activityPageLimit": MAX_LIMIT,
    }


def render_page(prefix: str) -> str:
    assets_url = f"{prefix}/console"
    return (
        page_template()
        .replace("{{assets}}", assets_url)
        .replace("{{config}}", script_json(console_config(prefix)))
    )


def _not_modified(etag: str) -> bool:
    headers = app.current_event.headers or {}
    sent = next((v for k, v in headers.items() if k.lower() == "if-none-match"), "") or ""
    return etag in [tag.strip() for tag in sent.split(",")]


def _answer(body: str, content_type: str, headers: dict[str, str]) -> Response[str]:
    etag = _etag(body)
    if _not_modified(etag):
        return Response(status_code=304, body="", headers={**headers, "ETag": etag})
    return Response(status_code=200, content_type=content_type, body=body, headers={**headers, "ETag": etag})


NOT_MODIFIED: OpenAPIResponse = {
    "description": "Not modified: If-None-Match names the current ETag",
    "content": {},
}
PAGE: OpenAPIResponse = {
    "description": "The console's page (HTML); its Content-Security-Policy allows this origin and Cognito",
    "content": {"text/html": {"schema": {"type": "string"}}},
}
ASSET: OpenAPIResponse = {
    "description": "A script, the style sheet or the icon of the console",
    "content": {media.split(";")[0]: {"schema": {"type": "string"}} for media in CONTENT_TYPES.values()},
}


@app.get(
    "/console",
    summary="The web console: costs, budgets, recommendations, workforce ROI and activity in a browser",
    tags=TAGS,
    responses={**openapi_responses(ok=PAGE), 304: NOT_MODIFIED},
)
def get_console() -> Response[str]:
    prefix = base_path(app)
    policy = content_security_policy(cognito_origin(settings().cognito_endpoint))
    return _answer(render_page(prefix), "text/html; charset=utf-8", page_headers(policy))


@app.get(
    "/console/<asset>",
    summary="A file of the web console (script, style sheet or icon)",
    tags=TAGS,
    responses={**openapi_responses(400, 404, ok=ASSET), 304: NOT_MODIFIED},
)
def get_asset(asset: Annotated[str, file_name(ASSET_NAMES, "a file of the console")]) -> Response[str]:
    found = assets().get(asset)
    if found is None:
        raise NotFound(f"the console has no file named {asset!r}")
    return _answer(found.body, found.content_type, page_headers(ASSET_POLICY))


lambda_handler = lambda_entry(app)
