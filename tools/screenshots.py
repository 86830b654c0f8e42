"""`python -m tools.screenshots` (`make screenshots`): a screenshot of the console's sign-in and of each
of its views, at a laptop's and a phone's width, signed in as the demo admin, into
<state dir>/screenshots/ (not committed). It uses the running local stack (`make local`), or starts one for
the time it takes and stops it after."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from local_stack.outputs import StackNotRunning, read_outputs, started_stack
from local_stack.settings import state_dir
from tools.browser import LAPTOP, PHONE, VIEWS, BrowserMissing, launch, open_view, sign_in

READY_TIMEOUT_SECONDS = 300
WIDTHS = {"laptop": LAPTOP, "phone": PHONE}


@contextlib.contextmanager
def running_stack(state: Path) -> Iterator[dict[str, Any]]:
    """The outputs of the local stack that runs on `state`, started here (and stopped after) if none does."""
    try:
        running: dict[str, Any] | None = read_outputs(state)
    except StackNotRunning:
        running = None
    if running is not None:
        yield running
        return
    print(f"no local stack runs on {state}: starting one (`make local` keeps one running)", flush=True)
    log = state / "screenshots-stack.log"
    with started_stack(state, os.environ, log, READY_TIMEOUT_SECONDS) as (_, outputs):
        yield outputs


def take(outputs: dict[str, Any], target: Path, username: str | None) -> list[Path]:
    """Signs in as `username` (the demo admin by default) and writes the screenshots; returns their paths."""
    from playwright.sync_api import sync_playwright

    demo = outputs.get("Demo")
    if not demo:
        raise RuntimeError("the local stack has no demo users (it was started with COSTMETRICS_DEMO=0)")
    user = next((u for u in demo["users"] if u["username"] == (username or u["username"])), None)
    if user is None:
        names = ", ".join(u["username"] for u in demo["users"])
        raise RuntimeError(f"{username} is not a demo user: {names}")
    console = f"{outputs['ApiUrl']}/console"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for width_name, viewport in WIDTHS.items():
                page = browser.new_page(viewport=viewport)  # type: ignore[arg-type]
                page.goto(console)
                page.get_by_label("User name or e-mail").wait_for()
                written.append(target / f"sign-in-{width_name}.png")
                page.screenshot(path=written[-1], full_page=True)
                sign_in(page, console, user["username"], user["password"])
                for view in VIEWS:
                    if view != "overview":
                        open_view(page, view)
                    written.append(target / f"{view}-{width_name}.png")
                    page.screenshot(path=written[-1], full_page=True)
                page.close()
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots", description=__doc__)
    parser.add_argument("--user", help="a demo user to sign in as (default: the demo admin)")
    args = parser.parse_args(argv)
    state = state_dir()
    target = state / "screenshots"
    try:
        with running_stack(state) as outputs:
            written = take(outputs, target, args.user)
    except (BrowserMissing, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    print(f"{len(written)} screenshots in {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
