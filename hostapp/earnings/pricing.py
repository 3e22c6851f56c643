"""What grid tokens are worth in the user's currency: the rate, its age, fiat amounts and daily estimates.

Money stays integers: token amounts in base units, a rate in minor units of a currency (cents) per
whole token, fiat results in minor units. Rounding happens once, half to even, when a figure is made
for display. The rate comes from one source chosen in settings (`pricing`, docs/wallet.md):

- "grid" (default): the rate the grid declares on `GET /v1/health`; the embedded grid declares a
  demo rate (hostapp/localgrid/demo.py), a real grid its own;
- "fixed": `pricing.minor_units_per_token` in `pricing.currency`, typed by the user;
- "off": tokens only.

The user's currency comes from the locale (LC_ALL / LC_MONETARY / LANG territory), USD when it says
nothing. A grid's rate is in the grid's currency: it is shown in that currency (no exchange rates
are guessed); a fixed rate is in the user's. Qt-free; no network call on import.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hostapp.config.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_CURRENCY = "USD"
UNIT_SYMBOL = "GRID"  # what the app calls the grid token, in the GUI and the CLI alike
SECONDS_PER_DAY = 86_400
# Currencies whose minor unit is not 1/100 (ISO 4217); every other one has two decimals.
_EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "HUF": 2, "KWD": 3, "BHD": 3, "JOD": 3, "TND": 3}
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩", "BRL": "R$"}
# Locale territory → currency, for the countries hostapp is used in most; the rest fall back to USD.
_TERRITORY_CURRENCY = {
    "US": "USD", "GB": "GBP", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "JP": "JPY", "KR": "KRW",
    "CN": "CNY", "IN": "INR", "BR": "BRL", "MX": "MXN", "CH": "CHF", "SE": "SEK", "NO": "NOK",
    "DK": "DKK", "PL": "PLN", "CZ": "CZK", "HU": "HUF", "RU": "RUB", "UA": "UAH", "TR": "TRY",
    "ZA": "ZAR", "SG": "SGD", "HK": "HKD", "TW": "TWD", "IL": "ILS", "AR": "ARS", "CL": "CLP",
    "DE": "EUR", "FR": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR", "BE": "EUR", "AT": "EUR",
    "IE": "EUR", "PT": "EUR", "FI": "EUR", "GR": "EUR", "SK": "EUR", "SI": "EUR", "LU": "EUR",
    "EE": "EUR", "LV": "EUR", "LT": "EUR", "HR": "EUR", "MT": "EUR", "CY": "EUR",
}  # fmt: skip


@dataclass(frozen=True)
class Rate:
    """One whole token is worth `minor_units_per_token` minor units of `currency`, as of `as_of`."""

    minor_units_per_token: int
    currency: str
    as_of: float  # unix time the source gave (or the time it was read, for a fixed setting)
    source: str  # "grid" or "your setting": said next to the figure
    sol_minor_units_per_sol: int | None = None  # SOL in the same currency, for fees; None: unknown


def locale_currency(environ: dict[str, str] | None = None) -> str:
    """The currency of the user's locale territory (`de_DE.UTF-8` → EUR); USD when unknown."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MONETARY", "LANG"):
        value = env.get(name, "")
        if not value:
            continue
        language_territory = value.split(".", 1)[0].split("@", 1)[0]
        _, sep, territory = language_territory.partition("_")
        if sep:
            return _TERRITORY_CURRENCY.get(territory.upper(), DEFAULT_CURRENCY)
        if value not in ("C", "POSIX"):
            break
    return DEFAULT_CURRENCY


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def fiat_minor(amount: int, decimals: int, rate: Rate) -> int:
    """`amount` token base units in minor units of the rate's currency, rounded half to even."""
    return _round_half_even(amount * rate.minor_units_per_token, 10**decimals)


def _round_half_even(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)  # floor division: remainder ≥ 0
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def format_fiat(minor: int, currency: str) -> str:
    """Minor units as `$1.23`, `€0.05`, `¥12` or `12.50 CHF` (integer digits, never a float)."""
    exponent = currency_exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    digits = f"{whole:,}" + (f".{frac:0{exponent}d}" if exponent else "")
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency.upper()}"


def fiat_text(amount: int, decimals: int, rate: Rate | None) -> str:
    """`≈ $0.12`, or '' without a rate: the part shown after a token amount."""
    if rate is None:
        return ""
    return "≈ " + format_fiat(fiat_minor(amount, decimals, rate), rate.currency)


def fee_text(lamports: int, token_decimals: int | None, symbol: str, rate: Rate | None) -> str:
    """A SOL fee with what it is worth in grid tokens and in money where the rate allows:
    `0.000005 SOL ≈ 0.015 GRID ≈ <$0.01`."""
    from hostapp.wallet.amounts import SOL_DECIMALS, format_units

    text = f"{format_units(lamports, SOL_DECIMALS)} SOL"
    if rate is None or not rate.sol_minor_units_per_sol:
        return text
    sol_value = lamports * rate.sol_minor_units_per_sol  # minor units × 10**9
    if rate.minor_units_per_token and token_decimals is not None:
        in_tokens = _round_half_even(sol_value * 10**token_decimals, 10**SOL_DECIMALS * rate.minor_units_per_token)
        text += f" ≈ {format_units(in_tokens, token_decimals)} {symbol}"
    minor = _round_half_even(sol_value, 10**SOL_DECIMALS)
    money = format_fiat(minor, rate.currency) if minor or not sol_value else "<" + format_fiat(1, rate.currency)
    return f"{text} ≈ {money}"


def age_text(as_of: float, now: float | None = None) -> str:
    """How old a rate is, in words: `just now`, `5 min ago`, `3 h ago`, `2 days ago`."""
    seconds = max(0, int((time.time() if now is None else now) - as_of))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < SECONDS_PER_DAY:
        return f"{seconds // 3600} h ago"
    days = seconds // SECONDS_PER_DAY
    return f"{days} day{'s' if days != 1 else ''} ago"


def rate_text(rate: Rate | None, decimals: int, symbol: str, now: float | None = None) -> str:
    """`1 GRID ≈ $0.05 (grid rate from 5 min ago)`, or why there is no figure in money."""
    if rate is None:
        return "No exchange rate: amounts are in tokens only (set one in Settings → pricing)"
    one = format_fiat(rate.minor_units_per_token, rate.currency)
    if rate.source != "grid":
        return f"1 {symbol} ≈ {one} ({rate.source})"  # typed by the user: its age says nothing
    return f"1 {symbol} ≈ {one} (grid rate from {age_text(rate.as_of, now)})"


@dataclass(frozen=True)
class DailyEstimate:
    base_units_per_day: int
    basis: str  # how it was worked out, one phrase

    def text(self, decimals: int, symbol: str, rate: Rate | None) -> str:
        from hostapp.wallet.amounts import format_units

        amount = f"{format_units(self.base_units_per_day, decimals)} {symbol}"
        money = fiat_text(self.base_units_per_day, decimals, rate)
        shown = f"{money.removeprefix('≈ ')} ({amount})" if money else amount
        return f"This card earns about {shown}/day at the current rate ({self.basis})"


def estimate_from_recent(earned: int, window_seconds: int) -> DailyEstimate | None:
    """The node's recent rate scaled to a day (integers, half-even); None without recent earnings."""
    if earned <= 0 or window_seconds <= 0:
        return None
    hours = window_seconds // 3600
    window = f"last {hours} h" if hours else f"last {window_seconds // 60} min"
    return DailyEstimate(_round_half_even(earned * SECONDS_PER_DAY, window_seconds), f"from your {window}")


def estimate_from_offer(price_per_second: int, utilisation_percent: int) -> DailyEstimate:
    """Before the first job: the grid's offered price × a day × the assumed share of the day with work."""
    per_day = _round_half_even(price_per_second * SECONDS_PER_DAY * utilisation_percent, 100)
    return DailyEstimate(per_day, f"grid's offered price, {utilisation_percent}% busy")


def settings_rate(settings: Settings, now: float | None = None) -> Rate | None:
    """The rate the user typed: a "fixed" pricing setting, or else the Settings page's token value
    (`token_price_milli`, thousandths of `electricity_currency`), which wins over a grid's rate because
    the user said so. None when neither is set, or pricing is "off"."""
    pricing = settings.pricing
    at = time.time() if now is None else now
    if pricing.source == "off":
        return None
    if pricing.source != "fixed" or not pricing.minor_units_per_token:
        if not settings.token_price_milli:
            return None
        currency = settings.electricity_currency.upper()
        minor = _round_half_even(settings.token_price_milli * 10 ** currency_exponent(currency), 1000)
        return Rate(minor, currency, at, "your setting", pricing.sol_minor_units_per_sol or None)
    currency = pricing.currency or locale_currency()
    sol = pricing.sol_minor_units_per_sol or None
    return Rate(pricing.minor_units_per_token, currency, at, "your setting", sol)


def grid_rate(health: dict[str, Any]) -> Rate | None:
    """The rate in a grid's `/v1/health` answer (`token_price`), or None when it declares none."""
    price = health.get("token_price")
    if not isinstance(price, dict):
        return None
    minor, currency, as_of = price.get("minor_units_per_token"), price.get("currency"), price.get("as_of")
    if not isinstance(minor, int) or minor < 0 or not isinstance(currency, str) or not isinstance(as_of, int):
        return None
    sol = price.get("sol_minor_units_per_sol")
    return Rate(minor, currency, float(as_of), "grid", sol if isinstance(sol, int) and sol > 0 else None)


GridHealth = Callable[[], "dict[str, Any] | None"]
"""Reads the node's grid's `/v1/health` document: None while no grid runs for this install (the
embedded one not started yet); raises when the grid does not answer."""


class PriceSource:
    """The current rate by the configured source. `refresh()` may ask the grid (run it off the GUI
    thread); `current()` only returns what the last refresh found.

    `grid_health` is how the grid is asked: the tray asks the node (control command `grid.price`),
    which asks its grid, so the tray never opens an HTTP client of its own (~8 MB); a CLI command asks
    the grid's URL directly (`http_grid_health`)."""

    def __init__(self, settings: Settings, grid_health: GridHealth | None = None) -> None:
        self._settings = settings
        self._grid_health = grid_health
        self._grid: Rate | None = None
        self.offered_price_per_second: int | None = None  # the grid's demo/offered price, for estimates
        self.problem: str | None = None

    def current(self) -> Rate | None:
        typed = settings_rate(self._settings)
        if typed is not None or self._settings.pricing.source != "grid":
            return typed
        return self._grid

    def refresh(self) -> Rate | None:
        if self._settings.pricing.source != "grid":
            return self.current()
        try:
            health = self._grid_health() if self._grid_health is not None else None
        except Exception as exc:  # the grid is offline or not a grid: keep the last rate, say why
            self.problem = f"exchange rate not updated: the grid did not answer ({type(exc).__name__})"
            log.info(self.problem)
            return self.current()
        self.problem = None
        if health is None and self._settings.grid.url is None:
            # The embedded grid before the node starts it (the wizard, a fresh tray): what it declares.
            from hostapp.localgrid.demo import DEMO_PRICE_PER_SECOND, demo_token_price

            health = {
                "token_price": demo_token_price(int(time.time())),
                "offered_price_per_second": DEMO_PRICE_PER_SECOND,
            }
        if isinstance(health, dict):
            self._grid = grid_rate(health)
            offered = health.get("offered_price_per_second")
            self.offered_price_per_second = offered if isinstance(offered, int) else None
        return self.current()


def price_fields(health: object) -> dict[str, Any]:
    """What of a grid's `/v1/health` answer the rate needs (what the node's `grid.price` answers);
    ValueError when the answer is not a JSON object."""
    if not isinstance(health, dict):
        raise ValueError("the grid's /v1/health is not a JSON object")
    return {key: health[key] for key in ("token_price", "offered_price_per_second") if key in health}


def http_grid_health(url: str | None, timeout: float) -> GridHealth:
    """Asks the grid at `url` itself (a CLI command). None: no grid URL."""

    def read() -> dict[str, Any] | None:
        if not url:
            return None
        import json
        import urllib.request

        # The standard library's client: one small JSON document, no HTTP library's start-up cost.
        with urllib.request.urlopen(f"{url.rstrip('/')}/v1/health", timeout=timeout) as response:  # noqa: S310 - the node's grid URL
            return price_fields(json.loads(response.read(1_000_000)))

    return read


RECENT_WINDOW_SECONDS = 3 * 3600  # the node's "recent rate": work started in the last 3 hours


def current_estimate(
    recent: tuple[int, int], offered_price_per_second: int | None, utilisation_percent: int
) -> DailyEstimate | None:
    """From the node's recent earnings when it has some, else from the grid's offered price."""
    earned, covered = recent
    from_recent = estimate_from_recent(earned, covered)
    if from_recent is not None:
        return from_recent
    if offered_price_per_second:
        return estimate_from_offer(offered_price_per_second, utilisation_percent)
    return None


def embedded_grid_url(data_dir: Path) -> str | None:
    """The URL of this install's running embedded grid (its endpoint file), or None."""
    import json

    try:
        raw = json.loads((data_dir / "local-grid" / "endpoint.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = raw.get("url") if isinstance(raw, dict) else None
    return url if isinstance(url, str) else None


def cli_price_source(settings: Settings, data_dir: Path, grid_url: str | None = None) -> PriceSource:
    """The rate for a CLI command, read once: the given grid (the node's), the configured one, or the
    embedded grid while it runs. A grid that does not answer leaves amounts in tokens."""
    url = grid_url or settings.grid.url or embedded_grid_url(data_dir)
    source = PriceSource(settings, http_grid_health(url, timeout=3.0))
    source.refresh()
    return source
