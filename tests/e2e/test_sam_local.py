"""`sam local invoke` and `sam local start-api` for every function, in Lambda containers against a local stack
(tools/sam_check.py, `make sam-local`). It needs a Docker engine and the python3.13 base image of
this machine's architecture: without them it is skipped, saying why. `make test` leaves it out (it takes
minutes); `.ci/run` runs it after the suite (`make sam-local-test`) and prints whether it ran."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.support import ROOT
from tools.sam_check import CANNOT_RUN

pytestmark = [pytest.mark.e2e, pytest.mark.sam]


def test_every_function_answers_through_sam_local_and_start_api_checks_tokens() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.sam_check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=2400,
        check=False,
    )
    if done.returncode == CANNOT_RUN:
        pytest.skip(done.stdout.strip().splitlines()[-1])
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "0 failed" in done.stdout
    assert done.stdout.count("  ok   sam local invoke ") >= 9
