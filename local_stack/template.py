"""template.yaml as data: a CloudFormation-aware YAML loader and the few intrinsic functions needed to
resolve names, so that moto resources are created from the template's own definitions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """Reads `!Ref x` as {"Ref": x}, `!GetAtt a.b` as {"Fn::GetAtt": [a, b]}, `!Sub s` as {"Fn::Sub": s}..."""


def _tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)  # type: ignore[no-untyped-call]


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as CloudFormation sees it: with the files its AWS::Include transforms name in place."""
    with path.open() as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    included: dict[str, Any] = _include(document, path.parent)
    return included


def _include(value: Any, folder: Path) -> Any:
    """Replaces each `Fn::Transform` of AWS::Include with its snippet (a Location relative to the template,
    as `sam build` and `sam deploy` read it). CloudFormation reads snippets without YAML short forms, so
    they are read as plain YAML: a `!Sub` in one fails here as it would in a deploy."""
    if isinstance(value, list):
        return [_include(item, folder) for item in value]
    if not isinstance(value, dict):
        return value
    transform = value.get("Fn::Transform")
    if len(value) == 1 and isinstance(transform, dict) and transform.get("Name") == "AWS::Include":
        return yaml.safe_load((folder / transform["Parameters"]["Location"]).read_text())
    return {key: _include(item, folder) for key, item in value.items()}


@dataclass(frozen=True)
class Context:
    """What the intrinsic functions resolve against: the stack name, region and parameter values."""

    stack_name: str = "cost-metrics-local"
    region: str = "us-east-1"
    account: str = "123456789012"
    stage: str = "local"

    def parameters(self) -> dict[str, Any]:
        params = {name: spec.get("Default") for name, spec in load().get("Parameters", {}).items()}
        params["Stage"] = self.stage
        return params

    def conditions(self) -> dict[str, bool]:
        return {name: bool(self.resolve(expr)) for name, expr in load().get("Conditions", {}).items()}

    def resolve(self, value: Any, refs: dict[str, Any] | None = None) -> Any:
        """Resolves Ref, Sub, If, Equals, Not with parameters, pseudo parameters and `refs` (resources)."""
        refs = refs or {}
        if isinstance(value, list):
            return [self.resolve(v, refs) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v, refs) for k, v in value.items()}
        ((key, arg),) = value.items()
        pseudo = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
        }
        names = {**self.parameters(), **pseudo, **refs}
        if key == "Ref":
            return names.get(arg, arg)
        if key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            for name, resolved in names.items():
                text = text.replace("${" + name + "}", str(resolved))
            return text
        if key == "Fn::If":
            condition, when_true, when_false = arg
            return self.resolve(when_true if self.conditions()[condition] else when_false, refs)
        if key == "Fn::Equals":
            left, right = (self.resolve(v, refs) for v in arg)
            return left == right
        if key == "Fn::Not":
            return not self.resolve(arg[0], refs)
        if key == "Fn::GetAtt":
            return value
        return {key: self.resolve(arg, refs)}


def resources(kind: str | None = None) -> dict[str, dict[str, Any]]:
    """The template's resources, optionally only those of one type (e.g. AWS::DynamoDB::Table)."""
    found = load()["Resources"]
    return {name: r for name, r in found.items() if kind is None or r["Type"] == kind}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    module: str
    authorized: bool
    # The name of the API authorizer in front (Auth.Authorizers of the Api), None for Authorizer: NONE.
    authorizer: str | None = None


@dataclass(frozen=True)
class LambdaAuthorizer:
    """A Lambda REQUEST authorizer of the Api: its function, identity headers and cache TTL."""

    name: str
    function: str
    headers: tuple[str, ...]
    ttl_seconds: int


def default_authorizer() -> str | None:
    (api,) = resources("AWS::Serverless::Api").values()
    name: str | None = api["Properties"].get("Auth", {}).get("DefaultAuthorizer")
    return name


def lambda_authorizers() -> dict[str, LambdaAuthorizer]:
    """The Api's Lambda authorizers by name (the others are Cognito authorizers)."""
    (api,) = resources("AWS::Serverless::Api").values()
    found = {}
    for name, spec in api["Properties"].get("Auth", {}).get("Authorizers", {}).items():
        if "FunctionArn" not in spec:
            continue
        if spec.get("FunctionPayloadType", "TOKEN") != "REQUEST":
            raise ValueError(f"{name}: only REQUEST Lambda authorizers are emulated")
        identity = spec.get("Identity", {})
        found[name] = LambdaAuthorizer(
            name=name,
            function=spec["FunctionArn"]["Fn::GetAtt"][0],
            headers=tuple(identity.get("Headers", [])),
            ttl_seconds=int(identity.get("ReauthorizeEvery", 300)),
        )
    return found


def function_properties(logical_id: str) -> dict[str, Any]:
    """A function's properties as SAM deploys them: the Globals' Function section with the function's own
    on top, by SAM's rules (a map merges key by key, a list is the Globals' items then the function's, any
    other value, an intrinsic function included, is the function's own)."""
    shared = load().get("Globals", {}).get("Function", {})
    merged: dict[str, Any] = _with_globals(shared, resources()[logical_id]["Properties"])
    return merged


def _with_globals(shared: Any, own: Any) -> Any:
    if isinstance(shared, dict) and isinstance(own, dict) and not _intrinsic(shared) and not _intrinsic(own):
        return {**shared, **{key: _with_globals(shared.get(key), value) for key, value in own.items()}}
    if isinstance(shared, list) and isinstance(own, list):
        return [*shared, *own]
    return own


def _intrinsic(value: dict[str, Any]) -> bool:
    """{"Ref": ...} or {"Fn::...": ...}: a value, not a map of properties."""
    return len(value) == 1 and any(key == "Ref" or key.startswith("Fn::") for key in value)


def function_module(logical_id: str) -> str:
    """The importable module of a function: CodeUri functions/x + Handler app.f -> functions.x.app."""
    props = function_properties(logical_id)
    handler_module = props["Handler"].rsplit(".", 1)[0]
    return ".".join([*Path(props["CodeUri"]).parts, handler_module])


def routes() -> list[Route]:
    """Every API route of the template, with the function that serves it."""
    found = []
    for name, resource in resources("AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            props = event["Properties"]
            auth = props.get("Auth", {}).get("Authorizer", default_authorizer())
            found.append(
                Route(
                    props["Method"].upper(),
                    props["Path"],
                    name,
                    function_module(name),
                    auth != "NONE",
                    None if auth == "NONE" else auth,
                )
            )
    return found


def event_source(logical_id: str, kind: str) -> dict[str, Any]:
    """The properties of a function's event source of `kind` (DynamoDB, ScheduleV2)."""
    for event in resources()[logical_id]["Properties"].get("Events", {}).values():
        if event["Type"] == kind:
            props: dict[str, Any] = event["Properties"]
            return props
    raise KeyError(f"{logical_id} has no {kind} event")
