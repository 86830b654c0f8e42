"""`python -m local_stack.invoke <LogicalId> <event.json>` (`make invoke`): the in-process twin of
`sam local invoke`. Runs one function's handler with an event file against the running local stack and
prints what it returns as JSON; the function's own output (logs, metrics) goes to stderr."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from contextlib import redirect_stdout
from decimal import Decimal
from pathlib import Path
from typing import Any

from local_stack.outputs import StackNotRunning, read_outputs
from local_stack.provision import Stack
from local_stack.runtime import FunctionRuntime, UnknownFunction, function_ids
from local_stack.settings import add_code_paths, apply_function_environment, point_sdk_at, state_dir


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def main(argv: list[str] | None = None) -> int:
    """Invokes the function; exit code 0 when it returned, 1 when it could not run or raised."""
    parser = argparse.ArgumentParser(prog="python -m local_stack.invoke", description=__doc__)
    parser.add_argument("function", help=f"a function's logical id: {', '.join(function_ids())}")
    parser.add_argument("event", type=Path, help="a JSON event file, e.g. events/<file>.json")
    args = parser.parse_args(argv)
    if args.function not in function_ids():
        print(
            f"error: unknown function {args.function!r}; the functions of template.yaml are: "
            f"{', '.join(function_ids())}",
            file=sys.stderr,
        )
        return 1
    try:
        event = json.loads(args.event.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        print(f"error: cannot read the event file {args.event}: {error}", file=sys.stderr)
        return 1
    try:
        outputs = read_outputs(state_dir())
    except StackNotRunning as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    point_sdk_at(outputs["AwsEndpointUrl"])
    stack = Stack({name: value for name, value in outputs.items() if isinstance(value, str)})
    apply_function_environment(stack.refs(), stack.environment(outputs["AwsEndpointUrl"]))
    add_code_paths()
    try:
        # Like sam local invoke: the function's logs on stderr, only its result on stdout.
        with redirect_stdout(sys.stderr):
            result = FunctionRuntime().invoke(args.function, event)
    except UnknownFunction as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}))
        return 1
    print(json.dumps(result, indent=2, default=_json_default))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
