"""What the local stack is configured by (environment variables), and the process environment it gives
the functions: the AWS SDK pointed at the embedded moto server, and the template's function variables."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from local_stack.template import ROOT, Context, load, resources

HOST = "127.0.0.1"
REGION = "us-east-1"
DEFAULT_STATE_DIR = ROOT / ".local"
# How a container started by SAM names this machine (`--add-host host.docker.internal:host-gateway`).
CONTAINER_HOST = "host.docker.internal"


@dataclass(frozen=True)
class LocalSettings:
    """The knobs of `make local`, each an environment variable (see README, "Local stack")."""

    moto_port: int = 5000
    api_port: int = 3000
    state_dir: Path = DEFAULT_STATE_DIR
    alert_interval: float = 30.0
    demo: bool = True
    log_level: str = "INFO"
    # The instant the stack's clock starts at (it ticks from there), for trying a month's edges; the
    # local stack alone reads it: a deployed function always has the real time.
    start_at: datetime | None = None
    # Start with no data: the previous run's tables, users and logs are wiped (`make local-reset`).
    reset: bool = False
    # The address the emulator and the API listen on: loopback, or where SAM's containers reach them
    # (0.0.0.0, or the Docker bridge's address such as 172.17.0.1).
    listen: str = HOST
    # Seconds a Lambda authorizer's answer is cached per identity; None: the template's ReauthorizeEvery.
    authorizer_ttl: float | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LocalSettings:
        """COSTMETRICS_MOTO_PORT, COSTMETRICS_API_PORT, COSTMETRICS_STATE_DIR, COSTMETRICS_ALERT_INTERVAL,
        COSTMETRICS_DEMO (0 skips the demo data), COSTMETRICS_LOG_LEVEL (the local stack's own log),
        COSTMETRICS_NOW (the instant its clock starts at), COSTMETRICS_RESET (1: start empty) and
        COSTMETRICS_LISTEN (the address to listen on; `all` for SAM's containers) and
        COSTMETRICS_AUTHORIZER_TTL (seconds the ingest authorizer's answers are cached; the template's
        ReauthorizeEvery by default)."""
        env = os.environ if env is None else env
        return cls(
            moto_port=int(env.get("COSTMETRICS_MOTO_PORT") or 5000),
            api_port=int(env.get("COSTMETRICS_API_PORT") or 3000),
            state_dir=state_dir(env),
            alert_interval=float(env.get("COSTMETRICS_ALERT_INTERVAL") or 30),
            demo=(env.get("COSTMETRICS_DEMO") or "1").strip().lower() not in {"0", "false", "no", "off"},
            log_level=_level(env.get("COSTMETRICS_LOG_LEVEL")),
            start_at=_instant(env.get("COSTMETRICS_NOW")),
            reset=(env.get("COSTMETRICS_RESET") or "0").strip().lower() in {"1", "true", "yes", "on"},
            listen=_address(env.get("COSTMETRICS_LISTEN")),
            authorizer_ttl=float(ttl) if (ttl := env.get("COSTMETRICS_AUTHORIZER_TTL")) else None,
        )

    @property
    def data_dir(self) -> Path:
        """Where the stack keeps its data between runs (local_stack.persistence)."""
        return self.state_dir / "data"

    @property
    def host(self) -> str:
        """Where this machine's tools reach the stack: loopback, unless it listens on one other address."""
        return HOST if self.listen in (HOST, "0.0.0.0") else self.listen

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.moto_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def container_endpoint_url(self) -> str:
        """The emulator as SAM's containers reach it (with --add-host host.docker.internal:host-gateway)."""
        return f"http://{CONTAINER_HOST}:{self.moto_port}"


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"COSTMETRICS_NOW={value!r} is not an ISO 8601 instant such as 2027-01-01T00:00:30Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"COSTMETRICS_NOW={value!r} needs a time zone, such as Z")
    return parsed.astimezone(UTC)


def _address(value: str | None) -> str:
    value = (value or "").strip()
    if not value or value == "loopback":
        return HOST
    if value == "all":
        return "0.0.0.0"
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"COSTMETRICS_LISTEN={value!r}: give an IP address, `all` or `loopback`") from None


def _level(name: str | None) -> str:
    level = (name or "INFO").strip().upper()
    return level if level in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} else "INFO"


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where outputs.json, the demo events and function logs go (COSTMETRICS_STATE_DIR, default .local)."""
    env = os.environ if env is None else env
    configured = env.get("COSTMETRICS_STATE_DIR")
    return Path(configured).expanduser().resolve() if configured else DEFAULT_STATE_DIR


def point_sdk_at(endpoint_url: str | None, env: MutableMapping[str, str] | None = None) -> None:
    """Sends every boto3 client of this process to `endpoint_url` with dummy credentials, whatever the
    developer's shell or ~/.aws says: the local stack must never reach a real AWS account. None leaves
    the AWS endpoints as they are, for a process whose calls moto serves in process (in_process_sdk)."""
    env = os.environ if env is None else env
    for name in list(env):
        if name.startswith("AWS_ENDPOINT_URL_") or name in {
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
        }:
            del env[name]
    env.pop("AWS_ENDPOINT_URL", None)
    if endpoint_url is not None:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's dummy credentials
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        # An empty config file: no profile can add an endpoint, a role or a region of its own.
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    # A proxy in the shell must not capture loopback traffic (botocore and urllib both honour NO_PROXY).
    for name in ("NO_PROXY", "no_proxy"):
        present = [part for part in env.get(name, "").split(",") if part]
        env[name] = ",".join(dict.fromkeys([*present, HOST, "localhost"]))


def function_environment(refs: Mapping[str, str], ctx: Context | None = None) -> dict[str, str]:
    """The variables the template gives the functions: Globals, then each function's own (in one process
    they all share one environment), resolved against the provisioned resources' names."""
    ctx = ctx or Context()
    document = load()
    variables: dict[str, object] = dict(
        document.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    for function in resources("AWS::Serverless::Function").values():
        own = function["Properties"].get("Environment", {}).get("Variables", {})
        variables.update(own)
    # The local stack chooses the endpoint itself (the emulator, in process or on its port).
    variables.pop("AWS_ENDPOINT_URL", None)
    resolved = {name: ctx.resolve(value, dict(refs)) for name, value in variables.items()}
    return {name: str(value) for name, value in resolved.items() if isinstance(value, str | int | float)}


def sam_env_vars(
    refs: Mapping[str, str], extra: Mapping[str, str], endpoint_url: str
) -> dict[str, dict[str, str]]:
    """The `sam local --env-vars` file: for each function, the variables the template declares for it
    (SAM passes a container no other), resolved to this stack's names, and the emulator's endpoint as
    containers reach it."""
    ctx = Context()
    document = load()
    shared = document.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    files: dict[str, dict[str, str]] = {}
    for logical, function in resources("AWS::Serverless::Function").items():
        declared = {**shared, **function["Properties"].get("Environment", {}).get("Variables", {})}
        values = {name: ctx.resolve(value, dict(refs)) for name, value in declared.items()}
        own = {name: str(value) for name, value in values.items() if isinstance(value, str | int | float)}
        own.update({name: value for name, value in extra.items() if name in declared})
        own.update(STAGE="local", AWS_ENDPOINT_URL=endpoint_url)
        files[logical] = own
    return files


def apply_function_environment(
    refs: Mapping[str, str], extra: Mapping[str, str], env: MutableMapping[str, str] | None = None
) -> None:
    """Sets the functions' variables for this process: the template's, then `extra` (the provisioned
    names), then the local defaults; a POWERTOOLS_* variable already in the shell wins over the template."""
    env = os.environ if env is None else env
    shell = {name: value for name, value in env.items() if name.startswith("POWERTOOLS_")}
    env.update(function_environment(refs))
    env.update(extra)
    env.update(STAGE="local", POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_LOG_LEVEL="WARNING")
    env.update(shell)


def add_code_paths() -> None:
    """Makes the functions and the template's layers importable, as Lambda mounts layers at /opt/python."""
    paths = [ROOT]
    for layer in resources("AWS::Serverless::LayerVersion").values():
        paths.append(ROOT / layer["Properties"]["ContentUri"])
    for path in reversed(paths):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
