"""Totals, per-day and per-GPU series and ledger pages, all aggregated in SQL.

Totals and series read `ledger_hourly` (kept by triggers, migration 4), so their cost follows
the number of hours with work, not the number of ledger rows. Buckets are whole UTC hours;
local days are cut at the local midnight's hour, which is exact for every zone with a
whole-hour offset (a half-hour zone shifts a day's edge by 30 minutes).
Amounts are integers in token base units; electricity is integer thousandths of a currency.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from hostapp.earnings.rows import NEXT_PAYOUT_KEY, SELECT_ROWS, LedgerRow, row_of

EARNED_STATUSES = ("credited", "paid")
HOUR = 3600
RECENT_MIN_SECONDS = 600


class Period(StrEnum):
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"
    ALL = "all"


@dataclass(frozen=True)
class Totals:
    today: int
    last_7_days: int
    last_30_days: int
    all_time: int


@dataclass(frozen=True)
class DayTotal:
    day: dt.date
    amount: int
    seconds: int
    jobs: int
    energy_mwh: int


@dataclass(frozen=True)
class GpuTotal:
    gpu_uuid: str  # '' for CPU-only or unknown
    amount: int
    seconds: int
    jobs: int
    energy_mwh: int


_PAGE_SQL = SELECT_ROWS + "ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?"
_SINCE_SQL = SELECT_ROWS + "WHERE started_at >= ? ORDER BY started_at, id"
_EARNED_SQL = "SELECT COALESCE(SUM(amount), 0) FROM ledger_hourly WHERE status IN ('credited', 'paid') AND hour >= ?"


def electricity_cost_milli(energy_mwh: int, price_milli_per_kwh: int) -> int:
    """Cost in thousandths of the currency, rounded half up; 1 kWh = 1,000,000 mWh."""
    return (energy_mwh * price_milli_per_kwh + 500_000) // 1_000_000


def token_value_milli(amount: int, decimals: int, price_milli_per_token: int) -> int:
    """What `amount` base units are worth in thousandths of the currency, rounded half up."""
    scale = 10**decimals
    value: int = (amount * price_milli_per_token + scale // 2) // scale
    return value


@dataclass(frozen=True)
class PayoutState:
    """Earned money split by where it is: credited by the grid but not yet on chain, or paid."""

    pending: int  # token base units credited, payout not yet confirmed on chain
    paid: int  # token base units whose transfer the chain confirmed
    next_payout_at: float | None  # unix time of the grid's next payout try; None: nothing owed / unknown

    @property
    def earned(self) -> int:
        return self.pending + self.paid


@dataclass(frozen=True)
class PayoutEntry:
    signature: str
    amount: int  # token base units
    at: float  # when the paid work ended (ledger) or the transfer was seen (payouts table)
    jobs: int  # ledger rows this transfer paid (0: seen on chain only)


_PAYOUTS_SQL = """
SELECT signature, amount, at, jobs FROM (
    SELECT payout_signature AS signature, SUM(amount) AS amount,
           MAX(COALESCE(ended_at, started_at)) AS at, COUNT(*) AS jobs
    FROM ledger WHERE payout_signature IS NOT NULL GROUP BY payout_signature
    UNION ALL
    SELECT signature, amount, received_at, 0 FROM payouts
    WHERE signature NOT IN (SELECT payout_signature FROM ledger WHERE payout_signature IS NOT NULL)
) ORDER BY at DESC LIMIT ?
"""


def local_midnight(now: dt.datetime) -> dt.datetime:
    """Start of `now`'s local day (aware datetimes only)."""
    if now.tzinfo is None:
        raise ValueError("earnings need a time-zone aware 'now'")
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _hour_index(moment: dt.datetime) -> int:
    return int(moment.timestamp()) // HOUR


class EarningsReader(Protocol):
    """What the pages ask of the ledger: `EarningsQueries` in the node, `RemoteEarnings` in the tray
    (hostapp/earnings/wire.py), which the node answers from its EarningsQueries."""

    def totals(self, now: dt.datetime) -> Totals: ...
    def period_start(self, period: Period, now: dt.datetime) -> dt.datetime | None: ...
    def per_day(self, since: dt.datetime | None, zone: dt.tzinfo | None = None) -> list[DayTotal]: ...
    def hourly(self, since: dt.datetime) -> list[tuple[int, int]]: ...
    def per_gpu(self, since: dt.datetime | None) -> list[GpuTotal]: ...
    def energy_since(self, since: dt.datetime | None) -> int: ...
    def row_count(self) -> int: ...
    def page(self, offset: int, limit: int) -> list[LedgerRow]: ...
    def entries_since(self, since: dt.datetime | None) -> Iterable[Sequence[Any]]: ...
    def recent_earnings(self, now: float, window_seconds: int) -> tuple[int, int]: ...
    def payout_state(self) -> PayoutState: ...
    def payouts(self, limit: int = 200) -> list[PayoutEntry]: ...
    def close(self) -> None: ...


class EarningsQueries:
    """Read-only queries on one SQLite connection (use Store.reader() so the writer never waits)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _earned_since(self, hour: int | None) -> int:
        start = hour if hour is not None else -(2**62)
        return int(self._conn.execute(_EARNED_SQL, (start,)).fetchone()[0])

    def totals(self, now: dt.datetime) -> Totals:
        midnight = local_midnight(now)
        return Totals(
            today=self._earned_since(_hour_index(midnight)),
            last_7_days=self._earned_since(_hour_index(midnight - dt.timedelta(days=6))),
            last_30_days=self._earned_since(_hour_index(midnight - dt.timedelta(days=29))),
            all_time=self._earned_since(None),
        )

    def period_start(self, period: Period, now: dt.datetime) -> dt.datetime | None:
        if period is Period.DAY:
            return now - dt.timedelta(hours=24)
        if period is Period.ALL:
            return None
        days = 7 if period is Period.WEEK else 30
        return local_midnight(now) - dt.timedelta(days=days - 1)

    def per_day(self, since: dt.datetime | None, zone: dt.tzinfo | None = None) -> list[DayTotal]:
        """Earned amount per local day from `since` (None: all time), oldest first, days with work only.

        `zone` None is the system's local time with its DST rules (a fixed offset from
        `datetime.now().astimezone()` would misplace days across a DST change).
        """
        days: dict[dt.date, list[int]] = {}
        for hour, amount, seconds, jobs, energy in self._earned_hours(since):
            # Summed in SQL per hour; only the hour → local day mapping (DST-aware) happens here.
            day = dt.datetime.fromtimestamp(hour * HOUR, zone).date()
            bucket = days.setdefault(day, [0, 0, 0, 0])
            bucket[0] += amount
            bucket[1] += seconds
            bucket[2] += jobs
            bucket[3] += energy
        return [DayTotal(day, *values) for day, values in sorted(days.items())]

    def _earned_hours(self, since: dt.datetime | None) -> list[tuple[int, int, int, int, int]]:
        sql = (
            "SELECT hour, SUM(amount), SUM(seconds), SUM(jobs), SUM(energy_mwh) FROM ledger_hourly "
            "WHERE status IN ('credited', 'paid') AND hour >= ? GROUP BY hour ORDER BY hour"
        )
        start = _hour_index(since) if since is not None else -(2**62)
        return [tuple(int(v) for v in row) for row in self._conn.execute(sql, (start,))]  # type: ignore[misc]

    def hourly(self, since: dt.datetime) -> list[tuple[int, int]]:
        """(hour index, earned amount) for hours with earnings from `since` (the 24 h chart)."""
        return [(hour, amount) for hour, amount, *_ in self._earned_hours(since)]

    def close(self) -> None:
        self._conn.close()

    def per_gpu(self, since: dt.datetime | None) -> list[GpuTotal]:
        start = _hour_index(since) if since is not None else -(2**62)
        rows = self._conn.execute(
            "SELECT gpu, SUM(amount), SUM(seconds), SUM(jobs), SUM(energy_mwh) FROM ledger_hourly "
            "WHERE status IN ('credited', 'paid') AND hour >= ? GROUP BY gpu ORDER BY SUM(amount) DESC",
            (start,),
        )
        return [GpuTotal(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]

    def energy_since(self, since: dt.datetime | None) -> int:
        start = _hour_index(since) if since is not None else -(2**62)
        row = self._conn.execute(
            "SELECT COALESCE(SUM(energy_mwh), 0) FROM ledger_hourly WHERE status IN ('credited', 'paid') AND hour >= ?",
            (start,),
        )
        return int(row.fetchone()[0])

    def row_count(self) -> int:
        """Ledger rows of every status, from the summary (a COUNT(*) would walk the whole table)."""
        row = self._conn.execute("SELECT COALESCE(SUM(jobs), 0) FROM ledger_hourly")
        return int(row.fetchone()[0])

    def page(self, offset: int, limit: int) -> list[LedgerRow]:
        """Ledger rows, newest first; the table view pages through them with LIMIT/OFFSET."""
        if offset < 0 or limit < 0:
            raise ValueError("offset and limit must not be negative")
        rows = self._conn.execute(
            _PAGE_SQL,
            (limit, offset),
        )
        return [row_of(r) for r in rows]

    def entries_since(self, since: dt.datetime | None) -> sqlite3.Cursor:
        """A cursor over ledger rows oldest first (CSV export streams it, never loads it whole)."""
        start = since.timestamp() if since is not None else float("-inf")
        return self._conn.execute(
            _SINCE_SQL,
            (start,),
        )

    def recent_earnings(self, now: float, window_seconds: int) -> tuple[int, int]:
        """(earned, seconds covered) by work started in the last `window_seconds`: the node's current
        earning rate for estimates. Covered is from the first such job's start (at least 10 min, so one
        short job is not scaled up to a day), at most the window."""
        row = self._conn.execute(
            "SELECT COALESCE(SUM(amount), 0), MIN(started_at) FROM ledger "
            "WHERE started_at >= ? AND status IN ('credited', 'paid')",  # the started_at index
            (now - window_seconds,),
        ).fetchone()
        earned, first = int(row[0]), row[1]
        if not earned or first is None:
            return 0, 0
        covered = min(window_seconds, max(RECENT_MIN_SECONDS, int(now - float(first))))
        return earned, covered

    def payout_state(self) -> PayoutState:
        """Pending vs paid (all time, from the hourly summary) and the next payout time the grid gave."""
        sums = dict(
            self._conn.execute(
                "SELECT status, COALESCE(SUM(amount), 0) FROM ledger_hourly "
                "WHERE status IN ('credited', 'paid') GROUP BY status"
            ).fetchall()
        )
        pending = int(sums.get("credited", 0))
        row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (NEXT_PAYOUT_KEY,)).fetchone()
        next_at = float(row[0]) if row and row[0] and pending else None
        return PayoutState(pending, int(sums.get("paid", 0)), next_at)

    def payouts(self, limit: int = 200) -> list[PayoutEntry]:
        """Payout transfers, newest first: the ledger's payout signatures (one transfer may pay several
        attempts), plus transfers seen on chain that no ledger row names."""
        rows = self._conn.execute(_PAYOUTS_SQL, (limit,))
        return [PayoutEntry(str(r[0]), int(r[1]), float(r[2]), int(r[3])) for r in rows]
