"""The Lambda runtime, in process: a function's handler imported from template.yaml and invoked with a
LambdaContext, one invocation at a time, its output going to a log file per function (the local twin
of a CloudWatch log group) rather than to the console."""

from __future__ import annotations

import importlib
import io
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from local_stack.apigw import LambdaContext
from local_stack.template import function_module, function_properties, resources

Handler = Callable[[dict[str, Any], Any], Any]


class UnknownFunction(LookupError):
    """A logical id that is not an AWS::Serverless::Function of template.yaml."""


def function_ids() -> list[str]:
    """The logical ids of the template's functions."""
    return sorted(resources("AWS::Serverless::Function"))


def function_arn(logical_id: str, region: str = "us-east-1", account: str = "123456789012") -> str:
    """The ARN LambdaContext.named gives the function, used wherever Lambda would name it."""
    return f"arn:aws:lambda:{region}:{account}:function:{logical_id}"


def handler_of(logical_id: str) -> Handler:
    """The function's `lambda_handler`, imported from its CodeUri and Handler."""
    if logical_id not in resources("AWS::Serverless::Function"):
        raise UnknownFunction(
            f"{logical_id!r} is not a function of template.yaml; known: {', '.join(function_ids())}"
        )
    handler_name = function_properties(logical_id)["Handler"].rsplit(".", 1)[1]
    handler: Handler = getattr(importlib.import_module(function_module(logical_id)), handler_name)
    return handler


class FunctionOutput:
    """Where handlers' output goes: while a thread runs a handler, what it prints to stdout or stderr
    (Powertools logs, EMF metrics, warnings) is appended to <log_dir>/<LogicalId>.log; any other thread's
    output passes through to the console."""

    def __init__(self, log_dir: Path, stdout: TextIO, stderr: TextIO) -> None:
        self.log_dir = log_dir
        self.console = stdout
        self.console_err = stderr
        self.stdout = _Stream(self, stdout)
        self.stderr = _Stream(self, stderr)
        self._local = threading.local()
        self._files: dict[str, TextIO] = {}
        self._lock = threading.Lock()

    def current_file(self) -> TextIO | None:
        function: str | None = getattr(self._local, "function", None)
        if function is None:
            return None
        with self._lock:
            if function not in self._files:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                self._files[function] = (self.log_dir / f"{function}.log").open(
                    "a", encoding="utf-8", buffering=1
                )
            return self._files[function]

    @contextmanager
    def capturing(self, function: str) -> Iterator[None]:
        """Within the block, this thread's output goes to `function`'s log file."""
        previous = getattr(self._local, "function", None)
        self._local.function = function
        try:
            yield
        finally:
            self._local.function = previous

    def close_logs(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()


class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr, split between the console and the running handler's log file."""

    def __init__(self, output: FunctionOutput, console: TextIO) -> None:
        super().__init__()
        self._output = output
        self._console = console

    def _target(self) -> TextIO:
        return self._output.current_file() or self._console

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return self._console.isatty()


class FunctionRuntime:
    """Invokes the template's functions. One invocation at a time across all functions: in one process the
    handlers share module state (Powertools' Metrics and Logger, cached settings and clients) that Lambda
    keeps apart, one container per concurrent request."""

    def __init__(self, output: FunctionOutput | None = None) -> None:
        self.output = output
        self._lock = threading.RLock()

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Runs the handler with `event`; returns what it returns and raises what it raises."""
        with self._lock:
            context = LambdaContext.named(logical_id)
            if self.output is None:
                return handler_of(logical_id)(event, context)
            with self.output.capturing(logical_id):
                return handler_of(logical_id)(event, context)

    def log_file(self, logical_id: str) -> Path | None:
        return self.output.log_dir / f"{logical_id}.log" if self.output else None


def install_output_capture(log_dir: Path) -> FunctionOutput:
    """Replaces sys.stdout and sys.stderr so that handlers' output goes to their log files; call it before
    costmetrics is imported, since Powertools' Logger keeps the stream it finds then."""
    output = FunctionOutput(log_dir, sys.stdout, sys.stderr)
    sys.stdout = output.stdout
    sys.stderr = output.stderr
    return output


def restore_output(output: FunctionOutput) -> None:
    output.close_logs()
    sys.stdout = output.console
    sys.stderr = output.console_err
