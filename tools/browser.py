"""Debian's Chromium driven by Playwright, for the web console's browser tests and `make screenshots`:
the browser is the system's (`/usr/bin/chromium`, or COSTMETRICS_CHROMIUM), never one Playwright downloads,
and it is started headless with what a closed network needs (no background requests of its own)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

DEFAULT_CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
VIEWS = ("overview", "budgets", "recommendations", "workforce", "activity", "admin")


class BrowserMissing(RuntimeError):
    """Chromium is not installed where the console's browser runs look for it."""


def chromium_path() -> Path:
    """The Chromium executable; raises BrowserMissing with what to do when there is none."""
    configured = os.environ.get("COSTMETRICS_CHROMIUM") or DEFAULT_CHROMIUM
    found = shutil.which(configured)
    if not found:
        raise BrowserMissing(
            f"Chromium is not at {configured}: `make test` and `make screenshots` install Debian's chromium "
            "when run as root (apt-get install chromium), or set COSTMETRICS_CHROMIUM to a Chromium binary"
        )
    return Path(found)


def launch(playwright: Playwright) -> Browser:
    """Headless Chromium from the system, with no network traffic of its own."""
    return playwright.chromium.launch(
        executable_path=str(chromium_path()), headless=True, args=list(LAUNCH_ARGS)
    )


def _rendered(page: Page) -> str:
    value = page.evaluate("() => document.getElementById('view').dataset.rendered || ''")
    return str(value)


def _wait_drawn(page: Page, before: str) -> None:
    page.wait_for_function(
        "before => { const view = document.getElementById('view');"
        " return (view.dataset.rendered || '') !== before && !view.hasAttribute('aria-busy'); }",
        arg=before,
    )


def sign_in(page: Page, console_url: str, username: str, password: str) -> None:
    """Opens the console and signs in through its form, as a person does; returns once a view is drawn."""
    page.goto(console_url)
    before = _rendered(page)
    page.get_by_label("User name or e-mail").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    _wait_drawn(page, before)


def open_view(page: Page, name: str, query: str = "") -> None:
    """Shows a view by its address (#/name?query) and waits until it is drawn."""
    before = _rendered(page)
    page.evaluate("address => { location.hash = address; }", f"#/{name}{'?' + query if query else ''}")
    _wait_drawn(page, before)


def drawn_after(page: Page, action: Callable[[], object]) -> None:
    """Runs `action` (a click, a submit) and waits until the view it leads to is drawn."""
    before = _rendered(page)
    action()
    _wait_drawn(page, before)
