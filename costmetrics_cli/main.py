"""`costmetrics`: the command line of the Cost & Metrics API (docs/cli.md).

The stack is the local one (`make local`, its .local/outputs.json) unless --stack-name names a deployed
one (its CloudFormation outputs) or --outputs gives an outputs file."""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import sys
import time
import traceback
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from costmetrics_cli import render, transfer
from costmetrics_cli import stack as stacks
from costmetrics_cli.auth import Credentials, SignIn, TokenCache, claims, login
from costmetrics_cli.client import DEFAULT_RETRIES, ApiClient
from costmetrics_cli.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_REJECTED, AuthError, CliError
from costmetrics_cli.progress import Progress
from costmetrics_cli.reports import REPORTS, Report
from costmetrics_cli.stack import Stack

FORMATS = ("table", "json", "csv")
SHOWN_PROBLEMS = 50
DEFAULT_PARALLEL = 4  # ingest requests in flight


# --- the stack and the sign-in -------------------------------------------------------------------


def _stack(args: argparse.Namespace, *, fresh: bool = False) -> Stack:
    """The stack the options name. For a deployed stack, the outputs kept with its sign-in are used (no
    CloudFormation call) unless `fresh` (login reads them again)."""
    if args.stack_name:
        if fresh:
            return stacks.from_cloudformation(args.stack_name, args.region, args.profile)
        again = f"run `costmetrics login --stack-name {args.stack_name}`"
        cached = TokenCache(args.stack_name).load()
        if cached is None:
            raise AuthError(f"not signed in to stack {args.stack_name}: {again}")
        if args.region is not None and args.region != cached.stack.region:
            raise AuthError(f"the sign-in to stack {args.stack_name} is for {cached.stack.region}: {again}")
        return cached.stack
    path = Path(args.outputs).expanduser() if args.outputs else stacks.default_outputs_path()
    return stacks.from_outputs_file(path)


def _client(args: argparse.Namespace, progress: Progress | None = None) -> ApiClient:
    stack = _stack(args)
    credentials = Credentials(TokenCache(stack.label), stack)
    on_retry = progress.note if progress is not None else _warn
    return ApiClient(stack, credentials, retries=args.retries, on_retry=on_retry)


def _warn(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _ask(prompt: str, *, secret: bool) -> str:
    try:
        return getpass.getpass(prompt) if secret else input(prompt)
    except EOFError:
        return ""


def cmd_login(args: argparse.Namespace) -> int:
    stack = _stack(args, fresh=True)
    cache = TokenCache(stack.label)
    previous = cache.load()
    username = (
        args.username
        or os.environ.get("COSTMETRICS_USERNAME")
        or (previous.username if previous is not None else "")
        or _ask("Username: ", secret=False)
    ).strip()
    if not username:
        raise CliError("no username: give --username (or set COSTMETRICS_USERNAME)")
    password = (
        args.password
        or os.environ.get("COSTMETRICS_PASSWORD")
        or _ask(f"Password for {username}: ", secret=True)
    )
    if not password:
        raise CliError("no password: give --password, set COSTMETRICS_PASSWORD, or type it at the prompt")
    sign_in = login(stack, username, password)
    cache.save(sign_in)
    _describe_sign_in(sign_in, cache)
    return 0


def _describe_sign_in(sign_in: SignIn, cache: TokenCache) -> None:
    token = claims(sign_in.id_token)
    groups = token.get("cognito:groups") or []
    groups_text = ", ".join(groups) if isinstance(groups, list) else str(groups)
    until = datetime.fromtimestamp(sign_in.expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    print(f"Signed in to {sign_in.stack.api_url} as {sign_in.username}")
    print(f"  workspace  {token.get('custom:workspace_id', '?')}")
    print(f"  groups     {groups_text or '(none)'}")
    print(f"  token      valid until {until}, renewed automatically; kept in {cache.path}")


def cmd_logout(args: argparse.Namespace) -> int:
    if args.stack_name:
        label = args.stack_name
    elif args.outputs:
        label = stacks.from_outputs_file(Path(args.outputs).expanduser()).label
    else:
        label = stacks.LOCAL_LABEL  # even when the local stack is no longer running
    cache = TokenCache(label)
    print(
        f"Signed out ({cache.path} removed)" if cache.clear() else f"Not signed in ({cache.path} is absent)"
    )
    return 0


# --- reports -------------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    report: Report = REPORTS["workforce-agents" if getattr(args, "agents", False) else args.report]
    query: dict[str, Any] = {}
    if report.month and args.month:
        query["month"] = args.month  # the API checks it, and names the problem
    if report.command == "trends":
        query["months"] = args.months
    client = _client(args)
    if args.format == "csv" and report.api_csv:
        sys.stdout.write(client.get(report.path, query, accept="text/csv").text)
        return 0
    reply = client.get(report.path, query)
    if args.format == "json":
        print(render.to_json(reply.json()))
    elif args.format == "csv":
        body = reply.json()
        rows = report.csv_rows(body)
        sys.stdout.write(render.csv_document(body) if rows is None else render.csv_table(rows))
    else:
        print(report.table(reply.json(exact=True)))
    return 0


# --- ingest keys ---------------------------------------------------------------------------------

KEY_COLUMNS = [
    render.Column("id", "id"),
    render.Column("name", "name"),
    render.Column("status", "status"),
    render.Column("createdAt", "created"),
    render.Column("lastUsedAt", "last used"),
    render.Column("revokedAt", "revoked"),
]


def cmd_keys(args: argparse.Namespace) -> int:
    """keys create NAME (the key alone on stdout, shown this once), keys list, keys revoke ID."""
    client = _client(args)
    if args.action == "create":
        body = json.dumps({"name": args.name}).encode()
        created = client.request("POST", "/api/ingest-keys", body=body).json()
        if args.format == "json":
            print(render.to_json(created))
            return 0
        print(created["key"])  # alone on stdout: KEY=$(costmetrics keys create fleet)
        _warn(
            f"ingest key {created['id']} ({created['name']}) of workspace {created['workspaceId']}: "
            "this is the only time it is shown; it may only ingest (POST /api/activity, POST /v1/traces)"
        )
        return 0
    if args.action == "revoke":
        revoked = client.request("DELETE", f"/api/ingest-keys/{urllib.parse.quote(args.key_id, safe='')}")
        key = revoked.json()
        if args.format == "json":
            print(render.to_json(key))
        else:
            print(f"revoked {key['id']} ({key['name']}) at {key['revokedAt']}; refused within 5 minutes")
        return 0
    keys = client.get("/api/ingest-keys").json()["keys"]
    if args.format == "json":
        print(render.to_json({"keys": keys}))
    elif args.format == "csv":
        sys.stdout.write(render.csv_table(keys))
    else:
        print(render.table(keys, KEY_COLUMNS, empty="(no ingest keys: costmetrics keys create NAME)"))
    return 0


# --- ingest and export ---------------------------------------------------------------------------


def _count_lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for line in stream if line.strip())


def cmd_ingest(args: argparse.Namespace) -> int:
    from_stdin = args.file == "-"
    path = Path(args.file)
    if not from_stdin and not path.is_file():
        raise CliError(f"{path}: no such file")
    progress = Progress(
        f"ingest {'stdin' if from_stdin else path.name}",
        None if from_stdin else _count_lines(path),
        unit="lines",
        enabled=not args.no_progress,
    )
    client = _client(args, progress)
    # A line that is not UTF-8 is reported as such (surrogateescape keeps it apart), not sent altered.
    stream = (
        io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="surrogateescape")
        if from_stdin
        else path.open(encoding="utf-8-sig", errors="surrogateescape")
    )
    try:
        report = transfer.ingest(
            client,
            transfer.numbered_lines(stream),
            batch_size=args.batch_size,
            parallel=args.parallel,
            progress=progress,
        )
    finally:
        if from_stdin:
            stream.detach()  # (sys.stdin stays open)
        else:
            stream.close()
    progress.finish()
    problems = report.problems
    print(
        f"{report.lines:,} lines: accepted {report.accepted:,}, duplicates {report.duplicates:,}, "
        f"rejected {len(problems):,}",
        file=sys.stderr,
    )
    for problem in problems[:SHOWN_PROBLEMS]:
        who = f" (id {problem.event_id})" if problem.event_id else ""
        print(f"  line {problem.line}{who}: {problem.reason}", file=sys.stderr)
    if len(problems) > SHOWN_PROBLEMS:
        more = len(problems) - SHOWN_PROBLEMS
        hint = "" if args.rejected else "; --rejected FILE writes them all"
        print(f"  ... and {more:,} more{hint}", file=sys.stderr)
    if args.rejected:
        _write_problems(Path(args.rejected), problems)
    if report.error is not None:
        raise CliError(
            f"{report.error.message}\nthe ingest stopped before the end of the file; sending the same file "
            "again is safe (events already stored count as duplicates)"
        )
    return EXIT_REJECTED if problems else 0


def _write_problems(path: Path, problems: list[transfer.Problem]) -> None:
    import json

    with path.open("w", encoding="utf-8") as out:
        for problem in problems:
            record = {
                "line": problem.line,
                "id": problem.event_id,
                "reason": problem.reason,
                "text": problem.text,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"  the {len(problems):,} rejected lines are in {path}", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    given = transfer.ExportQuery(args.start, args.end, args.agent_id, args.event_type)
    progress = Progress("export-activity", enabled=not args.no_progress)
    client = _client(args, progress)
    if args.output is None:
        if args.resume:
            raise CliError("--resume needs the output file of the export (-o FILE)")
        state = transfer.export_to_stream(
            client, given, sys.stdout.buffer, limit=args.limit, progress=progress
        )
        progress.finish()
        _export_summary(state, "stdout")
        return 0
    output = Path(args.output)
    filtered = any(value is not None for value in (args.start, args.end, args.agent_id, args.event_type))
    try:
        result = transfer.export_to_file(
            client,
            given if (filtered or not args.resume) else None,
            output,
            resume=args.resume,
            limit=args.limit,
            max_pages=args.max_pages,
            progress=progress,
        )
    except KeyboardInterrupt:
        progress.finish()
        print(
            f"interrupted: {output} holds every event up to the last complete page; continue with "
            f"`costmetrics export-activity -o {output} --resume`",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    progress.finish()
    if not result.complete:
        print(
            f"stopped after {args.max_pages} page(s): {result.state.count:,} events in {output}; "
            f"continue with `costmetrics export-activity -o {output} --resume`",
            file=sys.stderr,
        )
        return 0
    if result.resumed_from:
        print(f"resumed after {result.resumed_from:,} events", file=sys.stderr)
    _export_summary(result.state, str(output))
    return 0


def _export_summary(state: transfer.ExportState, where: str) -> None:
    print(f"exported {state.count:,} events to {where} ({state.pages} pages)", file=sys.stderr)
    if state.total is not None and state.total != state.count:
        print(
            f"note: the API counted {state.total:,} events in the window when the export started; events "
            "that expired since, or counts still catching up with ingestion, make the difference",
            file=sys.stderr,
        )


# --- the parser ----------------------------------------------------------------------------------


def _stack_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    where = parser.add_argument_group("which stack (default: the local stack of `make local`)")
    where.add_argument(
        "--outputs", metavar="FILE", default=default, help="an outputs file (default: .local/outputs.json)"
    )
    where.add_argument(
        "--stack-name", metavar="NAME", default=default, help="a deployed stack (CloudFormation)"
    )
    where.add_argument("--region", default=default, help="the deployed stack's region (default: AWS config)")
    where.add_argument("--profile", default=default, help="AWS profile to read the stack's outputs with")
    other = parser.add_argument_group("behaviour")
    other.add_argument(
        "--retries",
        type=_positive_or_zero,
        default=argparse.SUPPRESS if suppress else DEFAULT_RETRIES,
        help=f"retries of a request on 429, 5xx or a connection error (default {DEFAULT_RETRIES})",
    )
    other.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS if suppress else False, help="tracebacks"
    )


def _positive_or_zero(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _bounded(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low} to {high}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="costmetrics",
        description="The Cost & Metrics API from the command line: sign in, read the cost and workforce "
        "reports, ingest and export activity events. Docs: docs/cli.md.",
    )
    _stack_options(top, suppress=False)
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _stack_options(sub, suppress=True)
        return sub

    sub = command(
        "login", "sign in with Cognito (USER_PASSWORD_AUTH) and keep the tokens for the other commands"
    )
    sub.add_argument("--username", "-u", help="default: COSTMETRICS_USERNAME, the last user, or a prompt")
    sub.add_argument("--password", "-p", help="default: COSTMETRICS_PASSWORD, or a prompt")
    sub.set_defaults(run=cmd_login)

    sub = command("logout", "forget the kept sign-in of the stack")
    sub.set_defaults(run=cmd_logout)

    for report in REPORTS.values():
        if report.command == "workforce-agents":
            continue
        sub = command(report.command, report.help)
        sub.add_argument("--format", "-f", choices=FORMATS, default="table", help="default: table")
        if report.month:
            sub.add_argument(
                "--month", "-m", metavar="YYYY-MM", help="a UTC month (default: the current one)"
            )
        if report.command == "trends":
            sub.add_argument(
                "--months", type=_bounded(1, 24), default=6, help="months of history, 1-24 (default 6)"
            )
        if report.command == "workforce":
            sub.add_argument("--agents", action="store_true", help="per agent, not the fleet summary")
        sub.set_defaults(run=cmd_report, report=report.command)

    sub = command("keys", "ingest keys of the workspace: machine credentials that may only ingest (admin)")
    actions = sub.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in (
        ("create", "create a key; it is printed alone on stdout, this once"),
        ("list", "the workspace's keys, revoked ones included (never a key itself)"),
        ("revoke", "revoke a key: API Gateway refuses it within 5 minutes"),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        _stack_options(action, suppress=True)
        action.add_argument("--format", "-f", choices=FORMATS, default="table", help="default: table")
        if name == "create":
            action.add_argument("name", metavar="NAME", help="what the key is for, e.g. the fleet's name")
        if name == "revoke":
            action.add_argument("key_id", metavar="ID", help="the key's id (keys list)")
    sub.set_defaults(run=cmd_keys)

    sub = command("ingest", "send activity events (NDJSON, one event a line) to POST /api/activity")
    sub.add_argument("file", metavar="FILE", help="an NDJSON file, or - for stdin")
    sub.add_argument(
        "--batch-size",
        type=_bounded(1, transfer.MAX_BATCH),
        default=transfer.MAX_BATCH,
        help="events per request (max 100)",
    )
    sub.add_argument(
        "--parallel",
        type=_bounded(1, 16),
        default=DEFAULT_PARALLEL,
        help=f"requests in flight (default {DEFAULT_PARALLEL})",
    )
    sub.add_argument(
        "--rejected", metavar="FILE", help="write every rejected line, with its reason, as NDJSON"
    )
    sub.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    sub.set_defaults(run=cmd_ingest)

    sub = command("export-activity", "write the activity log (GET /api/activity, by cursor) as NDJSON")
    sub.add_argument("--from", dest="start", metavar="ISO", help="start, inclusive (ISO 8601 with time zone)")
    sub.add_argument("--to", dest="end", metavar="ISO", help="end, inclusive (ISO 8601 with time zone)")
    sub.add_argument("--agent-id", help="one agent's events")
    sub.add_argument("--event-type", help="one event type's events")
    sub.add_argument(
        "--output", "-o", metavar="FILE", help="the NDJSON file (default: stdout, not resumable)"
    )
    sub.add_argument("--resume", action="store_true", help="continue an interrupted export to -o FILE")
    sub.add_argument(
        "--limit",
        type=_bounded(1, transfer.EXPORT_PAGE),
        default=transfer.EXPORT_PAGE,
        help=argparse.SUPPRESS,
    )
    # Stops after N pages as an interruption would (tests, and trying --resume).
    sub.add_argument("--max-pages", type=_bounded(1, 10**9), help=argparse.SUPPRESS)
    sub.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    sub.set_defaults(run=cmd_export)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; errors go to stderr as one clear message and a non-zero exit code."""
    args = parser().parse_args(argv)
    started = time.monotonic()
    try:
        code: int = args.run(args)
    except CliError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"error: unexpected {type(error).__name__}: {error} (--debug shows the traceback)",
                file=sys.stderr,
            )
        return EXIT_ERROR
    if args.debug:
        print(f"({time.monotonic() - started:.2f} s)", file=sys.stderr)
    return code
