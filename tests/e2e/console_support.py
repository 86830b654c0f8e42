"""What the console's browser tests share: a browser page that records every request it makes and every
error it logs, readers of what a view shows (its figures, chart rows and table rows), and the API's values
written the way the console writes them (so a shown figure is compared with the API's, digit for digit)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.support import RunningStack
from tools.browser import LAPTOP

SESSION_KEY = "costmetrics.console.session"


def usd(value: Any) -> str:
    """Money as the console writes it: $1,234.56 (the API's value has 2 decimals already)."""
    amount = Decimal(str(value))
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"


def ratio_percent(value: Any) -> str:
    """A utilization (3 decimals) as a percentage: 0.286 -> 28.6%."""
    return f"{(Decimal(str(value)) * 100).quantize(Decimal('0.1'), ROUND_HALF_UP):,.1f}%"


def percent(value: Any) -> str:
    return f"{Decimal(str(value)):,.1f}%"


def count(value: Any) -> str:
    return f"{int(value):,}"


def origin(url: str) -> str:
    if url.startswith("blob:"):
        url = url.removeprefix("blob:")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]


@dataclass
class Tour:
    """A browser page of its own (a fresh context: no session) on the stack's console, with what it did."""

    page: Any
    stack: RunningStack
    requests: list[Request] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def console_url(self) -> str:
        return f"{self.stack.api}/console"

    @property
    def allowed_origins(self) -> set[str]:
        """The stack's API (which serves the console) and its Cognito endpoint: nothing else."""
        return {origin(self.stack.api), origin(self.stack.outputs["AwsEndpointUrl"])}

    def foreign_requests(self) -> list[str]:
        return [f"{r.method} {r.url}" for r in self.requests if origin(r.url) not in self.allowed_origins]

    def set_token(self, token: str) -> None:
        """Puts another ID token in the console's session, as a tampered or stale tab would have it."""
        self.page.evaluate(
            "([key, token]) => sessionStorage.setItem(key, JSON.stringify({idToken: token}))",
            [SESSION_KEY, token],
        )

    def figures(self) -> dict[str, str]:
        """The headline figures of the view: data-figure name -> text."""
        found: list[list[str]] = self.page.eval_on_selector_all(
            "#view dl.figures dd[data-figure]",
            "els => els.map(e => [e.dataset.figure, e.textContent.trim()])",
        )
        return dict(found)

    def chart_rows(self, figure: str) -> list[tuple[str, str, str]]:
        """A bar chart's rows, in order: (key, value text, note text)."""
        found: list[list[str]] = self.page.eval_on_selector_all(
            f'#view li[data-figure="{figure}"]',
            "els => els.map(e => [e.dataset.key, e.querySelector('.bar-value').textContent.trim(),"
            " (e.querySelector('.bar-note') || {textContent: ''}).textContent.trim()])",
        )
        return [(key, value, note) for key, value, note in found]

    def table(self, caption: str) -> list[dict[str, Any]]:
        """The rows of the view's table whose caption starts with `caption`, in order: each row's key, and
        per column key its text (and the badges it shows)."""
        rows: list[dict[str, Any]] = self.page.evaluate(
            """caption => {
                const table = [...document.querySelectorAll('#view table')]
                    .find(t => t.caption && t.caption.textContent.trim().startsWith(caption));
                if (!table) return null;
                return [...table.tBodies[0].rows].map(tr => ({
                    key: tr.dataset.key,
                    cells: Object.fromEntries([...tr.cells].map(c => [c.dataset.col, c.innerText.trim()])),
                    badges: [...tr.querySelectorAll('.badge')].map(b => b.textContent.trim()),
                }));
            }""",
            caption,
        )
        assert rows is not None, f"no table captioned {caption!r} in the view"
        return rows

    def problems(self) -> list[str]:
        found: list[str] = self.page.eval_on_selector_all(
            "#view .problem, #sign-in-problem", "els => els.map(e => e.textContent.trim()).filter(Boolean)"
        )
        return found


@contextmanager
def touring(browser: Any, stack: RunningStack, viewport: dict[str, int] | None = None) -> Iterator[Tour]:
    """A Tour in a new browser context; afterwards, no request may have left the stack's origins and no
    script error or Content-Security-Policy violation may have been logged."""
    context = browser.new_context(viewport=viewport or LAPTOP, accept_downloads=True)
    page = context.new_page()
    tour = Tour(page, stack)
    page.on("request", lambda r: tour.requests.append(Request(r.method, r.url, r.headers)))
    page.on("pageerror", lambda error: tour.errors.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        # A 4xx the test asked for is logged by Chromium as a failed resource; anything else is a fault.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            tour.errors.append(f"console: {message.text}")

    page.on("console", on_console)
    try:
        yield tour
    finally:
        context.close()
    assert tour.foreign_requests() == [], "requests left the stack's origins"
    assert tour.errors == [], "\n".join(tour.errors)


def csv_rows(text: str) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text)))


def details_of(cell: str) -> Any:
    return json.loads(cell, parse_float=Decimal)
