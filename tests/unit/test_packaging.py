"""The layer ships what the dev environment tests, built for arm64."""

from __future__ import annotations

import tomllib
from pathlib import Path

from local_stack.template import load, resources

ROOT = Path(__file__).resolve().parents[2]


def requirement_lines(path: Path) -> list[str]:
    return [
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]


def test_layer_requirements_match_the_project_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert sorted(requirement_lines(ROOT / "layers/common/requirements.txt")) == sorted(project)


def test_the_layer_is_built_for_arm64_like_every_function() -> None:
    (layer,) = resources("AWS::Serverless::LayerVersion").values()
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}
    function_globals = load()["Globals"]["Function"]
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Runtime"] == "python3.13"


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
