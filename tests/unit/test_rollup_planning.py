"""Rollup contributions and transaction planning (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from costmetrics.catalog import global_catalog
from costmetrics.events import StoredEvent
from costmetrics.repositories.rollups import sort_key
from costmetrics.rollups import Contribution, contributions, merge_deltas, plan_chunks

T0 = datetime(2026, 3, 10, tzinfo=UTC)
HAIKU = next(v for v in global_catalog() if v.model_id == "claude-haiku-3.5")


def stored(
    n: int,
    agent: str = "nova",
    event_type: str = "model_invocation",
    model: str = "claude-haiku-3.5",
    **details: object,
) -> StoredEvent:
    base: dict[str, object] = (
        {"model": model, "inputTokens": 1000, "outputTokens": 100} if event_type == "model_invocation" else {}
    )
    return StoredEvent(
        workspace_id="ws",
        id=f"e{n}",
        agent_id=agent,
        event_type=event_type,  # type: ignore[arg-type]
        created_at=T0 + timedelta(minutes=n),
        details={**base, **details},
        ingested_at=T0,
    )


def test_an_invocation_adds_tokens_and_pico_cost_to_its_three_items() -> None:
    deltas = contributions(stored(1, cacheReadTokens=500, durationMs=1200), HAIKU)
    assert [sort_key(d.item) for d in deltas] == [
        "W#2026-03",
        "M#2026-03#A#nova",
        "M#2026-03#A#nova#M#claude-haiku-3.5",
        "DT#2026-03-10",
        "DA#nova#2026-03-10",
        "HT#2026-03-10T00",
        "HA#nova#2026-03-10T00",
    ]
    assert all(d.adds == {"events": 1, "evt_model_invocation": 1} for d in deltas[3:])
    model = deltas[2]
    # (1000 × 0.80 + 500 × 0.08) / 1e6 dollars = 840 µ$ = 840,000,000 p$
    assert model.adds["inputCostPico"] == 840_000_000
    assert model.adds["outputCostPico"] == 400_000_000
    assert model.adds["durationUsTotal"] == 1_200_000
    assert model.labels["provider"] == "anthropic"
    assert deltas[0].members == {"activeAgents": {"nova"}}


def test_an_unpriced_model_counts_tokens_as_unpriced_not_as_zero_cost() -> None:
    model = contributions(stored(1, model="mystery", cacheWriteTokens=7), None)[2]
    assert model.adds["unpricedTokens"] == 1107
    assert "inputCostPico" not in model.adds
    assert model.defaults == {"provider": "unknown"}


def test_task_types_are_bounded() -> None:
    known = contributions(stored(1, event_type="task_completed", taskType="Research"), None)[1]
    unknown = contributions(stored(2, event_type="task_completed", taskType="interpretive dance"), None)[1]
    missing = contributions(stored(3, event_type="task_completed"), None)[1]
    assert known.adds["task_research"] == 1
    assert unknown.adds["task_other"] == 1
    assert missing.adds["task_unspecified"] == 1


def test_merging_sums_counters_and_unions_sets() -> None:
    a = contributions(stored(1), HAIKU)
    b = contributions(stored(2, agent="atlas"), HAIKU)
    merged = {sort_key(d.item): d for d in merge_deltas([*a, *b])}
    assert merged["W#2026-03"].adds["invocations"] == 2
    assert merged["W#2026-03"].members["activeAgents"] == {"nova", "atlas"}
    assert merged["DT#2026-03-10"].adds["events"] == 2
    # shared: W, DT, HT (events 1 and 2 fall in the same hour); per agent: A, AM, DA, HA
    assert len(merged) == 3 + 2 * 4


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 3)), min_size=1, max_size=250),
    st.sampled_from([12, 30, 100]),  # small limits leave many transactions open (the packing window)
)
def test_every_event_lands_in_exactly_one_transaction_within_the_action_limit(
    shape: list[tuple[int, int]], limit: int
) -> None:
    models = ["claude-haiku-3.5", "gpt-5.4", "gemini-2.5-pro", "mystery"]
    entries = [
        Contribution(e, str(n), contributions(e, HAIKU))
        for n, (agent, model) in enumerate(shape)
        for e in [stored(n, agent=f"a{agent}", model=models[model])]
    ]
    chunks = plan_chunks(entries, limit)
    assert sorted(e.event.id for chunk in chunks for e in chunk) == sorted(e.event.id for e in entries)
    for chunk in chunks:
        actions = len(chunk) + len({d.item for e in chunk for d in e.deltas})
        assert actions <= limit
