"""`make local`: the moto server, the template's resources, the API, the stream poller, the alert schedule
and the demo data, in the foreground until Ctrl-C (DESIGN.md §5)."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from local_stack.outputs import remove_outputs, write_outputs
from local_stack.runtime import FunctionRuntime, install_output_capture, restore_output
from local_stack.settings import (
    HOST,
    REGION,
    LocalSettings,
    add_code_paths,
    apply_function_environment,
    point_sdk_at,
)
from local_stack.template import ROOT, resources

log = logging.getLogger("local_stack")

DRAIN_TIMEOUT_SECONDS = 90.0


class PortInUse(RuntimeError):
    """A port the local stack needs is taken."""


class DemoFailed(RuntimeError):
    """The demo data could not be loaded through the API."""


def _check_port(port: int, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            raise PortInUse(
                f"port {port} on {HOST} is in use: stop what holds it, or set {variable}"
            ) from None


def _stream_function() -> tuple[str, str]:
    """The function fed by a DynamoDB stream and the table whose stream it is."""
    for logical, function in resources("AWS::Serverless::Function").items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "DynamoDB":
                return logical, event["Properties"]["Stream"]["Fn::GetAtt"][0]
    raise LookupError("template.yaml has no function with a DynamoDB stream event")


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _python() -> str:
    return _shown(Path(sys.executable)) if Path(sys.executable).is_relative_to(Path.cwd()) else sys.executable


def banner(settings: LocalSettings, outputs: dict[str, Any], seconds: float) -> str:
    """What the console shows once the stack is ready."""
    state = settings.state_dir
    env_prefix = "" if state == ROOT / ".local" else f"COSTMETRICS_STATE_DIR={_shown(state)} "
    lines = [
        "",
        f"Cost & Metrics API: local stack ready in {seconds:.1f} s",
        f"  API           {outputs['ApiUrl']}   (no token needed for GET /api/health)",
        f"  API docs      {outputs['ApiUrl']}/api/docs   (Swagger UI; the document: /api/openapi.json)",
        f"  AWS endpoint  {outputs['AwsEndpointUrl']}   (moto; region {outputs['Region']}, keys 'testing')",
        f"  Outputs       {_shown(state / 'outputs.json')}",
        f"  Function logs {_shown(state / 'logs')}/<LogicalId>.log",
    ]
    if settings.start_at is not None:
        lines.append(
            f"  Clock         started at {settings.start_at:%Y-%m-%dT%H:%M:%SZ} (COSTMETRICS_NOW), ticking"
        )
    demo = outputs.get("Demo")
    if demo:
        users = ", ".join(f"{u['username']} ({u['group']})" for u in demo["users"])
        lines += [
            f"  Demo          workspace '{demo['workspaceId']}', {demo['events']} events; users {users}",
            f"                password {demo['users'][0]['password']}",
            "",
            "Try:",
            f"  TOKEN=$({env_prefix}{_python()} -m local_stack.token {demo['users'][0]['username']})",
            f'  curl -s -H "Authorization: Bearer $TOKEN" {outputs["ApiUrl"]}/api/cost-analysis/summary',
            f'  curl -s -H "Authorization: Bearer $TOKEN" {outputs["ApiUrl"]}/api/agents',
            f"  .venv/bin/costmetrics login -u {demo['users'][0]['username']}"
            f" -p {demo['users'][0]['password']} && .venv/bin/costmetrics summary",
        ]
    else:
        lines += ["  Demo          skipped (COSTMETRICS_DEMO=0): no demo workspace, users or events", ""]
    lines += [
        f"  {env_prefix}make invoke FUNCTION=CostAnalysisFunction EVENT=events/cost-analysis-summary.json",
        "",
        "Ctrl-C stops the stack.",
        "",
    ]
    return "\n".join(lines)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(settings: LocalSettings) -> int:
    """Starts everything, blocks until SIGINT or SIGTERM, then stops everything; returns the exit code."""
    started = time.monotonic()
    _check_port(settings.moto_port, "COSTMETRICS_MOTO_PORT")
    _check_port(settings.api_port, "COSTMETRICS_API_PORT")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    remove_outputs(settings.state_dir)
    # Every run is a new stack: its function logs start empty, like new log groups.
    for stale in (settings.state_dir / "logs").glob("*.log"):
        stale.unlink()

    # Before boto3 or costmetrics are imported: clients and Powertools read these when they are created.
    output = install_output_capture(settings.state_dir / "logs")
    point_sdk_at(None)

    from moto import mock_aws
    from moto.server import ThreadedMotoServer

    from local_stack import dynamodb_rules, moto_speedups

    moto_speedups.install()
    dynamodb_rules.install()
    moto = ThreadedMotoServer(ip_address=HOST, port=settings.moto_port, verbose=False)
    # The stack's own clients (functions, stream poller, provisioning, demo) reach moto's backends in
    # process; everything else (CLI, curl, SAM's containers, tests) through the server on the port. Both
    # see the same data. A socket, an HTTP server and a thread per call took most of an ingest's time.
    in_process = mock_aws()
    stoppers: list[Any] = []
    try:
        moto.start()
        stoppers.append(moto.stop)
        in_process.start(reset=False)
        stoppers.append(lambda: in_process.stop(remove_data=False))
        _serve(settings, output, started, stoppers)
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        stopping = time.monotonic()
        remove_outputs(settings.state_dir)
        (settings.state_dir / "demo-events.ndjson").unlink(missing_ok=True)
        for stop in reversed(stoppers):
            try:
                stop()
            except Exception:
                log.exception("while stopping")
        restore_output(output)
        log.info("stopped (%.1f s)", time.monotonic() - stopping)
    return 0


def _serve(settings: LocalSettings, output: Any, started: float, stoppers: list[Any]) -> None:
    import boto3

    from local_stack.authorizer import CognitoAuthorizer
    from local_stack.gateway import ApiServer, Gateway
    from local_stack.poller import MappingConfig, StreamPoller, destination_sender
    from local_stack.provision import provision
    from local_stack.schedule import Schedule, scheduled_functions
    from local_stack.streams import StreamReader

    session = boto3.Session(region_name=REGION)
    stack = provision(session)
    log.info(
        "moto on %s: resources of template.yaml provisioned (%.1f s)",
        settings.endpoint_url,
        time.monotonic() - started,
    )
    apply_function_environment(stack.refs(), stack.environment())

    from costmetrics import aws
    from costmetrics.catalog import global_catalog
    from costmetrics.repositories.prices import seed_global_catalog

    aws.reset()
    seed_global_catalog(global_catalog())
    outputs: dict[str, Any] = {
        "ApiUrl": settings.api_url,
        "AwsEndpointUrl": settings.endpoint_url,
        **stack.outputs,
    }

    runtime = FunctionRuntime(output)
    authorizer = CognitoAuthorizer(
        settings.endpoint_url, outputs["UserPoolId"], outputs["UserPoolClientId"], REGION
    )
    server = ApiServer(HOST, settings.api_port, Gateway(runtime.invoke, authorizer))
    server.serve_in_background()
    stoppers.append(server.stop)

    function, table = _stream_function()
    config = MappingConfig.from_template(function)
    reader = StreamReader(
        session.client("dynamodbstreams"), outputs[f"{table.removesuffix('Table')}StreamArn"]
    )
    poller = StreamPoller(
        reader, function, runtime.invoke, config, destination_sender(config, outputs, session)
    )
    poller.start()
    stoppers.append(poller.stop)

    log.info(
        "API on %s, stream poller on %s (%.1f s)", settings.api_url, function, time.monotonic() - started
    )

    if settings.demo:
        from local_stack.demo import load_demo

        try:
            demo = load_demo(
                settings.api_url,
                session.client("cognito-idp"),
                outputs["UserPoolId"],
                outputs["UserPoolClientId"],
                settings.state_dir,
            )
        except Exception as error:
            raise DemoFailed(f"{error} (COSTMETRICS_DEMO=0 starts the stack without demo data)") from error
        log.info(
            "demo data: %d events posted through the API (%.1f s)", demo.accepted, time.monotonic() - started
        )
        if not poller.wait_until_drained(DRAIN_TIMEOUT_SECONDS):
            log.warning(
                "the stream poller has not caught up after %.0f s; rollups may still be moving",
                DRAIN_TIMEOUT_SECONDS,
            )
        log.info("rollups caught up with the stream (%.1f s)", time.monotonic() - started)
        outputs["Demo"] = demo.outputs()

    for scheduled, event_name in scheduled_functions():
        schedule = Schedule(scheduled, event_name, runtime.invoke, settings.alert_interval)
        schedule.start()
        stoppers.append(schedule.stop)

    write_outputs(settings.state_dir, outputs)
    print(banner(settings, outputs, time.monotonic() - started), flush=True)
    while True:
        time.sleep(3600)


def main() -> int:
    """The entry point of `python -m local_stack`."""
    try:
        settings = LocalSettings.from_env()
    except ValueError as error:
        print(f"local stack: {error}", file=sys.stderr)
        return 2
    if settings.start_at is not None:
        # Before anything reads the time: moto's records, tokens and the functions all see this clock.
        import time_machine

        time_machine.travel(settings.start_at, tick=True).start()
    # Other libraries (botocore, werkzeug for every moto request) only say warnings.
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s [%(name)s] %(message)s",
        datefmt="%H:%M:%S",
    )
    log.setLevel(settings.log_level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # The activity function writes with 16 threads over botocore's pool of 10 (reported, not ours to fix).
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    add_code_paths()
    try:
        return run(settings)
    except PortInUse as error:
        log.error("%s", error)
        return 1
    except DemoFailed as error:
        log.error("the demo data could not be loaded: %s", error, exc_info=error.__cause__)
        return 1
