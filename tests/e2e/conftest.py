"""One local stack for the e2e tests: `python -m local_stack` in a subprocess on free ports, with its own
state directory and a 2-second alert schedule; ready when outputs.json appears.

Under pytest-xdist the workers share one stack (started by the first worker that needs it, stopped by the
last one done with it), so `pytest -n 2` does not pay for two stacks. The tests only touch workspaces of
their own, so they may run against it concurrently.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import ROOT, RunningStack
from tools.browser import BrowserMissing, chromium_path, launch

READY_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start(state_dir: Path, **settings: str) -> subprocess.Popen[bytes]:
    """`python -m local_stack` on free loopback ports; `settings` override its COSTMETRICS_* variables."""
    state_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "COSTMETRICS_MOTO_PORT": str(free_port()),
        "COSTMETRICS_API_PORT": str(free_port()),
        "COSTMETRICS_STATE_DIR": str(state_dir),
        "COSTMETRICS_ALERT_INTERVAL": "2",
        # The ingest authorizer's answers are cached 3 s, not the template's 300: a revoked key's refusal
        # is then seen within a test's patience, the cache itself still in play.
        "COSTMETRICS_AUTHORIZER_TTL": "3",
        "COSTMETRICS_DEMO": "1",
        # The stack's clock starts where this process's is (tests/clock.py), and ticks with it.
        "COSTMETRICS_NOW": datetime.now(UTC).isoformat(),
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    with (state_dir / "stack.log").open("a") as log:  # a restarted stack goes on in the same log
        return subprocess.Popen(
            [sys.executable, "-m", "local_stack"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_ready(state_dir: Path, pid: int) -> RunningStack:
    outputs_file = state_dir / "outputs.json"
    log_file = state_dir / "stack.log"
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not outputs_file.exists():
        if not _alive(pid):
            pytest.fail(f"the local stack exited before it was ready:\n{log_file.read_text()}")
        if time.monotonic() > deadline:
            log = log_file.read_text()
            pytest.fail(f"the local stack was not ready after {READY_TIMEOUT_SECONDS} s:\n{log}")
        time.sleep(0.25)
    return RunningStack(json.loads(outputs_file.read_text()), state_dir, log_file)


def _stop(pid: int, state_dir: Path) -> None:
    """SIGTERM, then wait for the clean shutdown (it removes outputs.json); SIGKILL if it does not come."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while (state_dir / "outputs.json").exists() and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if (state_dir / "outputs.json").exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    if not hasattr(request.config, "workerinput"):  # a plain pytest run: this process owns the stack
        state_dir = tmp_path_factory.mktemp("local-stack")
        process = _start(state_dir)
        try:
            yield _wait_ready(state_dir, process.pid)
        finally:
            _stop(process.pid, state_dir)
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        return

    # xdist: the workers' base temp directories share a parent, where the shared stack is registered.
    shared = tmp_path_factory.getbasetemp().parent / "local-stack-shared"
    shared.mkdir(exist_ok=True)
    registry = shared / "registry.json"
    with _locked(shared / "lock"):
        entry = json.loads(registry.read_text()) if registry.exists() else {"users": 0}
        if entry["users"] == 0 or not _alive(entry["pid"]):
            state_dir = shared / f"stack-{int(time.time() * 1000)}"
            entry = {"users": 0, "pid": _start(state_dir).pid, "state_dir": str(state_dir)}
        entry["users"] += 1
        registry.write_text(json.dumps(entry))
    state_dir, pid = Path(entry["state_dir"]), int(entry["pid"])
    try:
        yield _wait_ready(state_dir, pid)
    finally:
        with _locked(shared / "lock"):
            entry = json.loads(registry.read_text())
            entry["users"] -= 1
            registry.write_text(json.dumps(entry))
            if entry["users"] == 0:
                _stop(pid, state_dir)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A local stack of the module's own, started empty, with the alert schedule out of the way: for a test
    that floods the stream (load, a 10,000-event ingest), so that its backlog never delays the rollups the
    other e2e tests wait for on the shared stack, and its timing is its own."""
    state_dir = tmp_path_factory.mktemp("own-stack")
    process = _start(state_dir, COSTMETRICS_ALERT_INTERVAL="3600", COSTMETRICS_DEMO="0")
    try:
        yield _wait_ready(state_dir, process.pid)
    finally:
        _stop(process.pid, state_dir)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"the local stack took over {STOP_TIMEOUT_SECONDS} s to exit after SIGTERM")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from the system (tools.browser); without it the test is skipped, saying why."""
    try:
        chromium_path()
    except BrowserMissing as error:
        pytest.skip(str(error))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()
