"""Moving events: `ingest` posts an NDJSON file to POST /api/activity in batches of at most 100 (each
line sent as written), and `export-activity` walks GET /api/activity by cursor into an NDJSON file,
resumably (a state file beside the output keeps the cursor and how much of the output is complete)."""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from costmetrics_cli.client import ApiClient
from costmetrics_cli.errors import CliError
from costmetrics_cli.progress import Progress

ACTIVITY = "/api/activity"
MAX_BATCH = 100  # the API's cap on events per request
# The API refuses bodies over 2 MiB; a batch is cut earlier when its lines are that large.
MAX_BODY_BYTES = 2 * 1024 * 1024 - 64
EXPORT_PAGE = 500  # the API's largest page


# --- ingest --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A line that was not stored: not JSON (id None), or rejected by the API with its reason."""

    line: int
    event_id: str | None
    reason: str
    text: str = ""


@dataclass
class IngestReport:
    lines: int = 0  # non-blank lines read
    sent: int = 0  # events the API answered for
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Problem] = field(default_factory=list)  # by the API
    bad_lines: list[Problem] = field(default_factory=list)  # not JSON: never sent
    error: CliError | None = None  # what stopped the ingest before the end of the file

    @property
    def problems(self) -> list[Problem]:
        return sorted(self.rejected + self.bad_lines, key=lambda p: p.line)

    def counts(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": len(self.rejected) + len(self.bad_lines),
        }


@dataclass(frozen=True)
class Batch:
    lines: tuple[int, ...]
    texts: tuple[str, ...]

    def body(self) -> bytes:
        return ('{"events":[' + ",".join(self.texts) + "]}").encode()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def numbered_lines(stream: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number from 1, text) of each non-blank line."""
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if text:
            yield number, text


def batches(lines: Iterable[tuple[int, str]], report: IngestReport, size: int = MAX_BATCH) -> Iterator[Batch]:
    """Batches of up to `size` JSON lines (and under the API's body limit); a line that is not JSON is
    recorded in `report.bad_lines` with its line number and never sent."""
    numbers: list[int] = []
    texts: list[str] = []
    body = 0
    for number, text in lines:
        report.lines += 1
        try:
            encoded = text.encode()
        except UnicodeEncodeError:  # bytes that are not UTF-8, read with surrogateescape
            report.bad_lines.append(
                Problem(number, None, "not UTF-8 text", text.encode(errors="replace")[:200].decode())
            )
            continue
        try:
            json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as error:
            reason = f"not JSON: {error.msg} at column {error.colno}"
            report.bad_lines.append(Problem(number, None, reason, text[:200]))
            continue
        except ValueError as error:
            report.bad_lines.append(Problem(number, None, f"not JSON: {error}", text[:200]))
            continue
        length = len(encoded) + 1
        if numbers and (len(numbers) >= size or body + length > MAX_BODY_BYTES):
            yield Batch(tuple(numbers), tuple(texts))
            numbers, texts, body = [], [], 0
        numbers.append(number)
        texts.append(text)
        body += length
    if numbers:
        yield Batch(tuple(numbers), tuple(texts))


def _event_id(text: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    event_id = value.get("id") if isinstance(value, dict) else None
    return event_id if isinstance(event_id, str) else None


def _apply(report: IngestReport, batch: Batch, answer: Any) -> None:
    if not isinstance(answer, dict):
        raise CliError(f"unexpected answer to POST {ACTIVITY}: {str(answer)[:200]}")
    report.sent += len(batch.lines)
    report.accepted += int(answer.get("accepted", 0))
    report.duplicates += int(answer.get("duplicates", 0))
    for rejection in answer.get("rejected") or []:
        index = int(rejection.get("index", -1))
        in_batch = 0 <= index < len(batch.lines)
        text = batch.texts[index] if in_batch else ""
        report.rejected.append(
            Problem(
                line=batch.lines[index] if in_batch else 0,
                event_id=rejection.get("id") if isinstance(rejection.get("id"), str) else _event_id(text),
                reason=str(rejection.get("reason", "rejected")),
                text=text,
            )
        )


def ingest(
    client: ApiClient,
    lines: Iterable[tuple[int, str]],
    *,
    batch_size: int = MAX_BATCH,
    parallel: int = 1,
    progress: Progress | None = None,
) -> IngestReport:
    """Posts every JSON line in batches, `parallel` requests at a time (each retried by the client on 429,
    5xx and connection errors: ingest is idempotent on event id). An error that retries do not cure stops
    the ingest: it is kept in `report.error`, with what was done until then."""
    report = IngestReport()
    pending: deque[tuple[Batch, Future[Any]]] = deque()

    def settle(batch: Batch, future: Future[Any]) -> None:
        _apply(report, batch, future.result())
        if progress is not None:
            progress.update(report.sent + len(report.bad_lines), report.counts())

    def post(batch: Batch) -> Any:
        return client.post(ACTIVITY, batch.body()).json()

    with ThreadPoolExecutor(max_workers=max(parallel, 1), thread_name_prefix="ingest") as pool:
        try:
            for batch in batches(lines, report, batch_size):
                while len(pending) >= max(parallel, 1) or (pending and pending[0][1].done()):
                    settle(*pending.popleft())
                pending.append((batch, pool.submit(post, batch)))
            while pending:
                settle(*pending.popleft())
        except CliError as error:
            report.error = error
            for _, future in pending:
                future.cancel()
            # Batches already in flight still count: their events may be stored.
            wait([future for _, future in pending])
            for batch, future in pending:
                if not future.cancelled() and future.exception() is None:
                    _apply(report, batch, future.result())
        finally:
            for _, future in pending:
                future.cancel()
    if progress is not None:
        progress.update(report.sent + len(report.bad_lines), report.counts())
    return report


# --- export --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportQuery:
    """The filters of an export, as given (a cursor is bound to them as given)."""

    start: str | None = None
    end: str | None = None
    agent_id: str | None = None
    event_type: str | None = None

    def params(self) -> dict[str, str | None]:
        return {"from": self.start, "to": self.end, "agentId": self.agent_id, "eventType": self.event_type}

    def describe(self) -> str:
        given = [
            f"--{k.replace('start', 'from').replace('end', 'to').replace('_', '-')} {v}"
            for k, v in asdict(self).items()
            if v
        ]
        return " ".join(given) or "no filters"


@dataclass(frozen=True)
class ExportState:
    """Where an export to a file stands: the cursor of the next page, and the output's complete part."""

    query: ExportQuery
    next_token: str | None = None
    count: int = 0  # events in the output's complete part
    size: int = 0  # bytes of the output's complete part (anything after it is a page cut short)
    pages: int = 0
    total: int | None = None  # the first page's pagination.total

    @property
    def started(self) -> bool:
        return self.pages > 0

    @property
    def finished(self) -> bool:
        return self.started and self.next_token is None

    def after(self, page: dict[str, Any], events: int, size: int) -> ExportState:
        """The state once a page of `events` events, `size` bytes of NDJSON, is written."""
        return replace(
            self,
            next_token=page["next_token"],
            count=self.count + events,
            size=self.size + size,
            pages=self.pages + 1,
            total=self.total if self.started else page["total"],
        )

    def save(self, path: Path) -> None:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump({**asdict(self), "version": 1}, stream, indent=2)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> ExportState:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                query=ExportQuery(**data["query"]),
                next_token=data.get("next_token"),
                count=int(data["count"]),
                size=int(data["size"]),
                pages=int(data["pages"]),
                total=data.get("total"),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CliError(f"cannot read the export state {path}: {error}") from None


def state_path(output: Path) -> Path:
    """The state file of an export to `output`: beside it, `<output>.state.json`."""
    return output.with_name(output.name + ".state.json")


@dataclass(frozen=True)
class ExportResult:
    state: ExportState
    complete: bool
    resumed_from: int = 0


def _page(client: ApiClient, query: ExportQuery, limit: int, token: str | None) -> tuple[list[Any], Any]:
    body = client.get(ACTIVITY, {**query.params(), "limit": limit, "nextToken": token}).json()
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise CliError(f"unexpected answer to GET {ACTIVITY}: {str(body)[:200]}")
    pagination = body.get("pagination") or {}
    next_token = pagination.get("nextToken") if pagination.get("hasMore") else None
    if pagination.get("hasMore") and not next_token:
        raise CliError(f"GET {ACTIVITY} says there is more but gave no nextToken")
    if next_token is not None and next_token == token:  # would loop for ever
        raise CliError(f"GET {ACTIVITY} answered with the cursor it was given: the walk cannot go on")
    return body["data"], {"next_token": next_token, "total": pagination.get("total")}


def _ndjson(items: list[Any]) -> bytes:
    return "".join(
        json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n" for item in items
    ).encode()


def export_to_stream(
    client: ApiClient,
    query: ExportQuery,
    out: IO[bytes],
    *,
    limit: int = EXPORT_PAGE,
    progress: Progress | None = None,
) -> ExportState:
    """The whole walk to a stream (stdout): not resumable."""
    state = ExportState(query)
    while not state.finished:
        items, page = _page(client, query, limit, state.next_token)
        data = _ndjson(items)
        out.write(data)
        out.flush()
        state = state.after(page, len(items), len(data))
        if progress is not None:
            progress.total = state.total
            progress.update(state.count)
    return state


def export_to_file(
    client: ApiClient,
    query: ExportQuery | None,
    output: Path,
    *,
    resume: bool,
    limit: int = EXPORT_PAGE,
    max_pages: int | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Walks the log by cursor into `output`, one page at a time: the page is written and synced, then the
    state file is replaced, so after any interruption `resume=True` truncates a page cut short and goes
    on from the last cursor: every event once, none twice. The state file is removed when the walk ends.
    `query` None on resume: the export's own filters."""
    state_file = state_path(output)
    if resume:
        if not state_file.exists():
            raise CliError(
                f"nothing to resume: {state_file} does not exist (the export to {output} finished, or it "
                "never started)"
            )
        state = ExportState.load(state_file)
        if query is not None and query != state.query:
            raise CliError(
                f"--resume goes on with the export's own filters ({state.query.describe()}), not "
                f"{query.describe()}: leave the filters out, or start a new export to another file"
            )
        size = output.stat().st_size if output.exists() else 0
        if size < state.size:
            raise CliError(
                f"{output} is shorter ({size} bytes) than the {state.size} bytes the export had written: "
                f"it was changed since; delete {state_file} and export again"
            )
    else:
        if state_file.exists():
            unfinished = ExportState.load(state_file)
            raise CliError(
                f"{output} holds an unfinished export ({unfinished.count:,} events): continue it with "
                f"--resume, or delete {state_file} to start over"
            )
        state = ExportState(query or ExportQuery())
        output.parent.mkdir(parents=True, exist_ok=True)
        state.save(state_file)
    resumed_from = state.count
    if progress is not None:
        progress.total = state.total
        progress.resume_from(state.count)
    pages = 0
    with output.open("r+b" if output.exists() else "w+b") as out:
        out.truncate(state.size)  # drops a page cut short (or, on a new export, an older file)
        out.seek(state.size)
        while not state.finished:
            if max_pages is not None and pages >= max_pages:
                return ExportResult(state, complete=False, resumed_from=resumed_from)
            items, page = _page(client, state.query, limit, state.next_token)
            data = _ndjson(items)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
            state = state.after(page, len(items), len(data))
            state.save(state_file)
            pages += 1
            if progress is not None:
                progress.total = state.total
                progress.update(state.count)
    state_file.unlink(missing_ok=True)
    return ExportResult(state, complete=True, resumed_from=resumed_from)
