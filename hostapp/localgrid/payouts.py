"""Pays credited job attempts to the node's payout address, in a worker thread, retrying failures.

A credit is written with its result in one transaction; paying it is a separate step so a slow
or unavailable chain never holds up a node's result call. One payout transaction per credit,
with a memo naming the job attempt (hostapp/chain/payouts.py), so no two payouts are the same
transaction. Paying never duplicates: the transaction is signed first and its signature stored
(`payout_pending`) before it is sent; a retry, even after a crash, first asks the chain whether
that transaction landed and only signs a new one when it did not. `mark_paid` only fills an
empty signature, so one credit is never paid twice by this grid.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from hostapp.chain.payouts import PreparedPayout, payout_memo
from hostapp.localgrid.store import Credit, GridStore

log = logging.getLogger(__name__)


class PayoutSink(Protocol):
    """Where money comes from: the local chain (hostapp.chain.LocalChain) or a real treasury."""

    def prepare_payout(self, owner: str, amount: int, memo: str | None = None) -> PreparedPayout:
        """A signed transfer of `amount` token base units to `owner`'s token account, not yet sent."""
        ...

    def send_payout(self, payout: PreparedPayout) -> str:
        """Sends it; returns the signature (also when it had already landed)."""
        ...

    def payout_landed(self, signature: str) -> bool:
        """Whether that transaction is on chain."""
        ...


class PayoutWorker:
    def __init__(self, store: GridStore, sink: PayoutSink, retry_seconds: float = 5.0) -> None:
        self._store = store
        self._sink = sink
        self._retry_seconds = retry_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grid-payouts", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._wake.set()  # credits left unpaid by a previous run

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def notify(self) -> None:
        self._wake.set()

    def pay_pending(self, now: float | None = None) -> int:
        """Pays what is owed and due; returns how many payouts failed (each retried after retry_seconds)."""
        failed = 0
        tried: set[tuple[str, int]] = set()  # each credit once per call: a failure waits for its retry time
        while not self._stopping.is_set():
            due = self._store.unpaid_credits(time.time() if now is None else now)
            fresh = [c for c in due if (c.job_id, c.attempt) not in tried]
            if not fresh:
                break
            for credit in fresh:
                if self._stopping.is_set():
                    break
                tried.add((credit.job_id, credit.attempt))
                if not self._pay(credit):
                    failed += 1
        return failed

    def _pay(self, credit: Credit) -> bool:
        try:
            if credit.payout_pending and self._sink.payout_landed(credit.payout_pending):
                # Sent before a crash or a lost reply: it landed, so it is paid; never pay it again.
                self._store.mark_paid(credit.job_id, credit.attempt, credit.payout_pending, time.time())
                return True
            prepared = self._sink.prepare_payout(
                credit.payout_address, credit.amount, payout_memo(credit.job_id, credit.attempt)
            )
            self._store.set_payout_pending(credit.job_id, credit.attempt, prepared.signature)
            signature = self._sink.send_payout(prepared)
        except Exception as exc:
            log.warning(
                "payout of %d for %s attempt %d failed (retry in %.0f s): %s",
                credit.amount,
                credit.job_id,
                credit.attempt,
                self._retry_seconds,
                exc,
            )
            self._store.mark_payout_failed(
                credit.job_id, credit.attempt, str(exc), retry_at=time.time() + self._retry_seconds
            )
            return False
        self._store.mark_paid(credit.job_id, credit.attempt, signature, time.time())
        return True

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.pay_pending()
                due = self._store.next_payout_due()
            except Exception:
                log.exception("payout worker failed")
                due = time.time() + self._retry_seconds
            if due is not None:  # failed payouts wait for their retry time (or an earlier notify)
                self._wake.wait(min(max(0.05, due - time.time()), self._retry_seconds))
                self._wake.set()
