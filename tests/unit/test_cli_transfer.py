"""Ingest and export with the CLI, against fake API clients: batches of at most 100 with line numbers,
rejections mapped back to lines, a stop that keeps what was done, and an export that resumes after an
interruption (even one in the middle of writing a page) without losing or repeating an event."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from costmetrics_cli import transfer
from costmetrics_cli.client import Reply
from costmetrics_cli.errors import ApiError, CliError
from costmetrics_cli.main import parser
from costmetrics_cli.transfer import (
    ExportQuery,
    IngestReport,
    batches,
    export_to_file,
    ingest,
    numbered_lines,
)


def event(number: int, agent: str = "nova") -> str:
    return json.dumps(
        {"id": f"e-{number}", "agentId": agent, "eventType": "error", "createdAt": "2026-03-01T00:00:00Z"}
    )


def answer(body: Any) -> Reply:
    return Reply(200, {}, json.dumps(body).encode())


class FakeIngestApi:
    """Accepts every event except those of agent 'ghost'; counts ids already seen as duplicates."""

    def __init__(self, fail_on_call: int | None = None) -> None:
        self.seen: set[str] = set()
        self.bodies: list[list[Any]] = []
        self.fail_on_call = fail_on_call
        self.lock = threading.Lock()

    def post(self, path: str, body: bytes) -> Reply:
        assert path == "/api/activity"
        events = json.loads(body)["events"]
        with self.lock:
            self.bodies.append(events)
            if self.fail_on_call is not None and len(self.bodies) == self.fail_on_call:
                raise ApiError(503, "unavailable", "still down after the retries")
            result: dict[str, Any] = {"accepted": 0, "duplicates": 0, "rejected": []}
            for index, item in enumerate(events):
                if not isinstance(item, dict):
                    result["rejected"].append(
                        {"index": index, "id": None, "reason": "an event must be a JSON object"}
                    )
                elif item["agentId"] == "ghost":
                    reason = "agentId: 'ghost' is not a registered agent of this workspace"
                    result["rejected"].append({"index": index, "id": item["id"], "reason": reason})
                elif item["id"] in self.seen:
                    result["duplicates"] += 1
                else:
                    self.seen.add(item["id"])
                    result["accepted"] += 1
            return answer(result)


def test_lines_are_batched_by_100_with_their_line_numbers_and_bad_lines_kept_apart() -> None:
    text = [event(n) + "\n" for n in range(250)]
    text.insert(10, "\n")  # blank: skipped, but lines after it keep their real numbers
    text.insert(20, "{oops\n")
    text.insert(30, "NaN\n")
    report = IngestReport()
    found = list(batches(numbered_lines(text), report))
    assert [len(b.lines) for b in found] == [100, 100, 50]
    assert [(p.line, p.reason) for p in report.bad_lines] == [
        (21, "not JSON: Expecting property name enclosed in double quotes at column 2"),
        (31, "not JSON: NaN is not a JSON value"),
    ]
    assert found[0].lines[:12] == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13)
    assert json.loads(found[0].body())["events"][0] == json.loads(event(0))
    assert report.lines == 252


def test_a_line_that_is_not_utf8_is_reported_not_sent() -> None:
    raw = (event(1) + "\n").encode() + b'{"id": "caf\xe9"}\n'
    report = IngestReport()
    found = list(batches(numbered_lines(raw.decode("utf-8", "surrogateescape").splitlines()), report))
    assert [b.lines for b in found] == [(1,)]
    assert [(p.line, p.reason) for p in report.bad_lines] == [(2, "not UTF-8 text")]


def test_a_batch_is_cut_before_the_apis_body_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "MAX_BODY_BYTES", 1_000)
    found = list(batches(numbered_lines([event(n) for n in range(40)]), IngestReport()))
    assert all(len(b.body()) <= 1_000 + len('{"events":[]}') for b in found)
    assert sum(len(b.lines) for b in found) == 40


def test_lines_are_sent_exactly_as_written() -> None:
    line = '{"id":"x","agentId":"nova","eventType":"error","createdAt":"2026-03-01T00:00:00Z",'
    line += '"details":{"v":0.10}}'
    (batch,) = batches(numbered_lines([line]), IngestReport())
    assert b'"v":0.10' in batch.body()  # not re-serialized: 0.10 stays 0.10


@pytest.mark.parametrize("parallel", [1, 4])
def test_ingest_counts_and_maps_rejections_to_lines(parallel: int) -> None:
    lines = [event(n, "ghost" if n in (5, 150) else "nova") for n in range(230)]
    lines += [event(7), "[1, 2]", "not json"]  # a duplicate, an array, a bad line
    api = FakeIngestApi()
    report = ingest(api, numbered_lines(lines), parallel=parallel)  # type: ignore[arg-type]
    assert (report.lines, report.accepted, report.duplicates) == (233, 228, 1)
    assert [(p.line, p.event_id) for p in report.problems] == [
        (6, "e-5"),
        (151, "e-150"),
        (232, None),
        (233, None),
    ]
    assert "not a registered agent" in report.problems[0].reason
    assert report.problems[0].text == lines[5]
    assert report.error is None
    assert all(len(body) <= 100 for body in api.bodies)


def test_a_batch_that_keeps_failing_stops_the_ingest_and_keeps_what_was_done() -> None:
    api = FakeIngestApi(fail_on_call=2)
    report = ingest(api, numbered_lines([event(n) for n in range(300)]), parallel=1)  # type: ignore[arg-type]
    assert isinstance(report.error, ApiError)
    assert report.accepted == 100
    assert report.sent == 100


# --- export --------------------------------------------------------------------------------------


class FakeLogApi:
    """GET /api/activity over `count` events, pages of `limit`, cursor "p<position>", bound to the filters."""

    def __init__(self, count: int) -> None:
        self.items = [{"id": f"e-{n:04d}", "details": {"n": n}} for n in range(count)]
        self.calls: list[dict[str, Any]] = []

    def get(self, path: str, query: dict[str, Any]) -> Reply:
        assert path == "/api/activity"
        self.calls.append(query)
        token = query.get("nextToken")
        if token is not None and not token.startswith(f"p{query.get('from')}:"):
            raise ApiError(400, "invalid_request", "nextToken is not a cursor this query issued")
        start = int(token.rsplit(":", 1)[1]) if token else 0
        end = min(start + query["limit"], len(self.items))
        more = end < len(self.items)
        pagination = {
            "total": len(self.items),
            "hasMore": more,
            "nextToken": f"p{query.get('from')}:{end}" if more else None,
        }
        return answer({"data": self.items[start:end], "pagination": pagination})


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_an_export_walks_every_page_and_removes_its_state(tmp_path: Path) -> None:
    api = FakeLogApi(1_234)
    out = tmp_path / "log.ndjson"
    result = export_to_file(api, ExportQuery(start="2026-03-01T00:00:00Z"), out, resume=False, limit=500)  # type: ignore[arg-type]
    assert result.complete
    assert (result.state.count, result.state.pages, result.state.total) == (1_234, 3, 1_234)
    assert lines_of(out) == api.items
    assert not transfer.state_path(out).exists()
    assert all(call["from"] == "2026-03-01T00:00:00Z" for call in api.calls)


def test_an_interrupted_export_resumes_after_its_last_complete_page(tmp_path: Path) -> None:
    api = FakeLogApi(1_234)
    out = tmp_path / "log.ndjson"
    query = ExportQuery(start="2026-03-01T00:00:00Z", end="2026-03-31T00:00:00Z")
    stopped = export_to_file(api, query, out, resume=False, limit=100, max_pages=4)  # type: ignore[arg-type]
    assert not stopped.complete
    assert len(lines_of(out)) == 400
    state = json.loads(transfer.state_path(out).read_text())
    assert (state["count"], state["next_token"]) == (400, "p2026-03-01T00:00:00Z:400")

    # A crash while writing the next page leaves part of it in the file: the resume drops it
    with out.open("a") as torn:
        torn.write(json.dumps(api.items[400]) + "\n" + '{"id": "e-04')

    with pytest.raises(CliError, match="unfinished export"):
        export_to_file(api, query, out, resume=False)  # type: ignore[arg-type]
    with pytest.raises(CliError, match="own filters"):
        export_to_file(api, ExportQuery(start="2026-01-01T00:00:00Z"), out, resume=True)  # type: ignore[arg-type]

    resumed = export_to_file(api, None, out, resume=True, limit=100)  # type: ignore[arg-type]
    assert resumed.complete
    assert resumed.resumed_from == 400
    assert lines_of(out) == api.items  # every event once, in order
    assert not transfer.state_path(out).exists()
    with pytest.raises(CliError, match="nothing to resume"):
        export_to_file(api, None, out, resume=True)  # type: ignore[arg-type]


def test_an_empty_log_exports_an_empty_file(tmp_path: Path) -> None:
    out = tmp_path / "empty.ndjson"
    result = export_to_file(FakeLogApi(0), ExportQuery(), out, resume=False)  # type: ignore[arg-type]
    assert result.complete
    assert out.read_text() == ""


def test_a_new_export_replaces_an_older_file(tmp_path: Path) -> None:
    out = tmp_path / "log.ndjson"
    out.write_text("old line that must go\n" * 100)
    export_to_file(FakeLogApi(3), ExportQuery(), out, resume=False)  # type: ignore[arg-type]
    assert len(lines_of(out)) == 3


# --- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--stack-name", "cost-metrics-dev", "--region", "eu-west-1", "summary"],
        ["summary", "--stack-name", "cost-metrics-dev", "--region", "eu-west-1"],
    ],
)
def test_stack_options_go_before_or_after_the_command(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    assert (args.stack_name, args.region, args.outputs, args.format) == (
        "cost-metrics-dev",
        "eu-west-1",
        None,
        "table",
    )


def test_out_of_range_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["trends", "--months", "25"],
        ["ingest", "f", "--batch-size", "101"],
        ["summary", "-f", "xml"],
    ):
        with pytest.raises(SystemExit) as exit_:
            parser().parse_args(argv)
        assert exit_.value.code == 2
    assert "must be 1 to 24" in capsys.readouterr().err
