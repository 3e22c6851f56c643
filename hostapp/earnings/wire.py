"""The earnings queries across the control socket: the node answers them from its ledger
(`earnings_command`), the tray asks through `RemoteEarnings`, which has the same methods as
`EarningsQueries`, so the pages read the same shapes whichever side of the socket they are on.

Every method is named here with how its arguments and answer are carried: datetimes as ISO 8601
with their offset, amounts as JSON integers (exact at any size), the dataclasses field by field.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from hostapp.earnings.queries import DayTotal, EarningsQueries, GpuTotal, PayoutEntry, PayoutState, Period, Totals
from hostapp.earnings.rows import LedgerRow

log = logging.getLogger(__name__)

EARNINGS_PREFIX = "earnings."
ENTRIES_CHUNK = 500  # ledger rows per streamed event of `earnings.entries_since`

Call = Callable[[str, dict[str, Any], Callable[[dict[str, Any]], None] | None], Any]


def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_when(raw: Any, name: str) -> dt.datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError(f"'{name}' must be an ISO 8601 time")
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"'{name}' must be an ISO 8601 time, not {raw!r}") from None
    if when.tzinfo is None:
        raise ValueError(f"'{name}' needs its UTC offset")
    return when


def _required_when(args: Mapping[str, Any], name: str) -> dt.datetime:
    when = _parse_when(args.get(name), name)
    if when is None:
        raise ValueError(f"'{name}' is required")
    return when


def _int(args: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = args.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"'{name}' must be a whole number ≥ 0")
    return value


def _number(args: Mapping[str, Any], name: str) -> float:
    value = args.get(name)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"'{name}' must be a number")
    return float(value)


def earnings_command(
    open_queries: Callable[[], EarningsQueries],
    command: str,
    args: Mapping[str, Any],
    emit: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """One `earnings.*` command, answered from a fresh reader of the node's ledger."""
    method = command.removeprefix(EARNINGS_PREFIX)
    queries = open_queries()
    try:
        value: Any
        if method == "totals":
            value = dataclasses.asdict(queries.totals(_required_when(args, "now")))
        elif method == "period_start":
            period = Period(str(args.get("period")))
            value = _when(queries.period_start(period, _required_when(args, "now")))
        elif method == "per_day":
            days = queries.per_day(_parse_when(args.get("since"), "since"))
            value = [{**dataclasses.asdict(d), "day": d.day.isoformat()} for d in days]
        elif method == "hourly":
            value = [list(pair) for pair in queries.hourly(_required_when(args, "since"))]
        elif method == "per_gpu":
            value = [dataclasses.asdict(g) for g in queries.per_gpu(_parse_when(args.get("since"), "since"))]
        elif method == "energy_since":
            value = queries.energy_since(_parse_when(args.get("since"), "since"))
        elif method == "row_count":
            value = queries.row_count()
        elif method == "page":
            rows = queries.page(_int(args, "offset", 0), min(_int(args, "limit", 100), 1000))
            value = [dataclasses.asdict(r) for r in rows]
        elif method == "recent_earnings":
            value = list(queries.recent_earnings(_number(args, "now"), _int(args, "window_seconds")))
        elif method == "payout_state":
            value = dataclasses.asdict(queries.payout_state())
        elif method == "payouts":
            value = [dataclasses.asdict(p) for p in queries.payouts(min(_int(args, "limit", 200), 10_000))]
        elif method == "entries_since":
            # Streamed in chunks: an export of a year of jobs need not be one giant answer line.
            chunk: list[list[Any]] = []
            count = 0
            for raw in queries.entries_since(_parse_when(args.get("since"), "since")):
                chunk.append(list(raw))
                if len(chunk) >= ENTRIES_CHUNK:
                    emit({"rows": chunk})
                    count, chunk = count + len(chunk), []
            if chunk:
                emit({"rows": chunk})
            value = count + len(chunk)
        else:
            raise ValueError(f"unknown command {command!r}")
    except (TypeError, KeyError) as exc:
        raise ValueError(f"bad arguments for {command}: {exc}") from None
    finally:
        queries.close()
    return {"value": value}


class RemoteEarnings:
    """EarningsQueries' methods, answered by the node (see `earnings_command`).

    While no node answers (it is starting, or gone) every question answers "nothing yet" instead of
    raising into a page: the pages show zeros and refresh when the link to the node comes back."""

    EMPTY: ClassVar[Mapping[str, Any]] = {
        "totals": {"today": 0, "last_7_days": 0, "last_30_days": 0, "all_time": 0},
        "period_start": None,
        "per_day": [],
        "hourly": [],
        "per_gpu": [],
        "energy_since": 0,
        "row_count": 0,
        "page": [],
        "recent_earnings": [0, 0],
        "payout_state": {"pending": 0, "paid": 0, "next_payout_at": None},
        "payouts": [],
    }

    def __init__(self, call: Call) -> None:
        self._call = call

    def _ask(self, method: str, **args: Any) -> Any:
        from hostapp.control.transport import ControlError

        try:
            return self._call(EARNINGS_PREFIX + method, args, None)["value"]
        except ControlError as exc:
            log.info("earnings %s not answered (%s): showing nothing yet", method, exc)
            return copy.deepcopy(self.EMPTY[method])

    def totals(self, now: dt.datetime) -> Totals:
        return Totals(**self._ask("totals", now=_when(now)))

    def period_start(self, period: Period, now: dt.datetime) -> dt.datetime | None:
        return _parse_when(self._ask("period_start", period=period.value, now=_when(now)), "period_start")

    def per_day(self, since: dt.datetime | None, zone: dt.tzinfo | None = None) -> list[DayTotal]:
        # `zone`: the node runs on this machine, in the same local zone the tray would pass.
        rows = self._ask("per_day", since=_when(since))
        return [DayTotal(**{**r, "day": dt.date.fromisoformat(r["day"])}) for r in rows]

    def hourly(self, since: dt.datetime) -> list[tuple[int, int]]:
        return [(int(h), int(a)) for h, a in self._ask("hourly", since=_when(since))]

    def per_gpu(self, since: dt.datetime | None) -> list[GpuTotal]:
        return [GpuTotal(**r) for r in self._ask("per_gpu", since=_when(since))]

    def energy_since(self, since: dt.datetime | None) -> int:
        return int(self._ask("energy_since", since=_when(since)))

    def row_count(self) -> int:
        return int(self._ask("row_count"))

    def page(self, offset: int, limit: int) -> list[LedgerRow]:
        return [LedgerRow(**r) for r in self._ask("page", offset=offset, limit=limit)]

    def recent_earnings(self, now: float, window_seconds: int) -> tuple[int, int]:
        earned, covered = self._ask("recent_earnings", now=now, window_seconds=window_seconds)
        return int(earned), int(covered)

    def payout_state(self) -> PayoutState:
        return PayoutState(**self._ask("payout_state"))

    def payouts(self, limit: int = 200) -> list[PayoutEntry]:
        return [PayoutEntry(**r) for r in self._ask("payouts", limit=limit)]

    def entries_since(self, since: dt.datetime | None) -> Iterator[list[Any]]:
        rows: list[list[Any]] = []
        self._call(EARNINGS_PREFIX + "entries_since", {"since": _when(since)}, lambda e: rows.extend(e["rows"]))
        return iter(rows)

    def close(self) -> None:
        """Nothing held: each question is its own request."""
