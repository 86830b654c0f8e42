"""The OpenAPI document: the committed copies are what the routes generate, it has exactly the template's
routes, states who may call what and how errors look, keeps the reference's field names, and DocsFunction
serves it (and Swagger UI) as the ApiDocs parameter says."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.apigw import LambdaContext, claims_for, rest_event
from local_stack.template import load, resources, routes
from tests.reference import EXAMPLES
from tools.openapi import DOCS_FILE, REF, SECURITY_SCHEME, SERVED_FILE, build, render, version

REGENERATE = "run `make openapi` (python -m tools.openapi) and commit docs/openapi.json"


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """The tests set DOCS_ACCESS; the settings are read once per process, so each test reads them anew."""
    from costmetrics.config import settings

    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return build()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].removeprefix(REF)]
    return schema


# --- In sync -------------------------------------------------------------------------------------------


def test_the_committed_document_is_what_the_routes_generate(spec: dict[str, Any]) -> None:
    assert DOCS_FILE.read_text(encoding="utf-8") == render(spec), REGENERATE


def test_the_function_serves_the_one_committed_document_through_a_link() -> None:
    assert SERVED_FILE.is_symlink()
    assert SERVED_FILE.resolve() == DOCS_FILE.resolve()


def test_every_template_route_is_an_operation_and_every_operation_a_template_route(
    spec: dict[str, Any],
) -> None:
    in_template = {(route.method, route.path) for route in routes()}
    in_spec = {(method, path) for method, path, _ in operations(spec)}
    assert in_spec - in_template == set(), "operations that API Gateway does not route"
    assert in_template - in_spec == set(), "routes that the document leaves out"


def test_the_document_names_the_api_and_its_version(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    assert spec["info"]["title"] == "Cost & Metrics API"
    assert spec["info"]["version"] == version()
    assert len({op["operationId"] for _, _, op in operations(spec)}) == len(list(operations(spec)))


# --- Who may call -----------------------------------------------------------------------------------------


def test_the_cognito_bearer_scheme_guards_exactly_the_authorized_routes(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"][SECURITY_SCHEME] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": spec["components"]["securitySchemes"][SECURITY_SCHEME]["description"],
    }
    assert spec["security"] == [{SECURITY_SCHEME: []}]
    authorized = {(route.method, route.path): route.authorized for route in routes()}
    by_key = {(r.method, r.path) for r in routes() if r.authorizer == "IngestKeyAuthorizer"}
    for method, path, operation in operations(spec):
        if (method, path) in by_key:  # the ingest authorizer: an ID token or an ingest key
            assert operation["security"] == [{SECURITY_SCHEME: []}, {"IngestKey": []}], f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path}"
        elif authorized[(method, path)]:
            assert "security" not in operation, f"{method} {path} must inherit the bearer scheme"
            assert "401" in operation["responses"], f"{method} {path}"
        else:
            assert operation["security"] == [], f"{method} {path} is open at API Gateway"
            assert "401" not in operation["responses"], f"{method} {path}"
    open_routes = {(m, p) for (m, p), needs_token in authorized.items() if not needs_token}
    assert open_routes == {
        ("GET", "/api/health"),
        ("GET", "/api/docs"),
        ("GET", "/api/docs/{asset}"),
        ("GET", "/console"),
        ("GET", "/console/{asset}"),
    }


# --- Errors and bodies --------------------------------------------------------------------------------------


def test_every_error_answer_has_the_error_body(spec: dict[str, Any]) -> None:
    error = spec["components"]["schemas"]["ApiError"]
    assert error["required"] == ["error", "message"]
    assert set(error["properties"]) == {"error", "message", "details"}
    for method, path, operation in operations(spec):
        assert "422" not in operation["responses"], f"{method} {path}: validation errors are 400s"
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": REF + "ApiError"}, f"{method} {path} {status}"


def test_routes_with_parameters_declare_the_400_of_bad_input(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        if operation.get("parameters") and path not in (
            "/api/docs",
            "/api/docs/{asset}",
            "/api/openapi.json",
        ):
            assert "400" in operation["responses"], f"{method} {path}"


def test_routes_that_read_a_body_document_it_and_its_errors(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        if method in ("PUT", "POST", "PATCH"):
            body = operation["requestBody"]
            assert body["required"] is True
            if path == "/v1/traces":  # OTLP messages, in either encoding
                assert set(body["content"]) == {"application/json", "application/x-protobuf"}
            else:
                schema = body["content"]["application/json"]["schema"]
                assert schema["$ref"].startswith(REF), f"{method} {path}"
            assert {"400", "403", "413", "415"} <= set(operation["responses"]), f"{method} {path}"
        else:
            assert "requestBody" not in operation, f"{method} {path}"


def test_a_put_requires_every_field_and_a_patch_none(spec: dict[str, Any]) -> None:
    writes = {(m, p): op for m, p, op in operations(spec) if m in ("PUT", "PATCH")}
    paths = {p for _, p in writes}
    assert paths == {
        "/api/agents/{agentId}",
        "/api/cost-analysis/pricing/{modelId}",
        "/api/cost-analysis/budget-alerts/settings",
    }
    for path in paths:
        put = resolve(spec, writes[("PUT", path)]["requestBody"]["content"]["application/json"]["schema"])
        content = writes[("PATCH", path)]["requestBody"]["content"]
        assert set(content) == {"application/json", "application/merge-patch+json"}, path
        patch = resolve(spec, content["application/merge-patch+json"]["schema"])
        # effectiveFrom is when a price starts: a parameter of the write, not a field of the price.
        assert set(put["required"]) == set(put["properties"]) - {"effectiveFrom"}, path
        assert "required" not in patch, path
        assert patch["properties"] == put["properties"], path
        assert "RFC 7396" in patch["description"], path
    price = resolve(
        spec,
        writes[("PUT", "/api/cost-analysis/pricing/{modelId}")]["requestBody"]["content"]["application/json"][
            "schema"
        ],
    )
    assert {"provider", "category"} <= set(price["required"])


# --- The rules the server enforces, said by the document --------------------------------------------------


def parameter(spec: dict[str, Any], method: str, path: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        p for p in spec["paths"][path][method.lower()]["parameters"] if p["name"] == name
    )
    return found


def test_the_month_pattern_is_the_servers(spec: dict[str, Any]) -> None:
    import re

    from costmetrics.errors import InvalidRequest
    from costmetrics.periods import parse_month

    months = [
        (m, p, op)
        for m, p, op in operations(spec)
        for par in op.get("parameters", [])
        if par["name"] == "month"
    ]
    assert len(months) == 8
    pattern = {parameter(spec, m, p, "month")["schema"]["pattern"] for m, p, _ in months}
    assert len(pattern) == 1
    regex = re.compile(pattern.pop())
    for value in [
        "0000-01",
        "0001-01",
        "1999-12",
        "2100-01",
        "9999-12",
        "2026-13",
        "2026-00",
        "2026-1",
        "２０２６-01",
        "12026-01",
        " 2026-01",
    ]:
        assert not regex.search(value), value
        with pytest.raises(InvalidRequest):
            parse_month(value)
    for value in ["2000-01", "2026-03", "2099-12"]:
        assert regex.search(value), value
        assert parse_month(value) == value


def test_enums_formats_and_patterns_of_the_parameters(spec: dict[str, Any]) -> None:
    from costmetrics.events import AGENT_ID, EVENT_TYPES
    from costmetrics.pricing import MODEL_ID

    assert parameter(spec, "GET", "/api/activity", "eventType")["schema"]["enum"] == list(EVENT_TYPES)
    for path, name in [("/api/activity", "from"), ("/api/activity", "to"), ("/api/activity/feed", "since")]:
        assert parameter(spec, "GET", path, name)["schema"]["format"] == "date-time", name
    for method in ("GET", "PUT", "PATCH"):
        schema = parameter(spec, method, "/api/agents/{agentId}", "agentId")["schema"]
        assert schema["pattern"] == AGENT_ID.pattern
    for method in ("PUT", "PATCH"):
        schema = parameter(spec, method, "/api/cost-analysis/pricing/{modelId}", "modelId")["schema"]
        assert schema["pattern"] == MODEL_ID.pattern
    assert parameter(spec, "GET", "/api/activity", "offset")["schema"]["maximum"] == 10_000
    # A cursor is bound to the filters of its first page: the document says which.
    listing = parameter(spec, "GET", "/api/activity", "nextToken")["description"]
    assert all(name in listing for name in ("agentId", "eventType", "from", "to", "offset"))
    assert "since" in parameter(spec, "GET", "/api/activity/feed", "nextToken")["description"]


def test_a_file_parameter_lists_exactly_the_files_served(spec: dict[str, Any]) -> None:
    from functions.console.app import ASSET_DIR
    from functions.docs.app import SWAGGER_UI_ASSETS, SWAGGER_UI_DIR

    console = parameter(spec, "GET", "/console/{asset}", "asset")["schema"]["enum"]
    assert console == sorted(p.name for p in ASSET_DIR.iterdir() if p.suffix in (".js", ".css", ".svg"))
    docs = parameter(spec, "GET", "/api/docs/{asset}", "asset")["schema"]["enum"]
    assert docs == sorted(SWAGGER_UI_ASSETS)
    assert all((SWAGGER_UI_DIR / name).is_file() for name in docs)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("otel fleet", True),
        ("é · ü", True),
        ("a\x85b", True),  # a space of Unicode's inside a name
        (" leading", False),
        ("trailing\u3000", False),
        ("\xa0", False),
        ("tab\tinside", False),
        ("bell\x07", False),
        ("del\x7f", False),
    ],
)
def test_an_ingest_key_name_is_the_documents_pattern(spec: dict[str, Any], name: str, valid: bool) -> None:
    import re

    from pydantic import ValidationError

    from costmetrics.ingest_keys import NewKey

    pattern = spec["components"]["schemas"]["NewKey"]["properties"]["name"]["pattern"]
    assert bool(re.fullmatch(pattern, name)) is valid
    if valid:
        assert NewKey.model_validate({"name": name}).name == name
    else:
        with pytest.raises(ValidationError, match="must be printable"):
            NewKey.model_validate({"name": name})


def test_an_ingest_key_id_is_the_documents_pattern(spec: dict[str, Any]) -> None:
    from costmetrics.ingest_keys import KEY_ID

    schema = parameter(spec, "DELETE", "/api/ingest-keys/{keyId}", "keyId")["schema"]
    assert schema["pattern"] == KEY_ID.pattern


def test_body_rules_are_in_the_schemas(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    agent = schemas["AgentIn"]["properties"]
    for name in ("cost_budget_monthly", "human_equivalent_salary", "estimated_hours_saved"):
        assert agent[name]["multipleOf"] == 0.01, name
    price = schemas["PriceIn"]["properties"]
    assert price["inputPricePerMillion"]["multipleOf"] == 0.000001
    assert price["cacheReadPricePerMillion"]["anyOf"][0]["multipleOf"] == 0.000001
    assert price["effectiveFrom"]["anyOf"][0]["format"] == "date-time"
    assert price["category"]["enum"] == ["economy", "standard", "flagship"]
    thresholds = resolve(
        spec,
        spec["paths"]["/api/cost-analysis/budget-alerts/settings"]["put"]["requestBody"]["content"][
            "application/json"
        ]["schema"],
    )["properties"]["thresholds"]
    assert (thresholds["items"]["minimum"], thresholds["items"]["maximum"]) == (1, 1000)
    assert (thresholds["minItems"], thresholds["maxItems"]) == (1, 5)
    event = schemas["IncomingEvent"]["properties"]
    assert event["createdAt"]["format"] == "date-time"
    assert event["eventType"]["enum"]


def test_input_numbers_are_json_numbers_in_standard_keywords(spec: dict[str, Any]) -> None:
    price = spec["components"]["schemas"]["PriceIn"]["properties"]["inputPricePerMillion"]
    assert price["type"] == "number"
    assert (price["minimum"], price["maximum"]) == (0, 100000)

    def keys(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield key
                yield from keys(item)
        elif isinstance(value, list):
            for item in value:
                yield from keys(item)

    assert {"ge", "le", "gt", "lt", "decimal_places"}.isdisjoint(keys(spec["components"]["schemas"]))


# --- Field names: the reference's (aliases) ---------------------------------------------------------------


def _check_names(spec: dict[str, Any], example: Any, schema: dict[str, Any], where: str) -> None:
    schema = resolve(spec, schema)
    if isinstance(example, dict):
        if "properties" not in schema:  # free-form (an event's details)
            assert schema.get("additionalProperties") is True, where
            return
        properties = schema["properties"]
        for name, value in example.items():
            assert name in properties, f"{where}: the document lacks the reference's field {name!r}"
            _check_names(spec, value, properties[name], f"{where}.{name}")
    elif isinstance(example, list) and example:
        _check_names(spec, example[0], schema["items"], f"{where}[]")


@pytest.mark.parametrize("path", sorted(EXAMPLES))
def test_response_schemas_carry_the_reference_field_names(spec: dict[str, Any], path: str) -> None:
    ok = spec["paths"][path]["get"]["responses"]["200"]
    _check_names(spec, EXAMPLES[path], ok["content"]["application/json"]["schema"], path)


def test_json_or_csv_routes_document_both_media_types(spec: dict[str, Any]) -> None:
    for name in ("by-provider", "by-model", "agents", "recommendations", "budget-alerts"):
        content = spec["paths"][f"/api/cost-analysis/{name}"]["get"]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/csv"}
        assert content["application/json"]["schema"]["$ref"].startswith(REF)


# --- The template's docs block ---------------------------------------------------------------------------


def test_the_docs_function_is_deployed_unless_api_docs_is_off() -> None:
    template = load()
    parameter = template["Parameters"]["ApiDocs"]
    assert parameter["AllowedValues"] == ["public", "authenticated", "off"]
    assert parameter["Default"] == "public"
    function = resources()["DocsFunction"]
    assert function["Condition"] == "HasApiDocs"
    assert resources()["DocsLogGroup"]["Condition"] == "HasApiDocs"
    assert function["Properties"]["Environment"]["Variables"]["DOCS_ACCESS"] == {"Ref": "ApiDocs"}


# --- DocsFunction ------------------------------------------------------------------------------------------


def _docs(
    path: str,
    monkeypatch: pytest.MonkeyPatch,
    access: str = "public",
    *,
    headers: dict[str, str] | None = None,
    stage: str = "local",
    context_path: str | None = None,
) -> dict[str, Any]:
    from functions.docs.app import lambda_handler

    monkeypatch.setenv("DOCS_ACCESS", access)
    claims = claims_for("ws-docs", ["viewer"]) if path == "/api/openapi.json" else None
    event = rest_event("GET", path, resource=path, headers=headers, claims=claims, stage=stage)
    if context_path is not None:
        event["requestContext"]["path"] = context_path
    result: dict[str, Any] = lambda_handler(event, LambdaContext.named("DocsFunction"))
    return result


def test_the_served_document_names_the_url_it_was_read_from(monkeypatch: pytest.MonkeyPatch) -> None:
    host = "abc123.execute-api.eu-west-1.amazonaws.com"
    reply = _docs(
        "/api/openapi.json",
        monkeypatch,
        headers={"Host": host, "X-Forwarded-Proto": "https"},
        stage="prod",
    )
    assert reply["statusCode"] == 200
    served = json.loads(reply["body"])
    assert served["servers"][0]["url"] == f"https://{host}/prod"
    assert {k: v for k, v in served.items() if k != "servers"} == {
        k: v for k, v in json.loads(DOCS_FILE.read_text()).items() if k != "servers"
    }


def test_a_custom_domain_without_base_path_is_its_own_server(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = _docs(
        "/api/openapi.json",
        monkeypatch,
        headers={"Host": "api.acme.example", "X-Forwarded-Proto": "https"},
        context_path="/api/openapi.json",
    )
    assert json.loads(reply["body"])["servers"][0]["url"] == "https://api.acme.example"


def test_a_forged_host_header_does_not_reach_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = _docs(
        "/api/openapi.json", monkeypatch, headers={"Host": 'evil"/><script>', "X-Forwarded-Proto": "x"}
    )
    assert json.loads(reply["body"])["servers"][0]["url"] == "https://localhost/local"


def _page_config(html: str) -> dict[str, Any]:
    start = html.index('<script type="application/json" id="docs-config">') + len(
        '<script type="application/json" id="docs-config">'
    )
    config: dict[str, Any] = json.loads(html[start : html.index("</script>", start)])
    return config


def test_public_docs_embed_the_document_in_swagger_ui(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.docs import app

    reply = _docs("/api/docs", monkeypatch, "public")
    assert reply["statusCode"] == 200
    headers = reply["multiValueHeaders"]
    assert headers["Content-Type"] == ["text/html; charset=utf-8"]
    html = reply["body"]
    ui = "https://localhost/local/api/docs"  # served by this stack, under the stage's base path
    assert f'src="{ui}/swagger-ui-bundle.js" integrity="{app.SWAGGER_UI_JS_SRI}"' in html
    assert f'href="{ui}/swagger-ui.css" integrity="{app.SWAGGER_UI_CSS_SRI}"' in html
    assert "jsdelivr" not in html
    config = _page_config(html)
    assert config["spec"]["info"]["title"] == "Cost & Metrics API"
    assert config["scheme"] in config["spec"]["components"]["securitySchemes"]
    assert config["specUrl"].endswith("/api/openapi.json")
    policy = headers["Content-Security-Policy"][0]
    assert "script-src 'self' 'sha256-" in policy
    assert "https:" not in policy


@pytest.mark.parametrize("asset", ["swagger-ui-bundle.js", "swagger-ui.css"])
def test_swagger_uis_files_are_served_by_the_stack_and_match_their_sri_hashes(
    monkeypatch: pytest.MonkeyPatch, asset: str
) -> None:
    from functions.docs import app
    from functions.docs.app import lambda_handler

    monkeypatch.setenv("DOCS_ACCESS", "public")
    event = rest_event(
        "GET", f"/api/docs/{asset}", resource="/api/docs/{asset}", path_parameters={"asset": asset}
    )
    reply = lambda_handler(event, LambdaContext.named("DocsFunction"))
    assert reply["statusCode"] == 200
    content_type, sri = app.SWAGGER_UI_ASSETS[asset]
    assert reply["multiValueHeaders"]["Content-Type"] == [content_type]
    algorithm, expected = sri.split("-", 1)
    assert algorithm == "sha384"
    assert base64.b64encode(hashlib.sha384(reply["body"].encode()).digest()).decode() == expected
    # The vendored package keeps its licence beside it
    assert "Apache License" in (app.SWAGGER_UI_DIR / "LICENSE").read_text()
    missing = rest_event(
        "GET", "/api/docs/secrets.txt", resource="/api/docs/{asset}", path_parameters={"asset": "secrets.txt"}
    )
    assert lambda_handler(missing, LambdaContext.named("DocsFunction"))["statusCode"] == 404


def test_authenticated_docs_ask_for_a_token_before_loading_the_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reply = _docs("/api/docs", monkeypatch, "authenticated")
    assert reply["statusCode"] == 200
    config = _page_config(reply["body"])
    assert config["spec"] is None
    assert config["specUrl"] == "https://localhost/local/api/openapi.json"
    assert _docs("/api/openapi.json", monkeypatch, "authenticated")["statusCode"] == 200


@pytest.mark.parametrize("access", ["off", "unknown"])
@pytest.mark.parametrize("path", ["/api/docs", "/api/openapi.json"])
def test_docs_turned_off_are_not_found(monkeypatch: pytest.MonkeyPatch, access: str, path: str) -> None:
    reply = _docs(path, monkeypatch, access)
    assert reply["statusCode"] == 404
    assert json.loads(reply["body"])["error"] == "not_found"
