"""The layer ships what the dev environment tests, built for arm64."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from local_stack.template import function_properties, load, resources

ROOT = Path(__file__).resolve().parents[2]


def requirement_lines(path: Path) -> list[str]:
    return [
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]


def test_layer_requirements_match_the_project_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert sorted(requirement_lines(ROOT / "layers/common/requirements.txt")) == sorted(project)


def test_the_layer_is_built_for_the_functions_architecture_arm64_when_deployed() -> None:
    # One parameter decides both (sam build resolves it in the layer's Metadata too): the wheels of
    # pydantic-core are built for the processor the functions run on.
    architecture = {"Ref": "Architecture"}
    (layer,) = resources("AWS::Serverless::LayerVersion").values()
    assert layer["Properties"]["CompatibleArchitectures"] == [architecture]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": architecture}
    function_globals = load()["Globals"]["Function"]
    assert function_globals["Architectures"] == [architecture]
    assert function_globals["Runtime"] == "python3.13"
    parameter = load()["Parameters"]["Architecture"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("arm64", ["arm64", "x86_64"])
    for config in ("default", "dev", "prod"):
        overrides = tomllib.loads((ROOT / "samconfig.toml").read_text())[config].get("deploy", {})
        assert "Architecture" not in overrides.get("parameters", {}).get("parameter_overrides", "")


def test_every_build_ships_bytecode_that_lambda_can_use_without_writing(tmp_path: Path) -> None:
    # Lambda's file system is read-only: a package of sources only is compiled again at every cold start
    # (make bench: 4.5-5x `import boto3` for a first request, against 2.0-2.3x with bytecode).
    # Given a package as sam build leaves it: a function directory and the layer's package, sources only
    package = tmp_path / "build"
    shutil.copytree(ROOT / "functions/health", package / "HealthFunction")
    shutil.copytree(
        ROOT / "layers/common/costmetrics",
        package / "CommonLayer/python/costmetrics",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    # When the step make build runs after sam build compiles it (both build targets run it)
    for target in ("build", "sam-build"):
        planned = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True)
        assert "make --no-print-directory bytecode" in planned.stdout, (target, planned.stdout)
    subprocess.run(["make", "-s", "bytecode", f"BUILD_DIR={package}"], cwd=ROOT, check=True)
    # Then a process that may not write runs the modules from that bytecode, not from their sources: with
    # the sources replaced by code that fails (unchecked hashes never look at the source, so a zip's mtimes
    # cannot make the bytecode stale), the function and the layer still import
    for source in (package / "HealthFunction/app.py", package / "CommonLayer/python/costmetrics/numbers.py"):
        source.write_text('raise RuntimeError("compiled again from the source")\n')
    loaded = subprocess.run(
        [sys.executable, "-c", "import app, costmetrics.numbers; print(costmetrics.numbers.ZERO)"],
        env={
            **os.environ,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": f"{package / 'HealthFunction'}{os.pathsep}{package / 'CommonLayer/python'}",
        },
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == "0"


def test_an_empty_endpoint_variable_means_the_aws_endpoints() -> None:
    # The template declares AWS_ENDPOINT_URL empty (sam local sets it); the deployed functions' boto3 must
    # then use the AWS endpoints, as botocore does (also the 1.34 that Lambda's python3.13 shipped with).
    import boto3

    assert load()["Globals"]["Function"]["Environment"]["Variables"]["AWS_ENDPOINT_URL"] == ""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", "")
        client = boto3.client(
            "dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        assert client.meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"
        patch.setenv("AWS_ENDPOINT_URL", "http://host.docker.internal:5000")
        client = boto3.client(
            "dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        assert client.meta.endpoint_url == "http://host.docker.internal:5000"


def test_a_function_is_read_as_sam_merges_it_with_the_globals() -> None:
    # The local stack imports and configures each function from these merged properties.
    props = function_properties("ActivityFunction")
    assert props["Handler"] == "app.lambda_handler"  # from the Globals alone
    assert props["CodeUri"] == "functions/activity"  # the function's alone
    variables = props["Environment"]["Variables"]  # a map: both, key by key
    assert variables["CURSOR_SECRET_ARN"] == {"Ref": "CursorSecret"}
    assert variables["STAGE"] == {"Ref": "Stage"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": "ActivityLogGroup"}
    assert props["Layers"] == [{"Ref": "CommonLayer"}]  # a list: the Globals' items, then the function's
    assert function_properties("HealthFunction")["MemorySize"] == 256  # a value: the function's wins
    assert load()["Globals"]["Function"]["MemorySize"] == 512


def test_every_function_has_its_own_log_group_with_retention() -> None:
    groups = resources("AWS::Logs::LogGroup")
    for name, function in resources("AWS::Serverless::Function").items():
        ref = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert "RetentionInDays" in groups[ref]["Properties"], name


def test_deployed_code_never_reads_the_local_stacks_clock() -> None:
    # COSTMETRICS_NOW moves the local stack's clock (and time-machine does it); a deployed function always
    # has the real time: nothing that ships (the functions, the layer, the template) knows either name.
    shipped = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers").rglob("*.py"), ROOT / "template.yaml"]
    assert len(shipped) > 20
    for path in shipped:
        text = path.read_text()
        assert "COSTMETRICS_NOW" not in text, path
        assert "time_machine" not in text, path
    assert "time-machine" not in (ROOT / "layers/common/requirements.txt").read_text()
