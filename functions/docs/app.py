"""API documentation: GET /api/openapi.json (the OpenAPI document of the whole API) and GET /api/docs
(Swagger UI). What they show depends on DOCS_ACCESS, the template's ApiDocs parameter:

- public: /api/docs embeds the document, so anyone can read it; "Authorize" takes an ID token to try calls.
- authenticated: /api/docs is only the Swagger UI shell; it asks for an ID token and loads the document
  from /api/openapi.json with it.
- off: both answer 404 (on AWS the function and its routes are not even deployed).

/api/openapi.json is always behind the Cognito authorizer; /api/docs never is, since a browser opening a
page cannot send a bearer token. openapi.json beside this file is written by `make openapi`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from costmetrics.api import create_app, lambda_entry, openapi_responses
from costmetrics.config import settings
from costmetrics.errors import NotFound, Unauthorized
from costmetrics.pages import base_url, page_headers, script_json

app = create_app()
TAGS = ["Documentation"]

SPEC_FILE = Path(__file__).with_name("openapi.json")
ACCESS_MODES = ("public", "authenticated", "off")
SECURITY_SCHEME = "CognitoIdToken"

# swagger-ui-dist 5.35.0 from the npm registry, vendored in swagger-ui/ with its licence and served by this
# function (no third-party host at run time); the page still pins the files by their SRI hashes.
SWAGGER_UI_VERSION = "5.35.0"
SWAGGER_UI_DIR = Path(__file__).with_name("swagger-ui")
SWAGGER_UI_ASSETS = {
    "swagger-ui.css": (
        "text/css; charset=utf-8",
        "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
    ),
    "swagger-ui-bundle.js": (
        "text/javascript; charset=utf-8",
        "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
    ),
}
SWAGGER_UI_CSS_SRI = SWAGGER_UI_ASSETS["swagger-ui.css"][1]
SWAGGER_UI_JS_SRI = SWAGGER_UI_ASSETS["swagger-ui-bundle.js"][1]


def access() -> str:
    """DOCS_ACCESS; an unknown value counts as off."""
    mode = settings().docs_access
    return mode if mode in ACCESS_MODES else "off"


@cache
def committed_spec() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    return document


def served_spec() -> dict[str, Any]:
    """The committed document, its servers set to where this request came in."""
    document = copy.copy(committed_spec())
    document["servers"] = [{"url": base_url(app), "description": f"this API ({settings().stage})"}]
    return document


def principal_from_claims_or_401(claims: dict[str, Any] | None) -> None:
    """Any verified ID token may read the document (no workspace or group needed); none is a 401."""
    if not claims:
        raise Unauthorized("missing or invalid bearer token")


def _require_docs() -> None:
    if access() == "off":
        raise NotFound("the API documentation is turned off on this stage")


OPENAPI_DOCUMENT: OpenAPIResponse = {
    "description": "This OpenAPI 3.1 document, its servers set to the URL it was read from",
    "content": {
        content_types.APPLICATION_JSON: {
            "schema": {"type": "object", "required": ["openapi", "info", "paths"]},
        }
    },
}
SWAGGER_ASSET: OpenAPIResponse = {
    "description": f"swagger-ui-dist {SWAGGER_UI_VERSION}: its script or its style sheet",
    "content": {
        "text/javascript": {"schema": {"type": "string"}},
        "text/css": {"schema": {"type": "string"}},
    },
}
SWAGGER_PAGE: OpenAPIResponse = {
    "description": "Swagger UI (HTML)",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


@app.get(
    "/api/openapi.json",
    summary="The OpenAPI document of this API",
    tags=TAGS,
    responses=openapi_responses(404, ok=OPENAPI_DOCUMENT),
)
def get_openapi() -> Response[str]:
    # Behind the Cognito authorizer: any verified ID token (API Gateway never calls without claims).
    principal_from_claims_or_401(app.current_event.request_context.authorizer.claims)
    _require_docs()
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(served_spec(), separators=(",", ":")),
        headers={"Cache-Control": "no-cache"},
    )


_INIT_SCRIPT = """
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("docs-config").textContent);
  function start(spec, token) {
    var ui = SwaggerUIBundle({
      spec: spec,
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      displayRequestDuration: true
    });
    if (token) { ui.preauthorizeApiKey(config.scheme, token); }
    window.ui = ui;
  }
  if (config.spec) { start(config.spec, null); return; }
  var form = document.getElementById("sign-in");
  var problem = document.getElementById("problem");
  form.hidden = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var token = form.elements.token.value.trim().replace(/^Bearer\\s+/i, "");
    fetch(config.specUrl, { headers: { Authorization: "Bearer " + token } })
      .then(function (reply) {
        if (!reply.ok) {
          throw new Error(reply.status === 401
            ? "That token was not accepted (401): sign in again for a fresh ID token."
            : "The documentation could not be loaded (HTTP " + reply.status + ").");
        }
        return reply.json();
      })
      .then(function (spec) { form.hidden = true; start(spec, token); })
      .catch(function (error) { problem.textContent = error.message; });
  });
})();
"""
_INIT_HASH = base64.b64encode(hashlib.sha256(_INIT_SCRIPT.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        f"script-src 'self' 'sha256-{_INIT_HASH}'",
        # Swagger UI sets style attributes on its elements.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cost &amp; Metrics API</title>
<link rel="stylesheet" href="{ui}/swagger-ui.css" integrity="{css_sri}" crossorigin="anonymous">
<style>
body {{ margin: 0; }}
#sign-in {{ font-family: sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }}
#sign-in textarea {{ width: 100%; font-family: monospace; }}
</style>
</head>
<body>
<form id="sign-in" hidden>
<h1>Cost &amp; Metrics API</h1>
<p>The API documentation of this stage is for signed-in users. Paste a Cognito ID token (the IdToken
that initiate-auth returns) to load it; it is kept in this page only.</p>
<p><label for="token">ID token</label><br>
<textarea id="token" name="token" rows="6" required autocomplete="off"></textarea></p>
<p><button type="submit">Load the documentation</button></p>
<p id="problem" role="alert"></p>
</form>
<div id="swagger-ui"></div>
<script type="application/json" id="docs-config">{config}</script>
<script src="{ui}/swagger-ui-bundle.js" integrity="{js_sri}" crossorigin="anonymous"></script>
<script>{init}</script>
</body>
</html>
"""


def swagger_page() -> str:
    config = {
        "scheme": SECURITY_SCHEME,
        "specUrl": f"{base_url(app)}/api/openapi.json",
        "spec": served_spec() if access() == "public" else None,
    }
    return _PAGE.format(
        ui=f"{base_url(app)}/api/docs",
        css_sri=SWAGGER_UI_CSS_SRI,
        js_sri=SWAGGER_UI_JS_SRI,
        config=script_json(config),
        init=_INIT_SCRIPT,
    )


@app.get(
    "/api/docs",
    summary="Swagger UI for this API",
    tags=TAGS,
    responses=openapi_responses(404, ok=SWAGGER_PAGE),
)
def get_docs() -> Response[str]:
    _require_docs()
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=swagger_page(),
        headers=page_headers(CONTENT_SECURITY_POLICY),
    )


@cache
def _asset(name: str) -> str:
    return (SWAGGER_UI_DIR / name).read_text(encoding="utf-8")


@app.get(
    "/api/docs/<asset>",
    summary="Swagger UI's script and style sheet, served with the page (no third-party host)",
    tags=TAGS,
    responses=openapi_responses(400, 404, ok=SWAGGER_ASSET),
)
def get_docs_asset(asset: str) -> Response[str]:
    _require_docs()
    if asset not in SWAGGER_UI_ASSETS:
        raise NotFound(f"no such documentation asset: {asset!r}")
    return Response(
        status_code=200,
        content_type=SWAGGER_UI_ASSETS[asset][0],
        body=_asset(asset),
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


lambda_handler = lambda_entry(app)
