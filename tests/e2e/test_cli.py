"""The `costmetrics` command line against the local stack, run as the installed console script
(`.venv/bin/costmetrics`): sign-in and its token cache, every report equal to what the API answers, an
ingest of 10,000 events and their export by cursor (also interrupted and resumed), and its errors."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import clocked
from tests.e2e.support import (
    PASSWORD,
    PRICES,
    ROOT,
    RunningStack,
    fresh_workspace,
    http,
    now_in_month,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

CLI = Path(sys.executable).with_name("costmetrics")
# The ingest/export test's size: 10,000 by default. The local stack ingests and rolls up about 60-120
# events a second on 2 cores; COSTMETRICS_E2E_CLI_EVENTS (at least 2,000) makes a quicker run.
EVENTS = max(2_000, int(os.environ.get("COSTMETRICS_E2E_CLI_EVENTS") or 10_000))
DUPLICATE_LINES = EVENTS * 3 // 200  # 1.5 %
PAGE = 500  # the export's page size
AGENTS = ("nova", "atlas", "quill", "forge", "ledger", "scout")
REPORTS = ["summary", "agents", "by-provider", "by-model", "recommendations", "budget-alerts", "workforce"]
API_CSV = {
    "agents": "/api/cost-analysis/agents",
    "by-provider": "/api/cost-analysis/by-provider",
    "by-model": "/api/cost-analysis/by-model",
    "recommendations": "/api/cost-analysis/recommendations",
    "budget-alerts": "/api/cost-analysis/budget-alerts",
}
PATHS = {
    "summary": "/api/cost-analysis/summary",
    **API_CSV,
    "workforce": "/api/agents/workforce/summary",
}


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


@dataclass
class Cli:
    """The console script with its own token cache, pointed at the test's stack like `make local`'s."""

    stack: RunningStack
    cache_dir: Path
    username: str
    token: str  # the same user's token, for asking the API directly

    def run(
        self, *args: str, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            clocked.command("costmetrics_cli", *args),
            cwd=ROOT,
            env={**self.environment(), **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def environment(self) -> dict[str, str]:
        assert CLI.exists(), f"{CLI} is not installed: run `make venv`"
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("COSTMETRICS_")},
            "COSTMETRICS_STATE_DIR": str(self.stack.state_dir),
            "COSTMETRICS_CACHE_DIR": str(self.cache_dir),
        }

    def login(self) -> None:
        done = self.run("login", "--username", self.username, "--password", PASSWORD)
        assert done.returncode == 0, done.stderr

    def api(self, path: str) -> Any:
        reply = self.stack.get(path, self.token)
        assert reply.status == 200, reply.body
        return reply.body


def _cli_for(stack: RunningStack, tmp_path: Path, workspace: str, group: str = "admin") -> Cli:
    token = stack.new_user(workspace, group)
    return Cli(stack, tmp_path / f"cache-{group}", _claims(token)["cognito:username"], token)


def _register_agents(stack: RunningStack, token: str, budget: int = 50) -> None:
    for index, agent in enumerate(AGENTS):
        model = list(PRICES)[index * 2]
        body = {
            "name": agent.title(),
            "status": "online" if index % 3 else "paused",
            "category": "operations",
            "department": ("Research", "Engineering", "Finance")[index % 3],
            "role_title": "Analyst",
            "model_provider": PRICES[model][0],
            "model_name": model,
            "human_equivalent_salary": 60_000 + 10_000 * index,
            "estimated_hours_saved": 20 + index,
            "cost_budget_monthly": budget if index else 0.5,
        }
        reply = http("PUT", f"{stack.api}/api/agents/{agent}", token=token, body=body)
        assert reply.status == 200, reply.body


def _details(kind: str, rng: random.Random, number: int) -> dict[str, Any]:
    if kind == "model_invocation":
        details: dict[str, Any] = {
            "model": rng.choice(list(PRICES)),
            "inputTokens": rng.randint(200, 60_000),
            "outputTokens": rng.randint(20, 8_000),
            "durationMs": rng.randint(300, 20_000),
        }
        if rng.random() < 0.3:
            details["cacheReadTokens"] = rng.randint(0, 30_000)
        if rng.random() < 0.1:
            details["success"] = False
        return details
    if kind == "task_completed":
        return {"taskType": rng.choice(["classification", "summarization", "research", "coding", "writing"])}
    if kind == "tool_call":
        tool = rng.choice(["web_search", "sql_query", "http_get", "vector_search"])
        return {"tool": tool, "success": rng.random() > 0.08, "durationMs": rng.randint(5, 4_000)}
    if kind == "error":
        return {
            "message": rng.choice(["upstream timeout", "rate limited", "tool failed"]),
            "code": 500 + number % 5,
        }
    if kind == "config_change":
        return {"change": "model", "from": "gpt-5.4", "to": "gpt-5.4-mini", "by": "ops@example.com"}
    return {"session": f"s-{number // 20}", "trigger": kind}


def _created_at(rng: random.Random, now: datetime) -> str:
    """Times over the last 30 days, in the forms clients send: Z, an offset, milliseconds."""
    moment = now - timedelta(
        seconds=rng.randint(120, 30 * 86_400), milliseconds=rng.choice([0, 0, 0, 250, 999])
    )
    style = rng.random()
    if style < 0.15:  # an offset of a client's time zone, normalized to UTC by the API
        return moment.astimezone(timezone(timedelta(hours=rng.choice([-5, 2, 5.5])))).isoformat()
    if style < 0.3:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _generate(path: Path, seed: int = 8) -> dict[str, dict[str, Any]]:
    """An NDJSON file of EVENTS distinct events of several agents, models and types, with
    DUPLICATE_LINES lines repeated (some within a batch of 100, most across batches); the events by id."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    kinds = ["model_invocation", "task_completed", "tool_call", "session_start", "session_end"]
    kinds += ["cron_execution", "config_change", "error"]
    events = []
    for number in range(EVENTS):
        kind = rng.choices(kinds, weights=[45, 15, 20, 5, 5, 4, 2, 4])[0]
        events.append(
            {
                "id": f"evt-{number:05d}-{rng.getrandbits(40):010x}",
                "agentId": rng.choice(AGENTS),
                "eventType": kind,
                "createdAt": _created_at(rng, now),
                "details": _details(kind, rng, number),
            }
        )
    lines = [json.dumps(event, separators=(",", ":")) for event in events]
    for _ in range(DUPLICATE_LINES):
        position = rng.randint(1, len(lines))
        lines.insert(position, lines[rng.randint(max(0, position - 300), position - 1)])
    path.write_text("\n".join(lines) + "\n")
    return {event["id"]: event for event in events}


def _read_ndjson(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _exported_so_far(state: Path) -> int:
    try:
        return int(json.loads(state.read_text())["count"])
    except (FileNotFoundError, ValueError):
        return 0


def _assert_same_events(exported: list[dict[str, Any]], ingested: dict[str, dict[str, Any]]) -> None:
    ids = [item["id"] for item in exported]
    assert len(ids) == len(set(ids)), "an event was exported twice"
    assert set(ids) == set(ingested)
    for item in exported:
        sent = ingested[item["id"]]
        assert (item["agentId"], item["eventType"], item["details"]) == (
            sent["agentId"],
            sent["eventType"],
            sent["details"],
        ), item["id"]
        assert _instant(item["createdAt"]) == _instant(sent["createdAt"]), item["id"]


# --- sign-in and reports -------------------------------------------------------------------------


def test_login_then_summary_as_table_json_and_csv(stack: RunningStack, tmp_path: Path) -> None:
    # Given an admin of a new workspace with one agent and one priced invocation this month
    cli = _cli_for(stack, tmp_path, fresh_workspace())
    _register_agents(stack, cli.token)
    event = {
        "id": "inv-1",
        "agentId": "atlas",
        "eventType": "model_invocation",
        "createdAt": now_in_month(),
        "details": {"model": "gpt-5.4", "inputTokens": 1_000_000, "outputTokens": 100_000},
    }
    assert http("POST", stack.api + "/api/activity", token=cli.token, body={"events": [event]}).status == 200
    assert wait_for(lambda: cli.api("/api/cost-analysis/summary")["totalSpend"] != 0, timeout=20)

    # When the user logs in with the console script (the password from the environment)
    done = cli.run("login", "--username", cli.username, env={"COSTMETRICS_PASSWORD": PASSWORD})

    # Then the sign-in is kept in a file only its owner can read
    assert done.returncode == 0, done.stderr
    assert "workspace" in done.stdout
    assert "admin" in done.stdout
    cache = cli.cache_dir / "local.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert json.loads(cache.read_text())["username"] == cli.username

    # And the summary prints as a table (money with 2 decimals), as the API's JSON, and as CSV
    api = cli.api("/api/cost-analysis/summary")
    assert Decimal(str(api["totalSpend"])) == Decimal("4.00")  # 1M x 2.50 + 0.1M x 15.00, per million
    table = cli.run("summary")
    assert table.returncode == 0, table.stderr
    assert [line.split() for line in table.stdout.splitlines() if line.startswith("Total spend")] == [
        ["Total", "spend", "4.00"]
    ]
    assert ["gpt-5.4", "4.00"] in [line.split() for line in table.stdout.splitlines()]
    as_json = cli.run("summary", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout, parse_float=Decimal) == api
    as_csv = cli.run("summary", "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    rows = dict(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows["field"] == "value"
    assert Decimal(rows["totalSpend"]) == Decimal(rows["tokenCost.byModel.gpt-5.4"]) == Decimal(4)
    assert rows["agentCount"] == str(len(AGENTS))

    # And an expired ID token is renewed with the refresh token (REFRESH_TOKEN_AUTH), without a new login
    kept = json.loads(cache.read_text())
    cache.write_text(json.dumps({**kept, "expiresAt": time.time() - 10}))
    renewed = cli.run("summary", "--format", "json")
    assert renewed.returncode == 0, renewed.stderr
    after = json.loads(cache.read_text())
    assert after["expiresAt"] > time.time()
    assert after["refreshToken"] == kept["refreshToken"]

    # And after logout the commands say to log in
    assert cli.run("logout").returncode == 0
    signed_out = cli.run("summary")
    assert signed_out.returncode == 1
    assert "costmetrics login" in signed_out.stderr


@pytest.fixture(scope="module")
def reporting(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, str]:
    """A workspace with agents and a complete past month of events (so no figure moves while the test
    compares), its admin signed in with the CLI; and that month."""
    cli = _cli_for(stack, tmp_path_factory.mktemp("cli-reports"), fresh_workspace())
    _register_agents(stack, cli.token, budget=1)
    month_start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    past = month_start - timedelta(days=20)
    rng = random.Random(3)
    events = []
    for number in range(120):
        kind = ("model_invocation", "model_invocation", "task_completed", "tool_call", "error")[number % 5]
        events.append(
            {
                "id": f"r-{number}",
                "agentId": AGENTS[number % len(AGENTS)],
                "eventType": kind,
                "createdAt": (past + timedelta(minutes=7 * number)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "details": _details(kind, rng, number),
            }
        )
    posted = http("POST", stack.api + "/api/activity", token=cli.token, body={"events": events[:100]})
    assert (posted.status, posted.body["accepted"]) == (200, 100), posted.body
    posted = http("POST", stack.api + "/api/activity", token=cli.token, body={"events": events[100:]})
    assert (posted.status, posted.body["accepted"]) == (200, 20), posted.body
    month = past.strftime("%Y-%m")
    complete = wait_for(
        lambda: cli.api(f"/api/agents/workforce/summary?month={month}")["total_invocations"] == 48, timeout=30
    )
    assert complete, "the rollups did not follow the ingestion within 30 s"
    cli.login()
    return cli, month


@pytest.mark.parametrize("command", REPORTS)
def test_each_report_prints_the_apis_json_and_a_table(reporting: tuple[Cli, str], command: str) -> None:
    cli, month = reporting
    expected = cli.api(f"{PATHS[command]}?month={month}")

    as_json = cli.run(command, "--month", month, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout, parse_float=Decimal) == expected

    table = cli.run(command, "--month", month)
    assert table.returncode == 0, table.stderr
    assert table.stdout.strip()
    if command in API_CSV:  # the API's own CSV, byte for byte
        as_csv = cli.run(command, "--month", month, "--format", "csv")
        assert as_csv.returncode == 0, as_csv.stderr
        reply = _get_text(cli, f"{API_CSV[command]}?month={month}")
        assert as_csv.stdout.replace("\r\n", "\n") == reply.replace("\r\n", "\n")
        rows = {"by-provider": "providers", "by-model": "models", "budget-alerts": "alerts"}.get(
            command, command
        )
        assert len(list(csv.reader(io.StringIO(as_csv.stdout)))) == 1 + len(expected[rows])


def _get_text(cli: Cli, path: str) -> str:
    import urllib.request

    request = urllib.request.Request(
        cli.stack.api + path, headers={"Authorization": f"Bearer {cli.token}", "Accept": "text/csv"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        body: bytes = response.read()
    return body.decode()


def test_agents_table_shows_money_with_two_decimals(reporting: tuple[Cli, str]) -> None:
    cli, month = reporting
    expected = {row["id"]: row for row in cli.api(f"/api/cost-analysis/agents?month={month}")["agents"]}
    table = cli.run("agents", "--month", month)
    assert table.returncode == 0, table.stderr
    lines = {line.split()[0]: line.split() for line in table.stdout.splitlines() if line.split()}
    for agent, row in expected.items():
        assert f"{Decimal(str(row['actualCost'])):,.2f}" in lines[agent]
        assert f"{Decimal(str(row['budget'])):,.2f}" in lines[agent]


def test_workforce_agents_and_trends_equal_the_api(reporting: tuple[Cli, str]) -> None:
    cli, month = reporting
    agents = cli.run("workforce", "--agents", "--month", month, "--format", "json")
    assert agents.returncode == 0, agents.stderr
    assert json.loads(agents.stdout, parse_float=Decimal) == cli.api(
        f"/api/agents/workforce/agents?month={month}"
    )

    trends = cli.run("trends", "--months", "3", "--format", "json")
    assert trends.returncode == 0, trends.stderr
    body = json.loads(trends.stdout, parse_float=Decimal)
    assert body == cli.api("/api/agents/workforce/trends?months=3")
    assert [row["period"] for row in body["trends"]][-2] == month

    pricing = cli.run("pricing", "--format", "json")
    assert pricing.returncode == 0, pricing.stderr
    assert json.loads(pricing.stdout, parse_float=Decimal) == cli.api("/api/cost-analysis/pricing")

    as_csv = cli.run("trends", "--months", "3", "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["period"], Decimal(r["total_cost"])) for r in rows] == [
        (t["period"], Decimal(str(t["total_cost"]))) for t in body["trends"]
    ]


# --- ingest and export ---------------------------------------------------------------------------


def test_ingest_10000_events_then_export_them_by_cursor_also_interrupted(
    own_stack: RunningStack, tmp_path: Path
) -> None:
    stack = own_stack
    # Given an admin of a new workspace with six agents, signed in, and an NDJSON file of 10,000 events
    # (EVENTS) with 150 (1.5 %) duplicate lines
    cli = _cli_for(stack, tmp_path, fresh_workspace())
    _register_agents(stack, cli.token)
    cli.login()
    source = tmp_path / "events.ndjson"
    ingested = _generate(source)
    assert len(source.read_text().splitlines()) == EVENTS + DUPLICATE_LINES
    timings: dict[str, float] = {}

    # When the file is ingested
    started = time.monotonic()
    done = cli.run("ingest", str(source), timeout=1_200)
    timings["ingest"] = time.monotonic() - started

    # Then every event is accepted once, the repeated lines counted as duplicates
    assert done.returncode == 0, done.stderr
    assert (
        f"{EVENTS + DUPLICATE_LINES:,} lines: accepted {EVENTS:,}, duplicates {DUPLICATE_LINES:,}, rejected 0"
        in done.stderr
    )
    assert "ingest events.ndjson · [########################]" in done.stderr  # the progress bar's last line

    # And once the rollups have counted them all...
    window_start = (datetime.now(UTC) - timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window_end = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = f"from={window_start}&to={window_end}"
    started = time.monotonic()
    counted = wait_for(
        lambda: cli.api(f"/api/activity?{window}&limit=1")["pagination"]["total"] == EVENTS, 900, 1
    )
    timings["rollups caught up"] = time.monotonic() - started
    assert counted, f"the activity log did not count the {EVENTS:,} events within 900 s"

    # ...the export by cursor over the window writes exactly the ingested events, each once
    export = tmp_path / "export.ndjson"
    started = time.monotonic()
    done = cli.run("export-activity", "--from", window_start, "--to", window_end, "-o", str(export))
    timings["export"] = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert f"exported {EVENTS:,} events to {export} ({-(-EVENTS // PAGE)} pages)" in done.stderr
    assert f"{EVENTS:,}/{EVENTS:,} 100%" in done.stderr
    complete = _read_ndjson(export)
    _assert_same_events(complete, ingested)
    assert not (tmp_path / "export.ndjson.state.json").exists()

    # When an export stops after 3 pages, with half a line written after them (a crash mid-write)...
    interrupted = tmp_path / "interrupted.ndjson"
    args = ("export-activity", "--from", window_start, "--to", window_end, "-o", str(interrupted))
    stopped = cli.run(*args, "--max-pages", "3")
    assert stopped.returncode == 0, stopped.stderr
    assert "--resume" in stopped.stderr
    assert len(_read_ndjson(interrupted)) == 3 * PAGE
    with interrupted.open("a") as torn:
        torn.write('{"id": "evt-torn-')

    # ...then a new export to that file is refused, and --resume finishes it without a duplicate
    refused = cli.run(*args)
    assert refused.returncode == 1
    assert "--resume" in refused.stderr
    resumed = cli.run("export-activity", "-o", str(interrupted), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed after {3 * PAGE:,} events" in resumed.stderr
    assert interrupted.read_text() == export.read_text()

    # When an export is killed (SIGKILL) in the middle of its walk, --resume finishes it too
    killed = tmp_path / "killed.ndjson"
    state = tmp_path / "killed.ndjson.state.json"
    process = subprocess.Popen(
        clocked.command(
            "costmetrics_cli",
            "export-activity",
            "--from",
            window_start,
            "--to",
            window_end,
            "-o",
            str(killed),
            "--limit",
            "100",
        ),
        cwd=ROOT,
        env=cli.environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: _exported_so_far(state) >= 1_000, 60, 0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert state.exists(), "the export ended before it was killed"
    resumed = cli.run("export-activity", "-o", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_events(_read_ndjson(killed), ingested)
    assert not state.exists()

    print(
        f"\nCLI ingest and export of {EVENTS:,} events: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    )


def test_rejected_events_and_bad_lines_are_reported_by_line(stack: RunningStack, tmp_path: Path) -> None:
    # Given a file with a good event, an unknown agent, a line that is not JSON and a time without zone
    cli = _cli_for(stack, tmp_path, fresh_workspace())
    _register_agents(stack, cli.token)
    cli.login()
    at = now_in_month()
    lines = [
        {"id": "good-1", "agentId": "nova", "eventType": "task_completed", "createdAt": at, "details": {}},
        {"id": "ghost-1", "agentId": "ghost", "eventType": "task_completed", "createdAt": at, "details": {}},
        "this is not JSON",
        {
            "id": "naive-1",
            "agentId": "nova",
            "eventType": "error",
            "createdAt": "2026-01-01T10:00:00",
            "details": {},
        },
    ]
    source = tmp_path / "mixed.ndjson"
    source.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    rejects = tmp_path / "rejects.ndjson"

    # When it is ingested
    done = cli.run("ingest", str(source), "--rejected", str(rejects))

    # Then the exit code says some were rejected, and each is named by line, id and reason
    assert done.returncode == 3, done.stderr
    assert "4 lines: accepted 1, duplicates 0, rejected 3" in done.stderr
    assert "line 2 (id ghost-1): agentId: 'ghost' is not a registered agent" in done.stderr
    assert "line 3: not JSON" in done.stderr
    assert "line 4 (id naive-1): createdAt:" in done.stderr
    assert "time zone" in done.stderr
    assert "Traceback" not in done.stderr
    assert [(r["line"], r["id"]) for r in _read_ndjson(rejects)] == [
        (2, "ghost-1"),
        (3, None),
        (4, "naive-1"),
    ]
    # And the good event was stored all the same
    log = cli.api("/api/activity?limit=10")
    assert [item["id"] for item in log["data"]] == ["good-1"]


def test_errors_are_one_clear_line_and_a_nonzero_exit(stack: RunningStack, tmp_path: Path) -> None:
    workspace = fresh_workspace()
    cli = _cli_for(stack, tmp_path, workspace)

    # A wrong password
    wrong = cli.run("login", "--username", cli.username, "--password", "Not-The-Password-1")
    assert wrong.returncode == 1
    assert wrong.stderr.startswith(f"error: sign-in of {cli.username} refused:")
    assert "Incorrect username or password" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    assert not (cli.cache_dir / "local.json").exists()

    # A report before any login
    assert "run `costmetrics login`" in cli.run("summary").stderr

    # A bad parameter: the API's 400 with its field, not a traceback
    cli.login()
    bad = cli.run("summary", "--month", "2026-13")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: the API answered 400 invalid_request")
    assert "month" in bad.stderr
    assert "Traceback" not in bad.stderr

    # A viewer may not ingest: 403, and the ingest stops saying so
    viewer = _cli_for(stack, tmp_path, workspace, "viewer")
    viewer.login()
    source = tmp_path / "one.ndjson"
    source.write_text(
        json.dumps({"id": "x", "agentId": "nova", "eventType": "error", "createdAt": now_in_month()}) + "\n"
    )
    forbidden = viewer.run("ingest", str(source), "--no-progress")
    assert forbidden.returncode == 1
    assert "error: the API answered 403" in forbidden.stderr
    assert "Traceback" not in forbidden.stderr

    # No local stack where the CLI looks
    nowhere = cli.run("summary", env={"COSTMETRICS_STATE_DIR": str(tmp_path / "no-stack")})
    assert nowhere.returncode == 1
    assert "the local stack is not running" in nowhere.stderr
    assert "make local" in nowhere.stderr
