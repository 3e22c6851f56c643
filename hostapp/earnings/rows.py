"""The ledger's row shape and how it is read: shared by the node (which alone writes the ledger,
hostapp/node/ledger.py), the earnings queries and the tray (which receives rows over the control socket)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

STATUSES = ("running", "credited", "paid", "failed")
NEXT_PAYOUT_KEY = "payouts.next_at"  # kv: unix time of the grid's next payout try ('' when nothing owed)


@dataclass(frozen=True)
class LedgerRow:
    """One job attempt, as stored (the columns of SELECT_ROWS, in order)."""

    id: int
    job_id: str
    attempt: int
    gpu_uuid: str | None
    started_at: float
    ended_at: float | None
    seconds_billed: int
    rate_per_second: int
    amount: int
    status: str
    reason: str | None
    payout_signature: str | None
    energy_mwh: int | None
    timeout_seconds: int | None = None  # the lease's timeout (NULL for attempts of older versions)

    @property
    def duration_seconds(self) -> int | None:
        return None if self.ended_at is None else max(0, int(self.ended_at - self.started_at))


SELECT_ROWS = (
    "SELECT id, job_id, attempt, gpu_uuid, started_at, ended_at, seconds_billed, rate_per_second, amount, "
    "status, reason, payout_signature, energy_mwh, timeout_seconds FROM ledger "
)


def row_of(record: Sequence[Any]) -> LedgerRow:
    """A LedgerRow from a row selected with SELECT_ROWS."""
    return LedgerRow(*tuple(record))


# Rows the node wrote from Nosana's chain (hostapp/nosana/earnings.py) carry this prefix in job_id.
NOSANA_JOB_PREFIX = "nosana:"
NOSANA_SOURCE = "Nosana (on chain)"


def source_of(job_id: str) -> str | None:
    """Where a row's money came from when not the grid's own credit ("Nosana (on chain)"), else None."""
    return NOSANA_SOURCE if job_id.startswith(NOSANA_JOB_PREFIX) else None
