"""`make local`: the moto server, the template's resources, the API, the stream poller, the alert schedule
and the demo data, in the foreground until Ctrl-C (README: "Calling the local stack")."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from local_stack.outputs import remove_outputs, write_outputs
from local_stack.persistence import (
    JOURNAL_LIMIT,
    IncompatibleState,
    Store,
    StreamCheckpoint,
    template_fingerprint,
)
from local_stack.provision import Stack
from local_stack.runtime import FunctionRuntime, install_output_capture, restore_output
from local_stack.settings import (
    REGION,
    LocalSettings,
    add_code_paths,
    apply_function_environment,
    point_sdk_at,
    sam_env_vars,
)
from local_stack.template import ROOT, resources

log = logging.getLogger("local_stack")

DRAIN_TIMEOUT_SECONDS = 90.0
STACK_FILE = "stack.json"  # the provisioned names and ids, and the demo's users (in the data directory)
CHECKPOINT_FILE = "stream-checkpoint.json"
SAM_ENV_FILE = "sam-env.json"  # in the state directory, for `sam local --env-vars`


class PortInUse(RuntimeError):
    """A port the local stack needs is taken."""


class DemoFailed(RuntimeError):
    """The demo data could not be loaded through the API."""


def _check_port(address: str, port: int, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            raise PortInUse(
                f"port {port} on {address} is in use: stop what holds it, or set {variable}"
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
        f"  Console       {outputs['ConsoleUrl']}   (sign in with a user of the pool, e.g. a demo user)",
        f"  AWS endpoint  {outputs['AwsEndpointUrl']}   (moto; region {outputs['Region']}, keys 'testing')",
        f"  Outputs       {_shown(state / 'outputs.json')}",
        f"  Function logs {_shown(state / 'logs')}/<LogicalId>.log",
        f"  SAM env-vars  {_shown(state / SAM_ENV_FILE)}   (sam local ... -n; README: With SAM and Docker)",
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
            f"  {env_prefix}.venv/bin/costmetrics login -u {demo['users'][0]['username']}"
            f" -p {demo['users'][0]['password']} && {env_prefix}.venv/bin/costmetrics summary",
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


def _save_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value, indent=2) + "\n")
    temporary.replace(path)


class Snapshots:
    """Takes a snapshot of the emulator when its journal has grown past JOURNAL_LIMIT, and on stop."""

    def __init__(self, store: Store, interval: float = 2.0) -> None:
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.store.entries >= JOURNAL_LIMIT:
                self.take()

    def take(self) -> None:
        from local_stack import moto_speedups

        started = time.monotonic()
        with moto_speedups.request_lock():
            entries = self.store.entries
            self.store.snapshot()
        log.info(
            "snapshot of the data after %d journaled requests (%.1f s)", entries, time.monotonic() - started
        )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        # Called after the API, the poller and the schedule stopped: nothing writes any more.
        self.take()


class StateUnusable(RuntimeError):
    """The state directory's data cannot be loaded into this version of the stack."""


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(settings: LocalSettings) -> int:
    """Starts everything, blocks until SIGINT or SIGTERM, then stops everything; returns the exit code."""
    started = time.monotonic()
    _check_port(settings.listen, settings.moto_port, "COSTMETRICS_MOTO_PORT")
    _check_port(settings.listen, settings.api_port, "COSTMETRICS_API_PORT")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    remove_outputs(settings.state_dir)
    if settings.reset:
        # A new, empty stack: its data and its function logs (like new log groups) go.
        shutil.rmtree(settings.data_dir, ignore_errors=True)
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
    moto = ThreadedMotoServer(ip_address=settings.listen, port=settings.moto_port, verbose=False)
    # The stack's own clients (functions, stream poller, provisioning, demo) reach moto's backends in
    # process; everything else (CLI, curl, SAM's containers, tests) through the server on the port. Both
    # see the same data. A socket, an HTTP server and a thread per call took most of an ingest's time.
    in_process = mock_aws()
    store = Store(settings.data_dir, template_fingerprint(resources()))
    stoppers: list[Any] = []
    try:
        moto.start()
        stoppers.append(moto.stop)
        in_process.start(reset=False)
        stoppers.append(lambda: in_process.stop(remove_data=False))
        stoppers.append(store.close)
        _serve(settings, output, started, stoppers, store)
    except KeyboardInterrupt:
        log.info("stopping")
    except IncompatibleState as error:
        raise StateUnusable(str(error)) from error
    finally:
        stopping = time.monotonic()
        remove_outputs(settings.state_dir)
        for stop in reversed(stoppers):
            try:
                stop()
            except Exception:
                log.exception("while stopping")
        restore_output(output)
        log.info("stopped (%.1f s)", time.monotonic() - stopping)
    return 0


def _serve(settings: LocalSettings, output: Any, started: float, stoppers: list[Any], store: Store) -> None:
    import boto3

    from local_stack import moto_speedups
    from local_stack.authorizer import CognitoAuthorizer
    from local_stack.gateway import ApiServer, Gateway
    from local_stack.poller import MappingConfig, StreamPoller, destination_sender
    from local_stack.provision import provision
    from local_stack.schedule import Schedule, scheduled_functions
    from local_stack.streams import StreamReader

    session = boto3.Session(region_name=REGION)
    saved = settings.data_dir / STACK_FILE
    restored = store.exists() and saved.exists()
    if restored:
        # The same stack as before the stop: its data, users, secrets and the stream position.
        replayed = store.load()
        log.info(
            "data of %s restored (%d requests replayed from the journal) (%.1f s)",
            _shown(settings.data_dir),
            replayed,
            time.monotonic() - started,
        )
    else:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
    # From here on, every request that changes the emulator is journaled (a new stack's resources too).
    store.open_journal()
    moto_speedups.set_journal(store.record)
    stoppers.append(lambda: moto_speedups.set_journal(None))
    if restored:
        stack = Stack(json.loads(saved.read_text())["outputs"])
    else:
        stack = provision(session)
        _save_json(saved, {"outputs": stack.outputs})
        log.info(
            "moto on %s: resources of template.yaml provisioned (%.1f s)",
            settings.endpoint_url,
            time.monotonic() - started,
        )
    snapshots = Snapshots(store)
    snapshots.start()
    stoppers.append(snapshots.stop)
    environment = stack.environment(settings.endpoint_url)
    apply_function_environment(stack.refs(), environment)
    # `sam local invoke -n <this file>`: the same stack, from SAM's containers.
    sam_env = sam_env_vars(stack.refs(), environment, settings.container_endpoint_url)
    _save_json(settings.state_dir / SAM_ENV_FILE, sam_env)

    from costmetrics import aws
    from costmetrics.catalog import global_catalog
    from costmetrics.repositories.prices import seed_global_catalog

    aws.reset()
    seed_global_catalog(global_catalog())
    outputs: dict[str, Any] = {
        "ApiUrl": settings.api_url,
        "ConsoleUrl": f"{settings.api_url}/console",
        "AwsEndpointUrl": settings.endpoint_url,
        **stack.outputs,
    }

    runtime = FunctionRuntime(output)
    authorizer = CognitoAuthorizer(
        settings.endpoint_url, outputs["UserPoolId"], outputs["UserPoolClientId"], REGION
    )
    gateway = Gateway(runtime.invoke, authorizer, authorizer_ttl=settings.authorizer_ttl)
    server = ApiServer(settings.listen, settings.api_port, gateway)
    server.serve_in_background()
    stoppers.append(server.stop)

    function, table = _stream_function()
    config = MappingConfig.from_template(function)
    checkpoint = StreamCheckpoint(settings.data_dir / CHECKPOINT_FILE)
    reader = StreamReader(
        session.client("dynamodbstreams"),
        outputs[f"{table.removesuffix('Table')}StreamArn"],
        start_after=checkpoint.positions,
    )
    poller = StreamPoller(
        reader,
        function,
        runtime.invoke,
        config,
        destination_sender(config, outputs, session),
        on_progress=checkpoint.advance,
    )
    poller.start()
    stoppers.append(poller.stop)

    log.info(
        "API on %s, stream poller on %s (%.1f s)", settings.api_url, function, time.monotonic() - started
    )

    if restored:
        demo_outputs = json.loads(saved.read_text()).get("demo")
        if demo_outputs:
            outputs["Demo"] = demo_outputs
        if not poller.wait_until_drained(DRAIN_TIMEOUT_SECONDS):
            log.warning("the stream poller has not caught up after %.0f s", DRAIN_TIMEOUT_SECONDS)
    elif settings.demo:
        from tools.demo import load_demo

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
        _save_json(saved, {"outputs": stack.outputs, "demo": outputs["Demo"]})

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
    except StateUnusable as error:
        log.error(
            "%s: %s. `make local-reset` (COSTMETRICS_RESET=1) starts an empty stack in its place",
            settings.data_dir,
            error,
        )
        return 1
