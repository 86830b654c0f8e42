"""Users of the emulated Cognito user pool: created the way an administrator does (the workspace is an
attribute only an administrator sets), and signed in with USER_PASSWORD_AUTH for an ID token."""

from __future__ import annotations

from typing import Any


def create_user(
    cognito: Any,
    user_pool_id: str,
    username: str,
    password: str,
    workspace_id: str,
    groups: list[str] | tuple[str, ...],
) -> None:
    """A confirmed user of `workspace_id` in `groups`, with a permanent password (no invitation sent)."""
    cognito.admin_create_user(
        UserPoolId=user_pool_id,
        Username=username,
        UserAttributes=[
            {"Name": "email", "Value": username},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "custom:workspace_id", "Value": workspace_id},
        ],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(
        UserPoolId=user_pool_id, Username=username, Password=password, Permanent=True
    )
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=user_pool_id, Username=username, GroupName=group)


def sign_in(cognito: Any, client_id: str, username: str, password: str) -> str:
    """The ID token of a user (what the API's Cognito authorizer expects)."""
    result = cognito.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=client_id,
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    token: str = result["AuthenticationResult"]["IdToken"]
    return token
