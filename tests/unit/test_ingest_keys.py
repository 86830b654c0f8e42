"""Ingest keys as values: their format, the hash kept of them, the constant-time match, and the IAM policy
evaluation the local gateway applies to a Lambda authorizer's answer (as API Gateway does)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costmetrics import ingest_keys
from costmetrics.ingest_keys import IngestKey, matches, new_key, parse, secret_hash
from local_stack.authorizer import policy_allows

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def test_a_new_key_names_its_workspace_and_id_and_only_its_hash_is_kept() -> None:
    record, key = new_key("acme", "fleet", "sub-1", NOW)
    assert key.startswith(f"cmk_acme.{record.id}.")
    assert parse(key) == ("acme", record.id)
    assert record.secret_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr(record)  # the record never holds the key itself
    assert len(key.rsplit(".", 1)[1]) == 43  # 32 random bytes
    assert record.status == "active"
    assert record.prefix == f"cmk_acme.{record.id}"


def test_two_keys_differ_and_each_matches_only_its_own_record() -> None:
    first, first_key = new_key("acme", "a", "s", NOW)
    second, second_key = new_key("acme", "b", "s", NOW)
    assert first.id != second.id
    assert first_key != second_key
    assert matches(first, first_key)
    assert matches(second, second_key)
    assert not matches(first, second_key)
    assert not matches(first, first_key + "x")


def test_a_key_moved_to_another_workspace_matches_nothing() -> None:
    record, key = new_key("acme", "a", "s", NOW)
    forged = key.replace("cmk_acme.", "cmk_bravo.", 1)
    assert parse(forged) == ("bravo", record.id)  # well formed, so it is looked up under bravo...
    assert not matches(record, forged)  # ...and even against acme's record, its hash differs


@pytest.mark.parametrize(
    "text",
    [
        "",
        "cmk_",
        "Bearer cmk_acme.0123456789abcdef." + "a" * 43,
        "cmk_acme.0123456789abcdef",
        "cmk_acme.0123456789ABCDEF." + "a" * 43,
        "cmk_acme.0123456789abcdef." + "a" * 42,
        "cmk_ac#me.0123456789abcdef." + "a" * 43,
        "cmk_acme.0123456789abcdef." + "a" * 43 + ".x",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
    ],
)
def test_malformed_keys_are_not_keys(text: str) -> None:
    assert parse(text) is None


@given(st.text(max_size=200))
def test_parse_never_raises(text: str) -> None:
    parse(text)


def test_the_comparison_is_constant_time() -> None:
    # hmac.compare_digest, not ==: the time taken does not depend on where the hashes differ.
    import inspect

    assert "hmac.compare_digest" in inspect.getsource(ingest_keys.matches)


def test_a_revoked_record_says_so() -> None:
    record = IngestKey("acme", "0123456789abcdef", "n", secret_hash("x"), NOW, "s", revoked_at=NOW)
    assert record.status == "revoked"
    assert ingest_keys.IngestKeyOut.of(record).revokedAt == "2026-11-15T12:00:00Z"


ARN = "arn:aws:execute-api:us-east-1:123456789012:api1/local/POST/api/activity"


def _policy(*statements: tuple[str, str]) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}
            for effect, resource in statements
        ],
    }


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ((("Allow", ARN),), True),
        ((("Allow", ARN.replace("activity", "traces")),), False),
        ((("Allow", "arn:aws:execute-api:us-east-1:123456789012:api1/local/*"),), True),
        ((("Allow", "arn:aws:execute-api:us-east-1:123456789012:api1/local/GET/*"),), False),
        ((("Allow", ARN), ("Deny", "arn:aws:execute-api:*")), False),
        ((), False),
    ],
)
def test_a_policy_allows_a_method_arn_as_iam_evaluates_it(
    statements: tuple[tuple[str, str], ...], allowed: bool
) -> None:
    assert policy_allows(_policy(*statements), ARN) is allowed
