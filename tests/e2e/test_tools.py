"""The command-line tools around the running stack: `make invoke` (python -m local_stack.invoke) and
`python -m local_stack.token`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import clocked
from tests.e2e.support import ROOT, RunningStack, http

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]


def _run(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COSTMETRICS_STATE_DIR": str(stack.state_dir)}
    return subprocess.run(
        clocked.command(*args),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_invoke_runs_a_function_against_the_running_stack(stack: RunningStack, tmp_path: Path) -> None:
    event = tmp_path / "health.json"
    event.write_text(
        json.dumps(
            {
                "resource": "/api/health",
                "path": "/api/health",
                "httpMethod": "GET",
                "headers": {},
                "multiValueHeaders": {},
                "queryStringParameters": None,
                "multiValueQueryStringParameters": None,
                "pathParameters": None,
                "stageVariables": None,
                "body": None,
                "isBase64Encoded": False,
                "requestContext": {
                    "resourcePath": "/api/health",
                    "httpMethod": "GET",
                    "path": "/local/api/health",
                    "stage": "local",
                    "requestId": "e2e-invoke",
                    "identity": {"sourceIp": "127.0.0.1"},
                },
            }
        )
    )
    done = _run(stack, "local_stack.invoke", "HealthFunction", str(event))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["status"] == "ok"


def test_invoke_rejects_an_unknown_function_and_names_the_real_ones(
    stack: RunningStack, tmp_path: Path
) -> None:
    event = tmp_path / "empty.json"
    event.write_text("{}")
    done = _run(stack, "local_stack.invoke", "NoSuchFunction", str(event))
    assert done.returncode != 0
    assert "NoSuchFunction" in done.stderr
    assert "HealthFunction" in done.stderr
    assert "RollupFunction" in done.stderr


def test_invoke_says_when_no_stack_is_running(tmp_path: Path) -> None:
    event = tmp_path / "empty.json"
    event.write_text("{}")
    env = {**os.environ, "COSTMETRICS_STATE_DIR": str(tmp_path / "nothing")}
    done = subprocess.run(
        [sys.executable, "-m", "local_stack.invoke", "HealthFunction", str(event)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "not running" in done.stderr


def test_token_prints_an_id_token_the_api_accepts(stack: RunningStack) -> None:
    done = _run(stack, "local_stack.token", "demo@example.com")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert http("GET", stack.api + "/api/cost-analysis/summary", token=token).status == 200
