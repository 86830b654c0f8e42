"""Swagger UI at /api/docs works with no network beyond the stack: headless Chromium with every request to
another origin refused (as on a machine that is offline) renders the page from the assets the docs function
serves itself, their SRI hashes hold, and the page lists every operation of the document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.console_support import origin
from tests.e2e.support import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

DOCUMENT = Path(__file__).parents[2] / "docs" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def test_swagger_ui_renders_every_operation_with_the_network_cut_off(
    browser: Any, stack: RunningStack
) -> None:
    context = browser.new_context()
    refused: list[str] = []
    served: dict[str, int] = {}
    errors: list[str] = []

    def only_the_stack(route: Any) -> None:
        if origin(route.request.url) == origin(stack.api):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_the_stack)
    page = context.new_page()
    page.on("response", lambda response: served.__setitem__(response.url.rsplit("/", 1)[-1], response.status))
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        page.goto(f"{stack.api}/api/docs", wait_until="load")
        page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        title = page.inner_text(".swagger-ui .info .title")
        operations = page.locator(".swagger-ui .opblock").count()
        # The style sheet loaded and passed its integrity check: the browser parsed its rules.
        css_rules = page.evaluate(
            """() => [...document.styleSheets]
                .filter(sheet => (sheet.href || '').endsWith('/api/docs/swagger-ui.css'))
                .map(sheet => sheet.cssRules.length)"""
        )
    finally:
        context.close()

    document = json.loads(DOCUMENT.read_text())
    expected = sum(1 for item in document["paths"].values() for method in item if method in METHODS)
    assert document["info"]["title"] in title
    assert operations == expected
    assert served.get("swagger-ui.css") == 200
    assert served.get("swagger-ui-bundle.js") == 200
    assert css_rules
    assert css_rules[0] > 100
    assert refused == [], "the page asked for something beyond the stack"
    assert errors == [], "\n".join(errors)
