"""Signing in with the CLI: the token cache (owner-only file, atomic), renewal with the refresh token
when the ID token expires, and Cognito's refusals as clear errors. Cognito is a fake here."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from costmetrics_cli import auth
from costmetrics_cli.auth import Credentials, SignIn, TokenCache, claims, login, refresh
from costmetrics_cli.errors import AuthError
from costmetrics_cli.stack import Stack

STACK = Stack("local", "http://127.0.0.1:3000", "us-east-1", "client-1", "http://127.0.0.1:5000")
NOW = 1_800_000_000.0


def jwt(payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.signature"


def sign_in(expires_at: float = NOW + 3600, stack: Stack = STACK, token: str = "id-1") -> SignIn:
    return SignIn("ana@example.com", token, "refresh-1", expires_at, stack)


class FakeCognito:
    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    def initiate_auth(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def refused(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "InitiateAuth")


def test_the_cache_is_an_owner_only_file_that_round_trips(tmp_path: Path) -> None:
    cache = TokenCache("local", tmp_path / "cache")
    cache.save(sign_in())
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.path.parent.stat().st_mode) == 0o700
    assert cache.path.name == "local.json"
    assert cache.load() == sign_in()
    assert [p.name for p in cache.path.parent.iterdir()] == ["local.json"]  # no temporary left behind
    assert cache.clear() is True
    assert cache.load() is None
    assert cache.clear() is False


def test_an_unreadable_cache_is_no_sign_in(tmp_path: Path) -> None:
    cache = TokenCache("local", tmp_path)
    cache.path.write_text("{not json")
    assert cache.load() is None


def test_the_cache_directory_is_overridable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COSTMETRICS_CACHE_DIR", str(tmp_path / "mine"))
    assert TokenCache("cost-metrics-dev").path == tmp_path / "mine" / "cost-metrics-dev.json"
    monkeypatch.delenv("COSTMETRICS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert auth.cache_dir() == tmp_path / "xdg" / "costmetrics"


def test_login_keeps_the_tokens_and_the_earlier_of_the_two_expiries(monkeypatch: pytest.MonkeyPatch) -> None:
    id_token = jwt({"exp": NOW + 600, "custom:workspace_id": "acme"})
    cognito = FakeCognito(
        {"AuthenticationResult": {"IdToken": id_token, "RefreshToken": "r", "ExpiresIn": 3600}}
    )
    monkeypatch.setattr(Stack, "cognito", lambda self: cognito)
    result = login(STACK, "ana@example.com", "secret", clock=lambda: NOW)
    assert cognito.calls == [
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": "client-1",
            "AuthParameters": {"USERNAME": "ana@example.com", "PASSWORD": "secret"},
        }
    ]
    assert (result.id_token, result.refresh_token, result.expires_at) == (id_token, "r", NOW + 600)
    assert claims(result.id_token)["custom:workspace_id"] == "acme"


def test_a_wrong_password_is_cognitos_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    cognito = FakeCognito(refused("NotAuthorizedException", "Incorrect username or password."))
    monkeypatch.setattr(Stack, "cognito", lambda self: cognito)
    with pytest.raises(AuthError) as failure:
        login(STACK, "ana@example.com", "wrong")
    assert failure.value.message == "sign-in of ana@example.com refused: Incorrect username or password."


def test_a_challenge_is_explained_not_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    cognito = FakeCognito({"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "s"})
    monkeypatch.setattr(Stack, "cognito", lambda self: cognito)
    with pytest.raises(AuthError, match="NEW_PASSWORD_REQUIRED"):
        login(STACK, "ana@example.com", "temporary")


def test_refresh_keeps_the_refresh_token_cognito_does_not_resend(monkeypatch: pytest.MonkeyPatch) -> None:
    cognito = FakeCognito({"AuthenticationResult": {"IdToken": "id-2", "ExpiresIn": 3600}})
    monkeypatch.setattr(Stack, "cognito", lambda self: cognito)
    renewed = refresh(sign_in(expires_at=NOW - 1), clock=lambda: NOW)
    assert cognito.calls[0]["AuthFlow"] == "REFRESH_TOKEN_AUTH"
    assert cognito.calls[0]["AuthParameters"] == {"REFRESH_TOKEN": "refresh-1"}
    assert (renewed.id_token, renewed.refresh_token, renewed.expires_at) == ("id-2", "refresh-1", NOW + 3600)


def test_a_refresh_cognito_refuses_says_to_log_in_again(monkeypatch: pytest.MonkeyPatch) -> None:
    cognito = FakeCognito(refused("NotAuthorizedException", "Refresh Token has expired"))
    monkeypatch.setattr(Stack, "cognito", lambda self: cognito)
    with pytest.raises(AuthError, match=r"Refresh Token has expired\nrun `costmetrics login`"):
        refresh(sign_in())


def test_credentials_without_a_sign_in_say_to_log_in(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="run `costmetrics login`"):
        Credentials(TokenCache("local", tmp_path), STACK).token()


def test_a_valid_token_is_used_as_is_and_an_expired_one_renewed_and_kept(tmp_path: Path) -> None:
    cache = TokenCache("local", tmp_path)
    cache.save(sign_in(expires_at=NOW + 3600))
    renewals: list[SignIn] = []

    def renew(old: SignIn) -> SignIn:
        renewals.append(old)
        return SignIn(old.username, "id-2", old.refresh_token, NOW + 7200, old.stack)

    clock = [NOW]
    credentials = Credentials(cache, STACK, renew=renew, clock=lambda: clock[0])
    assert credentials.token() == "id-1"
    assert renewals == []
    clock[0] = NOW + 3600 - 30  # within the margin before expiry
    assert credentials.token() == "id-2"
    assert len(renewals) == 1
    loaded = cache.load()
    assert loaded is not None
    assert loaded.id_token == "id-2"


def test_a_refused_token_is_renewed_once_however_many_ask(tmp_path: Path) -> None:
    cache = TokenCache("local", tmp_path)
    cache.save(sign_in())
    count = [0]

    def renew(old: SignIn) -> SignIn:
        count[0] += 1
        return SignIn(old.username, f"id-{count[0] + 1}", old.refresh_token, NOW + 7200, old.stack)

    credentials = Credentials(cache, STACK, renew=renew, clock=lambda: NOW)
    assert credentials.renewed("id-1") == "id-2"
    assert credentials.renewed("id-1") == "id-2"  # a second thread with the same refused token
    assert count[0] == 1


def test_a_sign_in_of_another_stack_is_not_used(tmp_path: Path) -> None:
    cache = TokenCache("local", tmp_path)
    restarted = Stack("local", STACK.api_url, STACK.region, "client-2", STACK.aws_endpoint_url)
    cache.save(sign_in(stack=restarted))
    with pytest.raises(AuthError, match="another stack"):
        Credentials(cache, STACK).token()
