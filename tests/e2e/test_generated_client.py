"""A client generated from docs/openapi.json by openapi-python-client, as an API user would make it, calls
every GET of the API on the local stack: the document is complete enough for a typed client (date-times are
datetime, event types and statuses enums, the answers parse into their models), and every read answers 200
with a body the client parses."""

from __future__ import annotations

import datetime
import enum
import importlib
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.datasets import agent_body
from tests.e2e.support import RunningStack, a_day_of_work, admin_with_activity, now_in_month
from tools.openapi import DOCS_FILE

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

PACKAGE = "costmetrics_generated_client"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client generated into a directory of the test's own, importable for the module's tests."""
    root = tmp_path_factory.mktemp("generated-client")
    tool = Path(sys.executable).with_name("openapi-python-client")
    env = {**os.environ, "PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # its ruff hooks
    # The generator has no protobuf type: POST /v1/traces's OTLP protobuf body is bytes to it, as a user
    # of the generator would configure it (its OTLP/JSON body stays a typed model).
    config = root / "config.json"
    config.write_text(
        json.dumps({"content_type_overrides": {"application/x-protobuf": "application/octet-stream"}})
    )
    done = subprocess.run(
        [
            str(tool),
            "generate",
            "--path",
            str(DOCS_FILE),
            "--config",
            str(config),
            "--meta",
            "none",
            "--fail-on-warning",
            "--output-path",
            str(root / PACKAGE),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Every operation and schema made it: --fail-on-warning fails on any piece the generator had to skip.
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def get_operations() -> dict[str, str]:
    """The document's GET operations: path -> operationId."""
    spec = json.loads(DOCS_FILE.read_text(encoding="utf-8"))
    return {path: item["get"]["operationId"] for path, item in sorted(spec["paths"].items()) if "get" in item}


def _letters(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def get_endpoints(package: ModuleType) -> dict[str, ModuleType]:
    """The generated module of each GET, by the document's path. The generator names a module after its
    operation's operationId in snake_case (get_agent_api_agents__agentId__get: ..._agent_id_get)."""
    api = importlib.import_module(f"{package.__name__}.api")
    modules = {
        _letters(info.name.rsplit(".", 1)[-1]): info.name
        for info in pkgutil.walk_packages(api.__path__, prefix=f"{api.__name__}.")
        if not info.ispkg
    }
    return {
        path: importlib.import_module(modules[_letters(operation)])
        for path, operation in get_operations().items()
    }


def test_dates_and_enums_are_typed(client_package: ModuleType) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    endpoints = get_endpoints(client_package)
    listing = inspect.signature(endpoints["/api/activity"].sync_detailed)
    for name in ("from_", "to"):
        assert "datetime.datetime" in str(listing.parameters[name].annotation), name
    event_type = listing.parameters["event_type"].annotation
    assert "Eventtype" in str(event_type), event_type
    feed = inspect.signature(endpoints["/api/activity/feed"].sync_detailed)
    assert "datetime.datetime" in str(feed.parameters["since"].annotation)
    kinds = models.GetActivityApiActivityGetEventtype
    assert issubclass(kinds, enum.Enum)
    assert {k.value for k in kinds} >= {"model_invocation", "task_completed", "tool_call", "error"}
    assert issubclass(models.WorkforceSummaryProjectionStatus, enum.Enum)
    assert issubclass(models.AgentROIProjectionStatus, enum.Enum)


@pytest.fixture(scope="module")
def workspace(stack: RunningStack) -> str:
    """An admin's token for a fresh workspace with an agent and rolled-up events."""
    body = agent_body("Nova", status="online", department="Support", human_equivalent_salary=60000)
    return admin_with_activity(stack, "nova", body, a_day_of_work("nova", now_in_month()))


def _every_value_of_a_required_enum(module: ModuleType, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """`kwargs` once per member of the enum of a required parameter not in them (a file of the console
    or of Swagger UI), or once."""
    hints = typing.get_type_hints(module.sync_detailed)
    for name, parameter in inspect.signature(module.sync_detailed).parameters.items():
        kind = hints.get(name)
        required = parameter.default is inspect.Parameter.empty and name != "client" and name not in kwargs
        if required and isinstance(kind, type) and issubclass(kind, enum.Enum):
            return [{**kwargs, name: member} for member in kind]
    return [kwargs]


def test_the_client_calls_every_get_of_the_api(
    client_package: ModuleType, stack: RunningStack, workspace: str
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    client = client_package.AuthenticatedClient(base_url=stack.api, token=workspace, timeout=60.0)
    month = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
    yesterday = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    arguments: dict[str, dict[str, Any]] = {
        "/api/activity": {
            "event_type": models.GetActivityApiActivityGetEventtype.MODEL_INVOCATION,
            "from_": yesterday,
            "to": datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1),
            "agent_id": "nova",
        },
        "/api/activity/feed": {"since": yesterday},
        "/api/agents/{agentId}": {"agent_id": "nova"},
        "/api/agents/workforce/trends": {"months": 3},
    }
    called = {}
    endpoints = get_endpoints(client_package)
    assert set(endpoints) == set(get_operations())
    for path, module in endpoints.items():
        kwargs = arguments.get(path, {})
        if "month" in inspect.signature(module.sync_detailed).parameters:
            kwargs = {**kwargs, "month": month}
        for call in _every_value_of_a_required_enum(module, kwargs):
            reply = module.sync_detailed(client=client, **call)
            assert reply.status_code == 200, (path, call, reply.status_code, reply.content[:300])
            assert not isinstance(reply.parsed, models.ApiError), (path, reply.parsed)
            called[path] = reply.parsed
    assert set(called) == set(endpoints)

    # The answers parse into typed models: dates are datetime, enums are enums.
    log = called["/api/activity"]
    assert [item.id for item in log.data] == ["nova-0"]  # the invocation alone: the enum filters
    assert isinstance(log.data[0].created_at, datetime.datetime)
    assert log.data[0].event_type.value == "model_invocation"
    summary = called["/api/agents/workforce/summary"]
    assert isinstance(summary.projection_ready_at, datetime.datetime)
    assert summary.projection_status.value in {"run_rate", "too_early"}
    assert summary.total_agents == 1
    assert [row.id for row in called["/api/agents/workforce/agents"]] == ["nova"]
    prices = called["/api/cost-analysis/pricing"].models
    assert all(isinstance(price.effective_from, datetime.datetime) for price in prices)
    assert isinstance(called["/api/agents/{agentId}"].created_at, datetime.datetime)
