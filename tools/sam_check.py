"""`make sam-local`: every function run by SAM in a Lambda container against a local stack, checked.

1. A Docker engine and the python3.13 base image of this machine's architecture (the offline stand-in
   that `make sam-image` builds, where the public image cannot be pulled).
2. `sam build` for that architecture (the template's Architecture parameter; arm64 stays the default).
3. A local stack of its own (demo data), listening where containers reach it, with its sam-env.json.
4. `sam local invoke` of one event file of every function: each answers, and the reads answer what the API
   answers for the same workspace (the demo data).
5. `sam local start-api` with real token checks: a valid ID token gets the API's figures, a forged, expired
   or missing one API Gateway's 401, a viewer's write a 403.

Exit code 0 when everything passed, 1 when a check failed, 3 when it cannot run here (no Docker engine, no
base image and no way to build it): the reason is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.outputs import started_stack
from local_stack.template import ROOT
from tools.event_files import AGENT, EVENTS_DIR, FILES

# The builder of an offline base image (`make sam-image`'s BASE_IMAGE_SCRIPT), where one is at hand.
BASE_IMAGE_TOOL = Path(
    os.environ.get("BASE_IMAGE_SCRIPT") or ROOT.parent / "shared" / "tools" / "lambda-base-image"
)
CANNOT_RUN = 3


def architecture() -> str:
    """This machine's architecture, in SAM's words."""
    return {"aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "x86_64")


def base_image(arch: str) -> str:
    return f"public.ecr.aws/lambda/python:3.13-{arch}"


class CannotRun(RuntimeError):
    """This machine cannot run the check (no Docker engine, no base image)."""


def _run(
    *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )


def docker_ready() -> subprocess.Popen[bytes] | None:
    """A running Docker engine: the one that runs, or the engine this started (returned, for the caller to
    stop); CannotRun saying why there is none."""
    if shutil.which("docker") is None:
        raise CannotRun("no docker command: install a Docker engine (Debian: apt-get install docker.io)")
    if _run("docker", "info", timeout=30).returncode == 0:
        return None
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise CannotRun("no Docker engine is running and dockerd is not installed")
    # The engine, started as the base-image tool starts it.
    engine = subprocess.Popen(
        [dockerd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    for _ in range(30):
        if _run("docker", "info", timeout=30).returncode == 0:
            return engine
        time.sleep(1)
    stop_engine(engine)
    raise CannotRun("dockerd did not start (is this a container without the rights to run it?)")


def stop_engine(engine: subprocess.Popen[bytes] | None) -> None:
    """Stops a Docker engine this check started (its containers stop with it); leaves anyone else's."""
    if engine is None:
        return
    engine.terminate()
    try:
        engine.wait(timeout=60)
    except subprocess.TimeoutExpired:
        engine.kill()
        engine.wait(timeout=30)


def image_ready(arch: str, build: bool) -> None:
    image = base_image(arch)
    if _run("docker", "image", "inspect", image, timeout=60).returncode == 0:
        return
    if not build:
        raise CannotRun(f"no {image} image: `make sam-image` builds an offline stand-in")
    if not BASE_IMAGE_TOOL.exists():
        raise CannotRun(f"no {image} image, and no {BASE_IMAGE_TOOL} to build one offline")
    done = _run("bash", str(BASE_IMAGE_TOOL), timeout=1800)
    if done.returncode != 0:
        raise CannotRun(f"the base image could not be built: {done.stderr[-500:]}")


# --- The stack the containers call ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LocalStack:
    state_dir: Path
    process: subprocess.Popen[bytes]
    outputs: dict[str, Any] = field(default_factory=dict)

    def token(self, username: str) -> str:
        done = _run(
            sys.executable, "-m", "local_stack.token", username,
            env={**os.environ, "COSTMETRICS_STATE_DIR": str(self.state_dir)},
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"no token for {username}: {done.stderr}")
        return done.stdout.strip()


@contextmanager
def local_stack(state_dir: Path) -> Iterator[LocalStack]:
    """`python -m local_stack` with the demo data, listening on every interface for the containers."""
    env = {
        **os.environ,
        "COSTMETRICS_STATE_DIR": str(state_dir),
        "COSTMETRICS_MOTO_PORT": str(_free_port()),
        "COSTMETRICS_API_PORT": str(_free_port()),
        "COSTMETRICS_LISTEN": "all",
        "COSTMETRICS_ALERT_INTERVAL": "3600",
    }
    with started_stack(state_dir, env, state_dir / "stack.log") as (process, outputs):
        stack = LocalStack(state_dir, process)
        stack.outputs = outputs
        yield stack


def http(method: str, url: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=120) as reply:
            status, raw = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


# --- The checks -------------------------------------------------------------------------------------------


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    failures: int = 0

    def check(self, ok: bool, what: str, detail: str = "") -> None:
        self.lines.append(f"  {'ok  ' if ok else 'FAIL'} {what}{'' if ok else f': {detail}'}")
        self.failures += 0 if ok else 1
        print(self.lines[-1], flush=True)


def _sam_environment() -> dict[str, str]:
    """SAM with the emulator's dummy credentials (it hands them to the containers) and Python 3.13 on PATH
    (sam build's python3.13 workflow runs it)."""
    python = Path(sys.executable)
    return {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "PATH": os.pathsep.join(
            [str(python.parent), str(python.resolve().parent), os.environ.get("PATH", "")]
        ),
    }


def sam(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return _run(str(Path(sys.executable).with_name("sam")), *args, timeout=timeout, env=_sam_environment())


def invoke_output(stdout: str) -> Any:
    """The function's result: the last line of `sam local invoke`'s standard output that is JSON."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise ValueError(f"no JSON result in: {stdout[-500:]}")


API_FILES = {
    # event file -> the API path whose answer must be the same (the demo workspace's)
    "cost-analysis-summary.json": "/api/cost-analysis/summary",
    "workforce-summary.json": "/api/agents/workforce/summary",
    "agents-list.json": "/api/agents",
    "cost-analysis-pricing.json": "/api/cost-analysis/pricing",
}


def one_file_per_function() -> dict[str, str]:
    """An event file for every function: one whose answer the API also gives, where there is one."""
    chosen: dict[str, str] = {}
    for name, (function, _, _) in FILES.items():
        if function not in chosen or (name in API_FILES and chosen[function] not in API_FILES):
            chosen[function] = name
    return chosen


def check_invokes(stack: LocalStack, arch: str, report: Report) -> None:
    env_vars = str(stack.state_dir / "sam-env.json")
    admin = stack.token("demo@example.com")
    for function, name in sorted(one_file_per_function().items()):
        done = sam(
            "local", "invoke", function, "-e", str(EVENTS_DIR / name), "-n", env_vars,
            "--parameter-overrides", f"Architecture={arch}", "--skip-pull-image",
            "--add-host", "host.docker.internal:host-gateway", timeout=300,
        )  # fmt: skip
        try:
            result = invoke_output(done.stdout)
        except ValueError as error:
            report.check(
                False, f"sam local invoke {function} -e events/{name}", f"{error}\n{done.stderr[-800:]}"
            )
            continue
        ok, detail = True, ""
        if "statusCode" in result:
            ok, detail = result["statusCode"] < 300, str(result)[:300]
            path = API_FILES.get(name)
            if ok and path:
                status, api = http("GET", stack.outputs["ApiUrl"] + path, admin)
                ok = status == 200 and json.loads(result["body"]) == api
                detail = f"the function answered {result['body'][:200]}, the API {str(api)[:200]}"
        elif function == "RollupFunction":
            ok, detail = result == {"batchItemFailures": []}, str(result)
        elif function == "CatalogSeederFunction":
            ok, detail = result.get("Status") == "SUCCESS", str(result)
        elif function == "IngestAuthorizerFunction":
            # The file's key is well formed but no admin of this stack created it: refused, as a 401.
            ok, detail = result.get("errorMessage") == "Unauthorized", str(result)
        else:
            ok, detail = result.get("failed") == 0, str(result)
        same = " (the API's answer)" if name in API_FILES else ""
        report.check(ok, f"sam local invoke {function} -e events/{name}{same}", detail)


def check_start_api(stack: LocalStack, arch: str, report: Report) -> None:
    port = _free_port()
    binary = Path(sys.executable).with_name("sam")
    log = tempfile.NamedTemporaryFile(prefix="sam-start-api-", suffix=".log", delete=False)  # noqa: SIM115
    server = subprocess.Popen(
        [
            str(binary), "local", "start-api", "-p", str(port), "-n", str(stack.state_dir / "sam-env.json"),
            "--parameter-overrides", f"Architecture={arch}", "--skip-pull-image",
            "--add-host", "host.docker.internal:host-gateway", "--warm-containers", "LAZY",
        ],
        cwd=ROOT, env=_sam_environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if http("GET", base + "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                report.check(False, "sam local start-api", Path(log.name).read_text()[-1500:])
                return
            time.sleep(1)
        admin, viewer = stack.token("demo@example.com"), stack.token("viewer@example.com")
        forged = admin[: admin.rindex(".") + 1] + ("A" if admin[-1] != "A" else "B") * 8
        _, api = http("GET", stack.outputs["ApiUrl"] + "/api/cost-analysis/summary", admin)
        status, body = http("GET", base + "/api/cost-analysis/summary", admin)
        report.check(
            status == 200 and body == api,
            "start-api: a valid ID token gets the API's summary",
            f"{status} {body}",
        )
        for what, token in (("no token", None), ("a forged token", forged), ("an access token", "x.y.z")):
            status, body = http("GET", base + "/api/cost-analysis/summary", token)
            report.check(status == 401, f"start-api: {what} is a 401", f"{status} {body}")
        status, body = http("GET", base + "/api/openapi.json")
        report.check(status == 401, "start-api: the OpenAPI document needs a token", f"{status}")
        status, body = http("GET", base + "/api/openapi.json", viewer)
        report.check(status == 200, "start-api: a viewer reads the OpenAPI document", f"{status}")
        probe = {**AGENT, "name": "Probe"}  # a PUT gives every field
        status, body = http("PUT", base + "/api/agents/sam-probe", viewer, probe)
        report.check(status == 403, "start-api: a viewer's write is a 403", f"{status} {body}")
        status, body = http("PUT", base + "/api/agents/sam-probe", admin, probe)
        report.check(status == 200, "start-api: an admin's write is stored", f"{status} {body}")
        status, body = http("GET", stack.outputs["ApiUrl"] + "/api/agents/sam-probe", admin)
        report.check(
            status == 200 and body["name"] == "Probe", "start-api: ...in the local stack's table", f"{status}"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        _run("bash", "-c", "docker ps -q --filter ancestor=" + base_image(arch) + " | xargs -r docker rm -f")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sam_check", description=__doc__)
    parser.add_argument("--build-image", action="store_true", help="build the base image when it is missing")
    args = parser.parse_args(argv)
    arch = architecture()
    try:
        engine = docker_ready()
    except CannotRun as reason:
        print(f"sam local check: cannot run here: {reason}", flush=True)
        return CANNOT_RUN
    try:
        return _check(arch, args.build_image)
    finally:
        stop_engine(engine)


def _check(arch: str, build_image: bool) -> int:
    try:
        image_ready(arch, build_image)
    except CannotRun as reason:
        print(f"sam local check: cannot run here: {reason}", flush=True)
        return CANNOT_RUN
    report = Report()
    print(f"sam local check ({arch}): sam build", flush=True)
    built = sam("build", "--parameter-overrides", f"Architecture={arch}", timeout=1200)
    report.check(
        built.returncode == 0, f"sam build --parameter-overrides Architecture={arch}", built.stderr[-1500:]
    )
    if built.returncode != 0:
        return 1
    with tempfile.TemporaryDirectory(prefix="sam-check-") as state, local_stack(Path(state)) as stack:
        check_invokes(stack, arch, report)
        check_start_api(stack, arch, report)
    print(
        f"sam local check: {len(report.lines) - report.failures} passed, {report.failures} failed", flush=True
    )
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
