"""`python -m tests.e2e.clocked <instant> <module> [args...]`: runs a module as `__main__` on the e2e tests'
clock, ticking from <instant>, so that the command-line tools they start (the CLI, local_stack.token and
local_stack.invoke) see the same time as the tests and the local stack (tests/clock.py)."""

from __future__ import annotations

import runpy
import sys
from datetime import UTC, datetime

import time_machine


def command(module: str, *args: str) -> list[str]:
    """The argv that runs `python -m module args...` at this process's current instant."""
    return [sys.executable, "-m", "tests.e2e.clocked", datetime.now(UTC).isoformat(), module, *args]


if __name__ == "__main__":
    instant, module, *rest = sys.argv[1:]
    time_machine.travel(datetime.fromisoformat(instant), tick=True).start()
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
