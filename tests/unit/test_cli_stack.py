"""Where the CLI finds the stack: the local stack's outputs.json (by COSTMETRICS_STATE_DIR or .local/),
a saved copy of a deployed stack's outputs, or CloudFormation (faked here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from costmetrics_cli import stack
from costmetrics_cli.errors import StackError

LOCAL_OUTPUTS = {
    "ApiUrl": "http://127.0.0.1:3000",
    "AwsEndpointUrl": "http://127.0.0.1:5000",
    "Region": "us-east-1",
    "UserPoolId": "us-east-1_abc",
    "UserPoolClientId": "client-1",
}


def test_the_local_stacks_outputs_name_the_emulator(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(LOCAL_OUTPUTS))
    found = stack.from_outputs_file(path)
    assert (found.label, found.api_url, found.client_id, found.region) == (
        "local",
        "http://127.0.0.1:3000",
        "client-1",
        "us-east-1",
    )
    assert found.is_local
    assert found.aws_endpoint_url == "http://127.0.0.1:5000"


def test_cloudformations_output_list_is_accepted_as_a_deployed_stack(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    outputs = [
        {"OutputKey": "ApiUrl", "OutputValue": "https://abc.execute-api.eu-west-1.amazonaws.com/dev/"},
        {"OutputKey": "Region", "OutputValue": "eu-west-1"},
        {"OutputKey": "UserPoolClientId", "OutputValue": "c-1"},
    ]
    path.write_text(json.dumps(outputs))
    found = stack.from_outputs_file(path)
    assert not found.is_local
    assert found.api_url == "https://abc.execute-api.eu-west-1.amazonaws.com/dev"  # no trailing slash
    assert found.label.startswith("outputs-")


def test_a_missing_output_is_named(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"ApiUrl": "http://x"}))
    with pytest.raises(StackError, match="no UserPoolClientId, Region output"):
        stack.from_outputs_file(path)


def test_no_outputs_file_says_to_start_the_local_stack(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="start it with `make local`"):
        stack.from_outputs_file(tmp_path / "outputs.json")


def test_the_state_dir_variable_of_make_local_is_followed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COSTMETRICS_STATE_DIR", str(tmp_path))
    assert stack.default_outputs_path() == tmp_path / "outputs.json"


class FakeCloudFormation:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        assert StackName == "cost-metrics-dev"
        return self.answer


def test_a_deployed_stack_is_read_from_cloudformation(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = [
        {"OutputKey": "ApiUrl", "OutputValue": "https://abc.execute-api.eu-west-1.amazonaws.com/dev"},
        {"OutputKey": "UserPoolClientId", "OutputValue": "c-1"},
        {"OutputKey": "UserPoolId", "OutputValue": "eu-west-1_x"},
    ]
    fake = FakeCloudFormation({"Stacks": [{"Outputs": outputs}]})
    monkeypatch.setattr(boto3.session.Session, "client", lambda self, name, **_: fake)
    found = stack.from_cloudformation("cost-metrics-dev", "eu-west-1", None)
    assert (found.label, found.region, found.client_id, found.is_local) == (
        "cost-metrics-dev",
        "eu-west-1",
        "c-1",
        False,
    )


def test_a_deployed_stack_needs_a_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    with pytest.raises(StackError, match="give --region"):
        stack.from_cloudformation("cost-metrics-dev", None, None)
