"""`.local/outputs.json`: the running local stack's outputs under the template's Output names. It exists
only while the stack is up and ready, so the tools that read it can tell whether it is running."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

OUTPUTS_FILE = "outputs.json"


class StackNotRunning(RuntimeError):
    """No local stack is up (no outputs.json, or nothing listens at its endpoint)."""


def outputs_path(state_dir: Path) -> Path:
    return state_dir / OUTPUTS_FILE


def write_outputs(state_dir: Path, outputs: dict[str, Any]) -> Path:
    """Writes outputs.json atomically (a reader never sees half a file)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    target = outputs_path(state_dir)
    handle, temporary = tempfile.mkstemp(dir=state_dir, prefix=".outputs-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(outputs, stream, indent=2)
        stream.write("\n")
    os.replace(temporary, target)
    return target


def remove_outputs(state_dir: Path) -> None:
    outputs_path(state_dir).unlink(missing_ok=True)


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
            return True
    except OSError:
        return False


def read_outputs(state_dir: Path) -> dict[str, Any]:
    """The outputs of the running local stack; raises StackNotRunning with what to do when there is none."""
    path = outputs_path(state_dir)
    if not path.is_file():
        raise StackNotRunning(
            f"the local stack is not running ({path} does not exist): start it with `make local`"
        )
    outputs: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    endpoint = outputs.get("AwsEndpointUrl", "")
    if not endpoint or not _listening(endpoint):
        raise StackNotRunning(
            f"{path} is left over from a local stack that is no longer running (nothing listens at "
            f"{endpoint or 'its endpoint'}): start it with `make local`"
        )
    return outputs


@contextlib.contextmanager
def started_stack(
    state_dir: Path, env: Mapping[str, str], log: Path, timeout: float = 180
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    """`python -m local_stack` on `state_dir` (whose COSTMETRICS_STATE_DIR `env` must name), its output in
    `log`; yields the process and its outputs once ready, and stops it (SIGTERM, then SIGKILL) afterwards."""
    from local_stack.template import ROOT

    state_dir.mkdir(parents=True, exist_ok=True)
    with log.open("a") as stream:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_stack"], cwd=ROOT, env=dict(env), stdout=stream,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(StackNotRunning):
                outputs = read_outputs(state_dir)
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local stack did not start:\n{log.read_text()}")
            time.sleep(0.5)
        yield process, outputs
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
