"""The ledger's write side: one row per job attempt, amounts in token base units (integers).

Rows move running → credited → paid, or running → failed. Totals on screen are sums of these
rows (hostapp/earnings reads them); nothing else keeps a running balance that could drift.
`Ledger` is the only code that writes ledger rows. After every write that changed a row it
publishes `ledger.changed` (job_id, attempt, status, amount) on the bus, so views refresh when
the money changes, not when a job merely finished. What the grid may write through it is
decided in hostapp/node/settlement.py.
"""

from __future__ import annotations

import time

from hostapp.earnings.rows import NEXT_PAYOUT_KEY, SELECT_ROWS, LedgerRow, row_of
from hostapp.events import EventBus
from hostapp.grid.billing import billed_amount as billed_amount  # the wire's price contract, re-exported
from hostapp.store import Store

CHANGED_TOPIC = "ledger.changed"


class Ledger:
    def __init__(self, store: Store, bus: EventBus | None = None) -> None:
        self._store = store
        self._bus = bus

    def _write(self, job_id: str, attempt: int, sql: str, params: tuple[object, ...]) -> bool:
        """Runs one row's write; when it changed the row, publishes ledger.changed with the row's new state."""
        changed = self._store.execute(sql, params).rowcount > 0
        row = self.get(job_id, attempt) if changed and self._bus is not None else None
        if row is not None and self._bus is not None:
            self._bus.publish(
                CHANGED_TOPIC,
                job_id=job_id,
                attempt=attempt,
                status=row.status,
                amount=None if row.status == "running" else row.amount,  # nothing is earned while it runs
            )
        return changed

    def start(
        self,
        job_id: str,
        attempt: int,
        gpu_uuid: str | None,
        rate_per_second: int,
        started_at: float | None = None,
        timeout_seconds: int | None = None,
    ) -> bool:
        """Open the attempt's row; starting the same attempt twice keeps the first row (restarts)."""
        return self._write(
            job_id,
            attempt,
            "INSERT INTO ledger (job_id, attempt, gpu_uuid, started_at, rate_per_second, status, timeout_seconds) "
            "VALUES (?, ?, ?, ?, ?, 'running', ?) ON CONFLICT (job_id, attempt) DO NOTHING",
            (
                job_id,
                attempt,
                gpu_uuid,
                started_at if started_at is not None else time.time(),
                rate_per_second,
                timeout_seconds,
            ),
        )

    def credit(
        self, job_id: str, attempt: int, seconds_billed: int, amount: int, ended_at: float | None = None
    ) -> bool:
        """The grid accepted the result and credited `amount` (bounds checked by hostapp/node/settlement.py)."""
        return self._write(
            job_id,
            attempt,
            "UPDATE ledger SET status = 'credited', seconds_billed = ?, amount = ?, ended_at = ?, reason = NULL "
            "WHERE job_id = ? AND attempt = ? AND status IN ('running', 'failed')",
            (seconds_billed, amount, ended_at if ended_at is not None else time.time(), job_id, attempt),
        )

    def fail(self, job_id: str, attempt: int, reason: str, ended_at: float | None = None) -> bool:
        return self._write(
            job_id,
            attempt,
            "UPDATE ledger SET status = 'failed', reason = ?, ended_at = ?, amount = 0 "
            "WHERE job_id = ? AND attempt = ? AND status = 'running'",
            (reason, ended_at if ended_at is not None else time.time(), job_id, attempt),
        )

    def set_energy(self, job_id: str, attempt: int, energy_mwh: int) -> bool:
        """Energy the GPU drew during the attempt (milliwatt-hours, measured), for earnings net of electricity."""
        return self._write(
            job_id,
            attempt,
            "UPDATE ledger SET energy_mwh = ? WHERE job_id = ? AND attempt = ?",
            (energy_mwh, job_id, attempt),
        )

    def mark_paid(self, job_id: str, attempt: int, signature: str) -> bool:
        """Only after the chain confirmed the transfer (hostapp/node/settlement.py checks it before calling this)."""
        return self._write(
            job_id,
            attempt,
            "UPDATE ledger SET status = 'paid', payout_signature = ? "
            "WHERE job_id = ? AND attempt = ? AND status = 'credited'",
            (signature, job_id, attempt),
        )

    def set_next_payout(self, at: float | None) -> None:
        """The grid's next payout try for this node's unpaid credits (shown as "next payout")."""
        self._store.set_kv(NEXT_PAYOUT_KEY, "" if at is None else str(int(at)))

    def next_payout(self) -> float | None:
        value = self._store.get_kv(NEXT_PAYOUT_KEY)
        return float(value) if value else None

    def signature_used(self, signature: str, other_than: tuple[str, int]) -> bool:
        """Whether another attempt's row already names this payout signature."""
        rows = self._store.query(
            "SELECT 1 FROM ledger WHERE payout_signature = ? AND NOT (job_id = ? AND attempt = ?) LIMIT 1",
            (signature, *other_than),
        )
        return bool(rows)

    def running(self) -> list[LedgerRow]:
        return self._rows("WHERE status = 'running' ORDER BY started_at")

    def get(self, job_id: str, attempt: int) -> LedgerRow | None:
        rows = self._rows("WHERE job_id = ? AND attempt = ?", (job_id, attempt))
        return rows[0] if rows else None

    def total(self, statuses: tuple[str, ...] = ("credited", "paid")) -> int:
        marks = ",".join("?" * len(statuses))
        # The hourly summary (kept exact by triggers, migration 4): a few thousand rows, not the whole ledger.
        row = self._store.query(
            f"SELECT COALESCE(SUM(amount), 0) FROM ledger_hourly WHERE status IN ({marks})",  # noqa: S608
            statuses,
        )
        return int(row[0][0])

    def _rows(self, where: str, params: tuple[object, ...] = ()) -> list[LedgerRow]:
        # `where` is always one of this class's literal clauses; values go through parameters.
        rows = self._store.query(SELECT_ROWS + where, params)
        return [row_of(r) for r in rows]
