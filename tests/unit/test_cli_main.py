"""The commands end to end inside the process, with a fake API client: which endpoint and format each
uses, what reaches stdout and stderr, and the exit codes."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from costmetrics_cli import main as cli
from costmetrics_cli.client import Reply

SUMMARY = {"totalSpend": 4.0, "budget": {"total": 10.0, "utilization": 0.4}, "month": "2026-03"}


class FakeClient:
    def __init__(self) -> None:
        self.gets: list[tuple[str, dict[str, Any], str]] = []
        self.posts: list[bytes] = []

    def get(
        self, path: str, query: dict[str, Any] | None = None, *, accept: str = "application/json"
    ) -> Reply:
        self.gets.append((path, dict(query or {}), accept))
        if accept == "text/csv":
            return Reply(200, {}, b"id,name\r\nnova,Nova\r\n")
        return Reply(200, {}, json.dumps(SUMMARY).encode())

    def post(self, path: str, body: bytes) -> Reply:
        self.posts.append(body)
        events = json.loads(body)["events"]
        rejected = [
            {"index": i, "id": e.get("id"), "reason": "agentId: 'ghost' is not a registered agent"}
            for i, e in enumerate(events)
            if e.get("agentId") == "ghost"
        ]
        return Reply(
            200, {}, json.dumps({"accepted": len(events) - len(rejected), "rejected": rejected}).encode()
        )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeClient:
    client = FakeClient()
    monkeypatch.setattr(cli, "_client", lambda args, progress=None: client)
    monkeypatch.setenv("COSTMETRICS_CACHE_DIR", str(tmp_path / "cache"))
    return client


def test_a_report_as_json_is_the_apis_body(fake: FakeClient, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["summary", "--month", "2026-03", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == SUMMARY
    assert fake.gets == [("/api/cost-analysis/summary", {"month": "2026-03"}, "application/json")]


def test_csv_of_a_list_endpoint_is_the_apis_own(fake: FakeClient, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["agents", "-f", "csv"]) == 0
    assert capsys.readouterr().out == "id,name\r\nnova,Nova\r\n"
    assert fake.gets == [("/api/cost-analysis/agents", {}, "text/csv")]


def test_workforce_agents_and_trends_use_their_endpoints(fake: FakeClient) -> None:
    cli.main(["workforce", "--agents", "-f", "json"])
    cli.main(["trends", "--months", "12", "-f", "json"])
    assert [(path, query) for path, query, _ in fake.gets] == [
        ("/api/agents/workforce/agents", {}),
        ("/api/agents/workforce/trends", {"months": 12}),
    ]


def test_ingest_with_rejections_exits_3_and_names_the_lines(
    fake: FakeClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "events.ndjson"
    rows = [{"id": f"e-{n}", "agentId": "ghost" if n == 1 else "nova"} for n in range(3)]
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\n{broken\n")
    assert cli.main(["ingest", str(source), "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert "4 lines: accepted 2, duplicates 0, rejected 2" in err
    assert "line 2 (id e-1): agentId: 'ghost' is not a registered agent" in err
    assert "line 4: not JSON" in err


def test_ingest_of_good_events_exits_0(fake: FakeClient, tmp_path: Path) -> None:
    source = tmp_path / "events.ndjson"
    source.write_text(json.dumps({"id": "e-1", "agentId": "nova"}) + "\n")
    assert cli.main(["ingest", str(source), "--no-progress"]) == 0


def test_a_deployed_stack_without_a_sign_in_says_to_log_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COSTMETRICS_CACHE_DIR", str(tmp_path))
    assert cli.main(["summary", "--stack-name", "cost-metrics-dev"]) == 1
    assert capsys.readouterr().err == (
        "error: not signed in to stack cost-metrics-dev: "
        "run `costmetrics login --stack-name cost-metrics-dev`\n"
    )


def test_no_local_stack_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COSTMETRICS_STATE_DIR", str(tmp_path))
    assert cli.main(["summary"]) == 1
    assert "the local stack is not running" in capsys.readouterr().err


def test_logout_without_a_sign_in_is_fine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COSTMETRICS_CACHE_DIR", str(tmp_path))
    assert cli.main(["logout"]) == 0
    assert "Not signed in" in capsys.readouterr().out


def test_ingest_reads_stdin_with_a_dash(
    fake: FakeClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = b'{"id": "e-1", "agentId": "nova"}\n{"id": "e-2", "agentId": "ghost"}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines)))
    assert cli.main(["ingest", "-", "--no-progress"]) == 3
    assert "line 2 (id e-2)" in capsys.readouterr().err
    assert len(fake.posts) == 1


class KeysClient:
    """The ingest-keys endpoints, as the API answers them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.key = {
            "id": "0123456789abcdef",
            "name": "fleet",
            "workspaceId": "acme",
            "prefix": "cmk_acme.0123456789abcdef",
            "status": "active",
            "createdAt": "2026-03-17T08:00:00Z",
            "createdBy": "sub-1",
            "lastUsedAt": None,
            "revokedAt": None,
        }

    def request(self, method: str, path: str, *, body: bytes | None = None, **_: Any) -> Reply:
        self.calls.append((method, path, json.loads(body) if body else None))
        if method == "POST":
            return Reply(
                201, {}, json.dumps({**self.key, "key": "cmk_acme.0123456789abcdef." + "s" * 43}).encode()
            )
        return Reply(
            200,
            {},
            json.dumps({**self.key, "status": "revoked", "revokedAt": "2026-03-17T09:00:00Z"}).encode(),
        )

    def get(self, path: str, query: dict[str, Any] | None = None, **_: Any) -> Reply:
        self.calls.append(("GET", path, None))
        return Reply(200, {}, json.dumps({"keys": [self.key]}).encode())


def test_keys_create_prints_the_key_alone_on_stdout_and_says_it_is_shown_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = KeysClient()
    monkeypatch.setattr(cli, "_client", lambda args, progress=None: client)
    assert cli.main(["keys", "create", "fleet"]) == 0
    out, err = capsys.readouterr()
    assert out == "cmk_acme.0123456789abcdef." + "s" * 43 + "\n"
    assert "only time it is shown" in err
    assert client.calls == [("POST", "/api/ingest-keys", {"name": "fleet"})]


def test_keys_list_and_revoke(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    client = KeysClient()
    monkeypatch.setattr(cli, "_client", lambda args, progress=None: client)
    assert cli.main(["keys", "list"]) == 0
    table = capsys.readouterr().out
    assert "0123456789abcdef" in table
    assert "fleet" in table
    assert "active" in table
    assert cli.main(["keys", "list", "-f", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("id,name,workspaceId")
    assert cli.main(["keys", "revoke", "0123456789abcdef"]) == 0
    assert "revoked 0123456789abcdef (fleet)" in capsys.readouterr().out
    assert client.calls[-1] == ("DELETE", "/api/ingest-keys/0123456789abcdef", None)
