"""Pricing math: exact Decimal costs, cache tokens, effective dates, workspace overrides, unpriced models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from costmetrics.catalog import global_catalog
from costmetrics.numbers import from_pico, to_pico
from costmetrics.pricing import PriceBook, PriceVersion, TokenUsage, cost_of
from tests import truth

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def version(
    model: str, at: datetime, inp: str, out: str, scope: str = "workspace", **cache: str
) -> PriceVersion:
    return PriceVersion(
        model_id=model,
        provider="anthropic",
        category="economy",
        input_per_million=Decimal(inp),
        output_per_million=Decimal(out),
        cache_read_per_million=Decimal(cache["read"]) if "read" in cache else None,
        cache_write_per_million=Decimal(cache["write"]) if "write" in cache else None,
        effective_from=at,
        scope=scope,  # type: ignore[arg-type]
    )


def test_the_seeded_catalog_is_the_design_price_table() -> None:
    seeded = {v.model_id: v for v in global_catalog()}
    assert set(seeded) == set(truth.PRICES)
    for model, (provider, category, inp, out, read, write) in truth.PRICES.items():
        v = seeded[model]
        assert (v.provider, v.category) == (provider, category)
        assert (v.input_per_million, v.output_per_million) == (Decimal(inp), Decimal(out))
        assert v.cache_read_per_million == Decimal(read)
        assert v.cache_write_per_million == (Decimal(write) if write else None)


def test_cost_covers_every_token_kind_exactly() -> None:
    haiku = next(v for v in global_catalog() if v.model_id == "claude-haiku-3.5")
    cost = cost_of(TokenUsage(input=1_234_567, output=89_012, cache_read=345_678, cache_write=9_876), haiku)
    # 1,234,567 × 0.80 + 345,678 × 0.08 + 9,876 × 1.00 = 987,653.6 + 27,654.24 + 9,876 = 1,025,183.84
    assert cost.input == Decimal("1.02518384")
    assert cost.output == Decimal("0.356048")  # 89,012 × 4.00 / 1e6
    assert cost.total == Decimal("1.38123184")


def test_a_model_without_a_cache_write_price_bills_cache_writes_as_input() -> None:
    gpt = next(v for v in global_catalog() if v.model_id == "gpt-5.4")
    assert cost_of(TokenUsage(cache_write=1_000_000), gpt).input == Decimal("2.50")
    assert cost_of(TokenUsage(cache_read=1_000_000), gpt).input == Decimal("0.25")


@given(
    st.lists(st.tuples(*[st.integers(0, 10**9)] * 4), min_size=1, max_size=20),
    st.sampled_from(global_catalog()),
)
def test_costs_add_up_exactly_and_are_whole_pico_dollars(
    usages: list[tuple[int, ...]], price: PriceVersion
) -> None:
    costs = [cost_of(TokenUsage(*u), price) for u in usages]
    summed = TokenUsage(*(sum(u[i] for u in usages) for i in range(4)))
    assert sum((c.total for c in costs), Decimal(0)) == cost_of(summed, price).total
    for cost in costs:
        assert from_pico(to_pico(cost.input)) == cost.input
        assert from_pico(to_pico(cost.output)) == cost.output


def test_the_workspace_price_in_force_at_an_instant_wins_over_the_global_one() -> None:
    global_price = version("m", datetime(1970, 1, 1, tzinfo=UTC), "1", "2", scope="global")
    first = version("m", T0 + timedelta(days=10), "0.5", "1")
    second = version("m", T0 + timedelta(days=20), "0.4", "0.9")
    book = PriceBook([second, global_price, first])
    assert book.price_at("m", T0) == global_price
    assert book.price_at("m", T0 + timedelta(days=10)) == first  # effectiveFrom is inclusive
    assert book.price_at("m", T0 + timedelta(days=19, hours=23)) == first
    assert book.price_at("m", T0 + timedelta(days=25)) == second
    assert book.price_at("unknown-model", T0) is None
    assert book.upcoming("m", T0) == first
    assert book.current(T0) == [global_price]


def test_a_model_priced_only_from_a_future_date_is_unpriced_before_it() -> None:
    book = PriceBook([version("new", T0, "1", "1")])
    assert book.price_at("new", T0 - timedelta(seconds=1)) is None
    assert book.current(T0 - timedelta(days=1)) == []
    assert book.latest("new") is not None
