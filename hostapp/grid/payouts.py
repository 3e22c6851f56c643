"""Pays credited job attempts to the node's payout address, in a worker thread, retrying failures.

A credit is written with its result in one transaction; paying it is a separate step so a slow
or unavailable chain never holds up a node's result call. `mark_paid` only fills an empty
signature, so one credit is never paid twice by this grid.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from hostapp.grid.grid_store import GridStore

log = logging.getLogger(__name__)


class PayoutSink(Protocol):
    """Where money comes from: the local chain (hostapp.chain.LocalChain) or a real treasury."""

    def pay(self, owner: str, amount: int) -> str:
        """Transfer `amount` token base units to `owner`'s token account; returns the transaction signature."""
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

    def pay_pending(self) -> int:
        """Pays what is owed; returns how many payouts failed (to be retried)."""
        failed = 0
        for credit in self._store.unpaid_credits():
            if self._stopping.is_set():
                break
            try:
                signature = self._sink.pay(credit.payout_address, credit.amount)
            except Exception as exc:
                log.warning("payout of %d to %s failed: %s", credit.amount, credit.payout_address, exc)
                self._store.mark_payout_failed(credit.job_id, credit.attempt, str(exc))
                failed += 1
                continue
            self._store.mark_paid(credit.job_id, credit.attempt, signature, time.time())
        return failed

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                failed = self.pay_pending()
            except Exception:
                log.exception("payout worker failed")
                failed = 1
            if failed:
                self._stopping.wait(self._retry_seconds)
                self._wake.set()
