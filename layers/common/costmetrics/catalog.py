"""The global pricing catalog seeded into the pricing table: the list prices the product publishes, USD per
million tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from costmetrics.pricing import PriceVersion, Tier

# The seeded catalog is in force from the epoch, so any historical event finds a price.
CATALOG_EFFECTIVE_FROM = datetime(1970, 1, 1, tzinfo=UTC)

_ROWS: tuple[tuple[str, str, Tier, str, str, str, str | None], ...] = (
    ("claude-haiku-3.5", "anthropic", "economy", "0.80", "4.00", "0.08", "1.00"),
    ("claude-sonnet-4-20250514", "anthropic", "flagship", "3.00", "15.00", "0.30", "3.75"),
    ("claude-haiku-4-5", "anthropic", "economy", "1.00", "5.00", "0.10", "1.25"),
    ("claude-sonnet-4-6", "anthropic", "standard", "3.00", "15.00", "0.30", "3.75"),
    ("claude-opus-4-7", "anthropic", "flagship", "5.00", "25.00", "0.50", "6.25"),
    ("gpt-5.5", "openai", "flagship", "5.00", "30.00", "0.50", None),
    ("gpt-5.4", "openai", "standard", "2.50", "15.00", "0.25", None),
    ("gpt-5.4-mini", "openai", "economy", "0.75", "4.50", "0.075", None),
    ("gpt-5.4-nano", "openai", "economy", "0.20", "1.25", "0.02", None),
    ("gpt-4.1", "openai", "standard", "2.00", "8.00", "0.50", None),
    ("gemini-2.5-pro", "google", "flagship", "1.25", "10.00", "0.125", None),
    ("gemini-2.5-flash", "google", "economy", "0.30", "2.50", "0.03", None),
)


def global_catalog() -> list[PriceVersion]:
    """The catalog as price versions of global scope."""
    return [
        PriceVersion(
            model_id=model,
            provider=provider,
            category=category,
            input_per_million=Decimal(inp),
            output_per_million=Decimal(out),
            cache_read_per_million=Decimal(read),
            cache_write_per_million=None if write is None else Decimal(write),
            effective_from=CATALOG_EFFECTIVE_FROM,
            scope="global",
        )
        for model, provider, category, inp, out, read, write in _ROWS
    ]
