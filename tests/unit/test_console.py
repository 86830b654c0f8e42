"""ConsoleFunction: the page carries what the browser needs (the API's base path, the user pool, the app
client, the Cognito endpoint, the request models' fields) and a policy that lets scripts, styles and images
come from this origin only and requests go to this origin and Cognito only; the assets are exactly the files
of assets/, text, with ETags; nothing in them is inline script or reaches another host."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from costmetrics.agents import AgentIn
from costmetrics.config import settings
from costmetrics.events import EVENT_TYPES
from costmetrics.price_admin import PriceIn
from functions.console import app as console
from local_stack.apigw import LambdaContext, rest_event

POOL = "us-east-1_AbCdEf123"
CLIENT = "4d1f0r2k3clientid"
ENDPOINT = "https://cognito-idp.eu-west-1.amazonaws.com/"


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("USER_POOL_ID", POOL)
    monkeypatch.setenv("USER_POOL_CLIENT_ID", CLIENT)
    monkeypatch.setenv("COGNITO_ENDPOINT", ENDPOINT)
    settings.cache_clear()
    yield
    settings.cache_clear()


def _get(
    path: str, *, resource: str | None = None, headers: dict[str, str] | None = None, **kwargs: Any
) -> Any:
    event = rest_event("GET", path, resource=resource or path, headers=headers, **kwargs)
    return console.lambda_handler(event, LambdaContext.named("ConsoleFunction"))


def _asset(name: str, headers: dict[str, str] | None = None) -> Any:
    return _get(
        f"/console/{name}", resource="/console/{asset}", path_parameters={"asset": name}, headers=headers
    )


def _header(reply: dict[str, Any], name: str) -> str:
    values = {k.lower(): v for k, v in reply["multiValueHeaders"].items()}[name.lower()]
    return str(values[0])


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []
        self.styles: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
        if tag == "style" or "style" in found:
            self.styles.append(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def _config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="console-config">(.*?)</script>', html, re.S)
    assert match, "the page embeds no config"
    config: dict[str, Any] = json.loads(match.group(1))
    return config


def test_the_page_is_html_with_its_config_and_a_strict_policy() -> None:
    reply = _get("/console", headers={"Accept": "text/html"}, stage="dev")
    assert reply["statusCode"] == 200
    assert _header(reply, "Content-Type") == "text/html; charset=utf-8"
    policy = dict(part.strip().split(" ", 1) for part in _header(reply, "Content-Security-Policy").split(";"))
    assert policy == {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self'",
        "connect-src": "'self' https://cognito-idp.eu-west-1.amazonaws.com",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    assert _header(reply, "X-Content-Type-Options") == "nosniff"
    assert _header(reply, "Cache-Control") == "no-cache"

    config = _config(reply["body"])
    # rest_event's requestContext.path is /<stage><path>, as on an execute-api URL: the API's root is /dev
    assert config["apiBase"] == "/dev"
    assert (config["userPoolId"], config["clientId"], config["cognitoEndpoint"]) == (POOL, CLIENT, ENDPOINT)
    assert config["agentFields"] == list(AgentIn.model_fields)
    assert "cost_budget_monthly" in config["agentFields"]
    assert config["priceFields"] == [f.alias or n for n, f in PriceIn.model_fields.items()]
    assert "inputPricePerMillion" in config["priceFields"]
    assert config["eventTypes"] == list(EVENT_TYPES)
    assert config["trendMonths"] == {"min": 1, "max": 24, "default": 6}


def test_the_page_has_no_inline_script_style_or_handler_and_names_only_its_own_assets() -> None:
    html = _get("/console", stage="prod")["body"]
    parsed = _Scripts()
    parsed.feed(html)
    assert {s.get("type") for s in parsed.scripts} == {"application/json", "module"}
    assert [s["src"] for s in parsed.scripts if s.get("type") == "module"] == ["/prod/console/console.js"]
    assert parsed.handlers == []
    assert parsed.styles == []
    assert parsed.urls
    assert all(url.startswith(("/prod/console/", "#")) for url in parsed.urls), parsed.urls


def test_on_a_custom_domain_without_base_path_the_assets_are_at_the_root() -> None:
    event = rest_event("GET", "/console", resource="/console")
    event["requestContext"]["path"] = "/console"
    html = console.lambda_handler(event, LambdaContext.named("ConsoleFunction"))["body"]
    assert _config(html)["apiBase"] == ""
    assert 'src="/console/console.js"' in html


def test_a_value_that_would_close_the_script_element_stays_text(monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = "</script><script>alert(1)</script>&"
    monkeypatch.setenv("USER_POOL_ID", hostile)
    settings.cache_clear()
    html = _get("/console")["body"]
    assert html.count("</script>") == 2  # the config's and the module's
    assert _config(html)["userPoolId"] == hostile


@pytest.mark.parametrize("endpoint", ["", "ftp://cognito.example", "not a url"])
def test_without_a_usable_cognito_endpoint_the_page_may_call_its_own_origin_only(
    monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.setenv("COGNITO_ENDPOINT", endpoint)
    settings.cache_clear()
    reply = _get("/console")
    assert "connect-src 'self';" in _header(reply, "Content-Security-Policy") + ";"
    assert _config(reply["body"])["cognitoEndpoint"] == ""


def test_the_local_stack_s_cognito_endpoint_is_its_own_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGNITO_ENDPOINT", "http://127.0.0.1:5000")
    settings.cache_clear()
    policy = _header(_get("/console"), "Content-Security-Policy")
    assert "connect-src 'self' http://127.0.0.1:5000;" in policy


def test_the_assets_are_exactly_the_text_files_of_assets() -> None:
    on_disk = sorted(path.name for path in console.ASSET_DIR.iterdir() if path.is_file())
    assert sorted(console.assets()) == on_disk
    assert {name.rsplit(".", 1)[1] for name in on_disk} <= {"js", "css", "svg"}
    assert "console.js" in on_disk
    assert "console.css" in on_disk


@pytest.mark.parametrize("name", sorted(console.assets()))
def test_each_asset_is_served_with_its_type_and_etag_and_revalidates(name: str) -> None:
    reply = _asset(name)
    assert reply["statusCode"] == 200
    assert reply["body"] == (console.ASSET_DIR / name).read_text(encoding="utf-8")
    assert _header(reply, "Content-Type") == console.CONTENT_TYPES["." + name.rsplit(".", 1)[1]]
    assert _header(reply, "X-Content-Type-Options") == "nosniff"
    etag = _header(reply, "ETag")
    again = _asset(name, headers={"If-None-Match": etag})
    assert (again["statusCode"], again["body"]) == (304, "")
    assert _asset(name, headers={"If-None-Match": '"another"'})["statusCode"] == 200


@pytest.mark.parametrize("name", ["nothing.js", "..%2Fapp.py", "app.py", "page.html", "console.JS"])
def test_anything_else_is_not_found(name: str) -> None:
    reply = _asset(name)
    assert reply["statusCode"] == 404
    assert json.loads(reply["body"])["error"] == "not_found"


_SCRIPTS = {name: asset.body for name, asset in console.assets().items() if name.endswith(".js")}
# XML namespaces are names, not addresses a browser fetches.
_NAMESPACES = {"http://www.w3.org/2000/svg"}


@pytest.mark.parametrize("name", sorted(_SCRIPTS))
def test_each_module_imports_only_assets_that_exist(name: str) -> None:
    imports = re.findall(r'^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"', _SCRIPTS[name], re.M)
    for target in imports:
        assert target.startswith("./"), f"{name} imports {target}: only the console's own files"
        assert target[2:] in console.assets(), f"{name} imports {target}, which is not served"


@pytest.mark.parametrize("name", sorted(console.assets()))
def test_no_asset_names_another_host_or_builds_markup_from_strings(name: str) -> None:
    body = console.assets()[name].body
    addresses = set(re.findall(r"https?://[^\s\"')]+", body)) - _NAMESPACES
    assert addresses == set(), f"{name} names {addresses}"
    if name.endswith(".js"):
        for risky in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert risky not in body, f"{name} uses {risky}"


def test_the_template_serves_the_console_without_a_token_and_with_the_pool_s_settings() -> None:
    from local_stack.template import load, resources, routes

    found = {(r.method, r.path): r for r in routes() if r.function == "ConsoleFunction"}
    assert set(found) == {("GET", "/console"), ("GET", "/console/{asset}")}
    assert not any(route.authorized for route in found.values())
    shared = load()["Globals"]["Function"]["Environment"]["Variables"]
    variables = {**shared, **resources()["ConsoleFunction"]["Properties"]["Environment"]["Variables"]}
    assert variables["USER_POOL_ID"] == {"Ref": "UserPool"}
    assert variables["USER_POOL_CLIENT_ID"] == {"Ref": "UserPoolClient"}
    assert variables["COGNITO_ENDPOINT"] == {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/"}
    client = resources()["UserPoolClient"]["Properties"]
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]
    assert client["GenerateSecret"] is False  # a browser cannot keep a client secret
