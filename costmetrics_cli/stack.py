"""Where the API is: the local stack's `.local/outputs.json` (or any outputs file), or a deployed stack's
CloudFormation outputs. Either way the CLI needs the same three outputs: ApiUrl, UserPoolClientId, Region."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from costmetrics_cli.errors import StackError

REQUIRED_OUTPUTS = ("ApiUrl", "UserPoolClientId", "Region")
LOCAL_LABEL = "local"
# moto's dummy credentials: the local stack's AWS calls never use the developer's own.
LOCAL_ACCESS_KEY = "testing"


@dataclass(frozen=True)
class Stack:
    """The outputs the CLI uses, and how to reach the stack's Cognito user pool."""

    label: str  # names the token cache file: "local", or the CloudFormation stack name
    api_url: str
    region: str
    client_id: str
    aws_endpoint_url: str | None = None  # the local stack's AWS emulator; None for AWS itself
    source: str = ""  # where the outputs came from, for messages

    @property
    def is_local(self) -> bool:
        return self.aws_endpoint_url is not None

    def cognito(self) -> Any:
        """A cognito-idp client for this stack's user pool (boto3 is imported only when signing in)."""
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        if self.aws_endpoint_url is not None:
            session = boto3.session.Session(
                aws_access_key_id=LOCAL_ACCESS_KEY,
                aws_secret_access_key=LOCAL_ACCESS_KEY,
                region_name=self.region,
            )
            # No proxy for the emulator on loopback, whatever the shell's *_proxy variables say.
            config = Config(proxies={}, retries={"max_attempts": 3, "mode": "standard"})
            return session.client("cognito-idp", endpoint_url=self.aws_endpoint_url, config=config)
        # InitiateAuth needs no AWS credentials: the request goes out unsigned.
        config = Config(signature_version=UNSIGNED, retries={"max_attempts": 5, "mode": "standard"})
        return boto3.session.Session(region_name=self.region).client("cognito-idp", config=config)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stack:
        return cls(
            label=str(data["label"]),
            api_url=str(data["api_url"]),
            region=str(data["region"]),
            client_id=str(data["client_id"]),
            aws_endpoint_url=data.get("aws_endpoint_url"),
            source=str(data.get("source", "")),
        )


def default_outputs_path() -> Path:
    """The local stack's outputs.json: in COSTMETRICS_STATE_DIR when set (as `make local` uses it), else
    `.local/` of the current directory, else `.local/` of the checkout this package is installed from."""
    configured = os.environ.get("COSTMETRICS_STATE_DIR")
    if configured:
        return Path(configured).expanduser() / "outputs.json"
    candidates = [
        Path.cwd() / ".local" / "outputs.json",
        Path(__file__).resolve().parents[1] / ".local" / "outputs.json",
    ]
    return next((path for path in candidates if path.is_file()), candidates[0])


def _flat(document: Any) -> dict[str, Any]:
    """Outputs as {name: value}: outputs.json's own shape, or CloudFormation's [{OutputKey, OutputValue}]
    (what `aws cloudformation describe-stacks --query Stacks[0].Outputs` prints)."""
    if isinstance(document, dict) and isinstance(document.get("Stacks"), list) and document["Stacks"]:
        document = document["Stacks"][0].get("Outputs", [])
    if isinstance(document, list):
        return {
            str(o["OutputKey"]): o.get("OutputValue")
            for o in document
            if isinstance(o, dict) and "OutputKey" in o
        }
    if isinstance(document, dict):
        return document
    raise ValueError("expected a JSON object of outputs")


def from_outputs(outputs: dict[str, Any], *, label: str, source: str) -> Stack:
    """A Stack from outputs under the template's Output names; a StackError names any missing one."""
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    if missing:
        raise StackError(f"{source} has no {', '.join(missing)} output")
    return Stack(
        label=label,
        api_url=str(outputs["ApiUrl"]).rstrip("/"),
        region=str(outputs["Region"]),
        client_id=str(outputs["UserPoolClientId"]),
        aws_endpoint_url=str(outputs["AwsEndpointUrl"]) if outputs.get("AwsEndpointUrl") else None,
        source=source,
    )


def from_outputs_file(path: Path) -> Stack:
    """The stack described by an outputs file (the local stack's outputs.json by default)."""
    if not path.is_file():
        raise StackError(
            f"the local stack is not running ({path} does not exist): start it with `make local`, "
            "or name a deployed stack with --stack-name"
        )
    try:
        outputs = _flat(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise StackError(f"cannot read the outputs in {path}: {error}") from None
    if outputs.get("AwsEndpointUrl"):
        label = LOCAL_LABEL
    else:  # a saved copy of a deployed stack's outputs: one cache file per API
        label = "outputs-" + hashlib.sha256(str(outputs.get("ApiUrl")).encode()).hexdigest()[:12]
    return from_outputs(outputs, label=label, source=str(path))


def from_cloudformation(name: str, region: str | None, profile: str | None) -> Stack:
    """The outputs of a deployed stack, read with CloudFormation DescribeStacks (needs AWS credentials)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as error:
        raise StackError(str(error)) from None
    if not session.region_name:
        raise StackError(f"no AWS region for stack {name}: give --region (or set AWS_REGION)")
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except NoCredentialsError:
        raise StackError(
            f"no AWS credentials to read the outputs of stack {name}: configure them (aws configure, "
            "AWS_PROFILE or --profile), or give the outputs in a file with --outputs"
        ) from None
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise StackError(f"cannot read stack {name} in {session.region_name}: {message}") from None
    except BotoCoreError as error:
        raise StackError(f"cannot read stack {name} in {session.region_name}: {error}") from None
    outputs = {o["OutputKey"]: o.get("OutputValue") for o in stacks[0].get("Outputs", [])}
    outputs.setdefault("Region", session.region_name)
    outputs.pop("AwsEndpointUrl", None)  # a deployed stack is AWS itself
    return from_outputs(outputs, label=name, source=f"stack {name} ({session.region_name})")
