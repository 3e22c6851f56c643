"""Amounts are integers in base units (lamports, token base units); decimals exist only on screen."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

SOL_DECIMALS = 9


def format_units(amount: int, decimals: int) -> str:
    """Integer base units as an exact decimal string: 1500000000, 9 -> '1.5'."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals)
    if decimals == 0 or frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"


def parse_units(text: str, decimals: int) -> int:
    """'1.5' with 9 decimals -> 1500000000; ValueError (one line) for anything not exact."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{text!r} must be a positive amount")
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r} has more than {decimals} decimal places")
    return int(scaled)
