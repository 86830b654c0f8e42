"""events/: every function has event files, each is what the factory generates, and each runs through its
handler against moto (the in-process twin of `sam local invoke <Function> -e events/<file>`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import time_machine

from local_stack.apigw import LambdaContext
from local_stack.template import function_module, resources
from tests import clock
from tests.datasets import agent_body
from tests.harness import Api, handler_of
from tools.event_files import DEMO_INGEST_KEY, EVENTS_DIR, FILES, INSTANT, render


def test_every_function_has_an_event_file() -> None:
    assert set(resources("AWS::Serverless::Function")) <= {function for function, _, _ in FILES.values()}


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_committed_file_is_what_the_factory_generates(name: str) -> None:
    committed = (EVENTS_DIR / name).read_text()
    assert committed == render(name), f"run `python -m tools.event_files` to regenerate events/{name}"


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_event_file_runs_through_its_handler(stack: Any, name: str) -> None:
    # At the moment the files were made: an event file's times are fixed, the clock is not.
    with time_machine.travel(clock.parse(INSTANT), tick=True):
        Api("demo").put("/api/agents/nova", agent_body("Nova", cost_budget_monthly=100))
        function = FILES[name][0]
        if function == "IngestAuthorizerFunction":  # the file's key, as if an admin had created it
            from costmetrics.ingest_keys import IngestKey, secret_hash
            from costmetrics.repositories.ingest_keys import put_key

            put_key(
                IngestKey(
                    "demo", "0123456789abcdef", "f", secret_hash(DEMO_INGEST_KEY), clock.parse(INSTANT), "s"
                )
            )
        event = json.loads((EVENTS_DIR / name).read_text())
        result = handler_of(function_module(function))(event, LambdaContext.named(function))
    if "statusCode" in result:
        assert result["statusCode"] < 300, result
        if name == "activity-post.json":
            assert json.loads(result["body"]) | {"rejected": []} == {
                "accepted": 2,
                "duplicates": 0,
                "rejectedCount": 0,
                "rejected": [],
            }
    elif function == "RollupFunction":
        assert result == {"batchItemFailures": []}
    elif function == "IngestAuthorizerFunction":
        assert result["context"]["workspaceId"] == "demo"
        assert result["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    elif function == "CatalogSeederFunction":
        assert result["Status"] == "SUCCESS"
        assert result["Data"] == {"Models": 12}
    else:
        assert "sent" in result, result
