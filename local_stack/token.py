"""`python -m local_stack.token <username> [password]`: signs a user of the running local stack in
(USER_PASSWORD_AUTH against the emulated pool) and prints the ID token, for `Authorization: Bearer`.
The password defaults to the demo user's, from outputs.json."""

from __future__ import annotations

import argparse
import sys

from local_stack.identity import sign_in
from local_stack.outputs import StackNotRunning, read_outputs
from local_stack.settings import point_sdk_at, state_dir


def main(argv: list[str] | None = None) -> int:
    """Prints the ID token of `username`; exit code 1 with a message on stderr when that is not possible."""
    parser = argparse.ArgumentParser(prog="python -m local_stack.token", description=__doc__)
    parser.add_argument("username")
    parser.add_argument("password", nargs="?", help="default: the demo password of a demo user")
    args = parser.parse_args(argv)
    try:
        outputs = read_outputs(state_dir())
    except StackNotRunning as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    password = args.password
    if password is None:
        users = (outputs.get("Demo") or {}).get("users", [])
        password = next(
            (u["password"] for u in users if u["username"].lower() == args.username.lower()), None
        )
        if password is None:
            print(f"error: {args.username} is not a demo user; give the password too", file=sys.stderr)
            return 1
    point_sdk_at(outputs["AwsEndpointUrl"])
    import boto3
    from botocore.exceptions import ClientError

    cognito = boto3.client("cognito-idp", region_name=outputs["Region"])
    try:
        print(sign_in(cognito, outputs["UserPoolClientId"], args.username, password))
    except ClientError as error:
        print(f"error: {error.response['Error'].get('Message', error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
