"""Shared repository helpers: BatchGetItem with UnprocessedKeys retried under back-off."""

from __future__ import annotations

from typing import Any

import pytest

from costmetrics.repositories import (
    BACKOFF_CAP_SECONDS,
    BATCH_GET_ATTEMPTS,
    UnprocessedKeysLeft,
    batch_get,
)


class Throttled:
    """A BatchGetItem that reads only `per_call` keys of each request and hands the rest back unprocessed."""

    def __init__(self, per_call: int, calls_left_unread: int = 10**6) -> None:
        self.per_call = per_call
        self.requests: list[int] = []
        self.unread_after = calls_left_unread

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((name, read),) = RequestItems.items()
        keys = read["Keys"]
        assert len(keys) <= 100, "BatchGetItem takes at most 100 keys"
        self.requests.append(len(keys))
        served = keys[: self.per_call] if len(self.requests) <= self.unread_after else []
        rest = keys[len(served) :]
        response: dict[str, Any] = {"Responses": {name: [{**k, "v": 1} for k in served]}}
        if rest:
            response["UnprocessedKeys"] = {name: {**read, "Keys": rest}}
        return response


def test_unprocessed_keys_are_retried_with_growing_bounded_pauses() -> None:
    client, pauses = Throttled(per_call=40), []
    keys = [{"pk": f"k{n}"} for n in range(150)]
    items = batch_get(client, "t", keys, sleep=pauses.append)
    assert sorted(item["pk"] for item in items) == sorted(k["pk"] for k in keys)
    assert client.requests == [100, 60, 20, 50, 10]  # 100 keys per request, the rest as they come back
    assert len(pauses) == 3  # one before each retry, none before a chunk's first request
    assert all(0 <= pause <= BACKOFF_CAP_SECONDS for pause in pauses)


def test_keys_still_unread_after_every_try_fail_the_call() -> None:
    client, pauses = Throttled(per_call=1, calls_left_unread=0), []
    with pytest.raises(UnprocessedKeysLeft, match=f"3 key\\(s\\) of t unread in {BATCH_GET_ATTEMPTS} tries"):
        batch_get(client, "t", [{"pk": "a"}, {"pk": "b"}, {"pk": "c"}], sleep=pauses.append)
    assert len(client.requests) == BATCH_GET_ATTEMPTS
    assert len(pauses) == BATCH_GET_ATTEMPTS - 1


def test_events_of_keys_reads_eventually_and_again_strongly_only_what_was_not_there_yet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from costmetrics.repositories import events as events_repo
    from tests.unit.test_rollup_planning import stored

    stored_items = {f"ws#e{n}": events_repo.item_of(stored(n), 400) for n in range(5)}
    calls: list[tuple[list[str], bool]] = []

    def fake_batch_get(client: Any, table: str, keys: list[dict[str, Any]], **options: Any) -> list[Any]:
        wanted = [key["pk"] for key in keys]
        calls.append((wanted, options["consistent"]))
        # the replica an eventually consistent read reaches has not got e3 yet
        return [stored_items[k] for k in wanted if options["consistent"] or k != "ws#e3"]

    monkeypatch.setattr(events_repo, "batch_get", fake_batch_get)
    monkeypatch.setattr(events_repo.aws, "dynamodb_client", lambda: None)
    monkeypatch.setattr(events_repo, "settings", lambda: type("S", (), {"events_table": "events"})())
    keys = [{"pk": pk} for pk in ["ws#e0", "ws#e1", "ws#e2", "ws#e3", "ws#e4", "ws#e1"]]
    found = events_repo.events_of(keys)
    assert [events_repo.event_key(e.workspace_id, e.id) for e in found] == [k["pk"] for k in keys]
    assert calls == [(["ws#e0", "ws#e1", "ws#e2", "ws#e3", "ws#e4"], False), (["ws#e3"], True)]
