"""hostapp.earnings.pricing: integer money, half-even rounding at display, locale currency, rate age, estimates."""

from __future__ import annotations

import pytest

from hostapp.config.settings import Settings
from hostapp.earnings.pricing import (
    Rate,
    age_text,
    estimate_from_offer,
    estimate_from_recent,
    fiat_minor,
    fiat_text,
    format_fiat,
    grid_rate,
    locale_currency,
    rate_text,
    settings_rate,
)

USD5 = Rate(5, "USD", 1_000.0, "grid")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (1_000_000, 5),  # 1 token at 5 ¢
        (100_000, 0),  # 0.5 ¢ → half to even: 0
        (300_000, 2),  # 1.5 ¢ → 2
        (500_000, 2),  # 2.5 ¢ → 2 (even), not 3
        (700_000, 4),  # 3.5 ¢ → 4
        (100_001, 1),  # just above half
        (10**30, 5 * 10**24),  # no float anywhere: exact for huge amounts
    ],
)
def test_fiat_minor_rounds_half_to_even_with_integers(amount: int, expected: int) -> None:
    assert fiat_minor(amount, 6, USD5) == expected


def test_format_fiat_uses_the_currency_minor_units_and_symbol() -> None:
    assert format_fiat(5, "USD") == "$0.05"
    assert format_fiat(123_456, "EUR") == "€1,234.56"
    assert format_fiat(-7, "GBP") == "-£0.07"
    assert format_fiat(12, "JPY") == "¥12"
    assert format_fiat(1250, "CHF") == "12.50 CHF"
    assert fiat_text(2_000_000, 6, USD5) == "≈ $0.10"
    assert fiat_text(2_000_000, 6, None) == ""


@pytest.mark.parametrize(
    ("env", "currency"),
    [
        ({"LANG": "de_DE.UTF-8"}, "EUR"),
        ({"LANG": "en_US.UTF-8", "LC_MONETARY": "en_GB.UTF-8"}, "GBP"),
        ({"LC_ALL": "ja_JP.UTF-8", "LANG": "de_DE.UTF-8"}, "JPY"),
        ({"LANG": "C.UTF-8"}, "USD"),
        ({"LANG": "xx_ZZ"}, "USD"),
        ({}, "USD"),
    ],
)
def test_locale_currency_from_the_territory_with_usd_fallback(env: dict[str, str], currency: str) -> None:
    assert locale_currency(env) == currency


def test_rate_age_in_words() -> None:
    assert age_text(1_000, now=1_030) == "just now"
    assert age_text(1_000, now=1_000 + 5 * 60 + 10) == "5 min ago"
    assert age_text(1_000, now=1_000 + 3 * 3600) == "3 h ago"
    assert age_text(1_000, now=1_000 + 2 * 86_400) == "2 days ago"
    assert rate_text(USD5, 6, "GRID", now=1_300) == "1 GRID ≈ $0.05 (grid rate from 5 min ago)"
    assert rate_text(None, 6, "GRID").startswith("No exchange rate")
    fixed = Rate(5, "EUR", 1_000.0, "your setting")
    assert rate_text(fixed, 6, "GRID", now=90_000) == "1 GRID ≈ €0.05 (your setting)"  # no age for a typed price


def test_grid_rate_reads_health_and_refuses_floats() -> None:
    health = {"token_price": {"minor_units_per_token": 5, "currency": "USD", "as_of": 1_000}}
    assert grid_rate(health) == USD5
    assert grid_rate({"token_price": {"minor_units_per_token": 0.05, "currency": "USD", "as_of": 1}}) is None
    assert grid_rate({"token_price": None}) is None
    assert grid_rate({}) is None


def test_fixed_rate_setting_in_the_locale_currency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MONETARY", raising=False)
    settings = Settings()
    assert settings.pricing.source == "grid" and settings_rate(settings) is None
    settings.pricing.source = "fixed"
    settings.pricing.minor_units_per_token = 12
    rate = settings_rate(settings, now=50.0)
    assert rate == Rate(12, "EUR", 50.0, "your setting")
    settings.pricing.currency = "GBP"
    assert settings_rate(settings, now=50.0) == Rate(12, "GBP", 50.0, "your setting")
    # The Settings page's token value (thousandths of the electricity currency) counts as typed too.
    settings.pricing.source = "grid"
    settings.token_price_milli, settings.electricity_currency = 2_005, "EUR"  # €2.005 → 200 ¢ (half even)
    assert settings_rate(settings, now=50.0) == Rate(200, "EUR", 50.0, "your setting")
    settings.pricing.source = "off"
    assert settings_rate(settings, now=50.0) is None


def test_daily_estimates_are_integers() -> None:
    # 1800 base units in the last hour → 43,200 a day
    recent = estimate_from_recent(1_800, 3_600)
    assert recent is not None and recent.base_units_per_day == 43_200 and recent.basis == "from your last 1 h"
    assert estimate_from_recent(0, 3_600) is None
    offer = estimate_from_offer(1_000, 50)  # demo price, half the day busy
    assert offer.base_units_per_day == 43_200_000
    assert offer.text(6, "GRID", USD5) == (
        "This card earns about $2.16 (43.2 GRID)/day at the current rate (grid's offered price, 50% busy)"
    )
    assert offer.text(6, "GRID", None).startswith("This card earns about 43.2 GRID/day")
