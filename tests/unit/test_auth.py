"""Workspace and groups come from the verified claims only: 401 without identity, 403 without a group."""

from __future__ import annotations

import pytest

from costmetrics.auth import ADMINS, INGESTERS, READERS, authorize, parse_groups
from costmetrics.errors import Forbidden, Unauthorized


@pytest.mark.parametrize(
    ("raw", "groups"),
    [
        (["admin", "viewer"], {"admin", "viewer"}),
        ("admin,viewer", {"admin", "viewer"}),
        ("[admin viewer]", {"admin", "viewer"}),
        ("[admin, viewer]", {"admin", "viewer"}),
        ("admin", {"admin"}),
        ("", set()),
        (None, set()),
    ],
)
def test_groups_arrive_as_a_list_or_a_string(raw: object, groups: set[str]) -> None:
    assert parse_groups(raw) == groups


def test_the_workspace_comes_from_the_claim() -> None:
    principal = authorize({"custom:workspace_id": "ws-1", "cognito:groups": "viewer"}, READERS)
    assert principal.workspace_id == "ws-1"


@pytest.mark.parametrize(
    "claims",
    [None, {}, {"cognito:groups": "admin"}, {"custom:workspace_id": "a#b", "cognito:groups": "admin"}],
)
def test_no_valid_workspace_is_401(claims: dict[str, str] | None) -> None:
    with pytest.raises(Unauthorized):
        authorize(claims, READERS)


@pytest.mark.parametrize(
    ("groups", "allowed"),
    [("viewer", ADMINS), ("ingest", READERS), ("viewer", INGESTERS), ("", READERS), ("admins", ADMINS)],
)
def test_a_missing_group_is_403(groups: str, allowed: frozenset[str]) -> None:
    with pytest.raises(Forbidden):
        authorize({"custom:workspace_id": "ws-1", "cognito:groups": groups}, allowed)
