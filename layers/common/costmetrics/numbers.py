"""Exact numbers and their rounding at the edge (docs/metrics.md): Decimal inside, half-up at the boundary."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

MILLION = Decimal(1_000_000)
ZERO = Decimal(0)
PICO = 12  # rollups keep money as integer pico-dollars (1e-12 USD): exact, and plain integers in DynamoDB
MAX_INTEGER_DIGITS = 4300  # sys.int_info.default_max_str_digits
_PLACES = {n: Decimal(1).scaleb(-n) for n in range(7)}


def rounded(value: Decimal, places: int) -> Decimal:
    """Half-up rounding to `places` decimals, the only rounding the API does, at the edge."""
    return value.quantize(_PLACES[places], rounding=ROUND_HALF_UP)


def to_pico(dollars: Decimal) -> int:
    """Dollars as integer pico-dollars. Exact for every cost of a price with at most 6 decimals."""
    return int(dollars.scaleb(PICO).to_integral_value(rounding=ROUND_HALF_UP))


def from_pico(pico: int | Decimal) -> Decimal:
    return Decimal(pico).scaleb(-PICO)


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator / denominator, or 0 when the denominator is 0 (utilization, ROI and friends)."""
    return numerator / denominator if denominator else ZERO


def percent(numerator: Decimal, denominator: Decimal) -> Decimal:
    return ratio(numerator, denominator) * 100


def _json_number(value: Decimal) -> int | float:
    # JSON has one number type; a rounded Decimal converts to the float whose shortest repr is its digits.
    exponent = value.as_tuple().exponent
    integral = isinstance(exponent, int) and exponent >= 0 and value == value.to_integral_value()
    return int(value) if integral else float(value)


def _edge(places: int) -> PlainSerializer:
    return PlainSerializer(lambda v: _json_number(rounded(v, places)), return_type=float, when_used="json")


Money = Annotated[Decimal, _edge(2)]
"""A USD amount: exact inside, 2 places half-up in JSON."""
Ratio3 = Annotated[Decimal, _edge(3)]
"""utilization and cost_per_task: 3 places."""
Ratio4 = Annotated[Decimal, _edge(4)]
"""The elapsed fraction of a month: 4 places."""
Pct = Annotated[Decimal, _edge(1)]
"""Percentages: 1 place."""
Quantity = Annotated[Decimal, _edge(2)]
"""Hours and other non-money quantities: a JSON number, 2 places at most."""
Price = Annotated[Decimal, PlainSerializer(_json_number, return_type=float, when_used="json")]
"""A catalog price per million tokens, shown as stored (0.075 stays 0.075)."""


def json_decimal(value: Any) -> Decimal:
    """A JSON number as an exact Decimal; strings and booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError("must be a finite number")
    return number


JsonDecimal = Annotated[Decimal, BeforeValidator(json_decimal)]
"""An input number: int, float or Decimal from parsed JSON, kept exact."""


def json_integer(value: Any) -> int:
    """A JSON number with no fractional part as an int: 80 and 80.0 alike (JSON has one number type, and
    JSON Schema's "integer" admits both); 80.5, strings and booleans are not integers."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("Input should be a valid integer")
    if isinstance(value, int):
        return value
    number = Decimal(str(value)) if isinstance(value, float) else value
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError("Input should be a valid integer")
    # int(Decimal("1e999999999")) would build a billion-digit integer: no more digits than an integer
    # literal may have in a body (api.parse_body: Python's default int-string limit).
    if number.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError("a number with too many digits")
    return int(number)


JsonInteger = Annotated[int, BeforeValidator(json_integer)]
"""An input integer from parsed JSON: a number without a fractional part."""
