"""CSV export of ledger rows: streamed row by row, amounts as exact integers and decimal text."""

from __future__ import annotations

import csv
import datetime as dt
from typing import TextIO

from hostapp.earnings.queries import EarningsReader, electricity_cost_milli
from hostapp.earnings.rows import row_of

CSV_HEADER = (
    "job_id",
    "attempt",
    "gpu_uuid",
    "started_at_utc",
    "ended_at_utc",
    "seconds_billed",
    "rate_per_second_base_units",
    "amount_base_units",
    "amount",
    "status",
    "payout_signature",
    "energy_wh",
    "electricity_cost",
)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula (=HYPERLINK(…), +cmd, @SUM, a leading tab or
    CR) gets a leading apostrophe, so it shows as text. Job ids, GPU ids and signatures come from
    outside (the grid), so every text cell goes through this; numbers are written as they are."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def decimal_text(value: int, decimals: int) -> str:
    """Exact decimal text of an integer amount in base units (no float anywhere)."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}" if decimals else f"{sign}{whole}"


def _iso(timestamp: float | None) -> str:
    return "" if timestamp is None else dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()


def export_csv(
    queries: EarningsReader,
    out: TextIO,
    since: dt.datetime | None = None,
    token_decimals: int = 6,
    price_milli_per_kwh: int = 0,
) -> int:
    """Writes ledger rows from `since` (None: all) to `out`; returns the number of rows written."""
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    count = 0
    for raw in queries.entries_since(since):
        row = row_of(raw)
        energy = row.energy_mwh
        cells = (
            row.job_id,
            row.attempt,
            row.gpu_uuid or "",
            _iso(row.started_at),
            _iso(row.ended_at),
            row.seconds_billed,
            row.rate_per_second,
            row.amount,
            decimal_text(row.amount, token_decimals),
            row.status,
            row.payout_signature or "",
            "" if energy is None else decimal_text(energy, 3),
            "" if energy is None else decimal_text(electricity_cost_milli(energy, price_milli_per_kwh), 3),
        )
        writer.writerow([neutralised(cell) for cell in cells])
        count += 1
    return count
