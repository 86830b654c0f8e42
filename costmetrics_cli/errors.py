"""What can go wrong, as the CLI tells it: each error carries the message for stderr and an exit code."""

from __future__ import annotations

from typing import Any

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3  # ingest finished, but some events (or lines) were not stored
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """An error shown as `error: <message>` on stderr, without a traceback."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StackError(CliError):
    """The stack cannot be found: no outputs file, a stack that does not exist, missing outputs."""


class AuthError(CliError):
    """Not signed in, the sign-in expired beyond refresh, or Cognito refused the credentials."""


class ApiError(CliError):
    """The API answered with an error status (its JSON body `{"error", "message", "details"}`)."""

    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        self.status = status
        self.code = code
        self.details = details or []
        super().__init__(_describe(status, code, message, self.details))


class ConnectionFailed(CliError):
    """The API could not be reached (after the retries)."""


def _describe(status: int, code: str, message: str, details: list[Any]) -> str:
    text = f"the API answered {status}"
    if code:
        text += f" {code}"
    if message:
        text += f": {message}"
    for detail in details:
        if isinstance(detail, dict):
            where = ".".join(str(detail[k]) for k in ("in", "field") if detail.get(k))
            problem = detail.get("problem") or detail.get("message") or ""
            text += f"\n  {where}: {problem}" if where else f"\n  {problem}"
    return text
