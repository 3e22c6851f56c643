"""The node's outbox: results it owes a grid, kept in its own store until the grid has answered.

A result goes into the store's `outbox` table before it is sent and leaves it only once the grid
answered (accepted, or refused for good), so a result survives the grid being down and the app
being killed. The grid keys results by (job_id, attempt), so delivering one twice is harmless: it
is credited once. The outbox is the node's, not a backend's: a `GridBackend` only delivers one
result (`deliver_result`), whichever grid it speaks to.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import ValidationError

from hostapp.grid.client import GridRejected, GridUnavailable
from hostapp.grid.models import JobResult, ResultAccepted

if TYPE_CHECKING:
    from hostapp.store import Store

log = logging.getLogger(__name__)


class ResultSink(Protocol):
    """What the outbox needs of a grid (a `GridBackend` is one)."""

    def deliver_result(self, job_id: str, attempt: int, result: JobResult) -> ResultAccepted: ...


@dataclass(frozen=True)
class SubmitOutcome:
    delivered: bool  # False: kept in the outbox, `Outbox.flush()` sends it later
    accepted: ResultAccepted | None = None


@dataclass(frozen=True)
class FlushReport:
    delivered: int
    rejected: int
    remaining: int


class Outbox:
    def __init__(self, store: Store, grid: ResultSink) -> None:
        self.store = store
        self.grid = grid
        self._lock = threading.Lock()  # one flush at a time: the slot loop and the sync both flush

    def submit(self, job_id: str, attempt: int, result: JobResult) -> SubmitOutcome:
        """Keeps the result, then delivers it; raises GridRejected when the grid refuses it for good
        (it is dropped: retrying would never help). Unreachable grid: kept, delivered=False."""
        self.store.execute(
            "INSERT OR IGNORE INTO outbox (job_id, attempt, payload, created_at) VALUES (?, ?, ?, ?)",
            (job_id, attempt, result.model_dump_json(), time.time()),
        )
        try:
            return SubmitOutcome(delivered=True, accepted=self._deliver(job_id, attempt, result))
        except GridUnavailable:
            return SubmitOutcome(delivered=False)

    def flush(self) -> FlushReport:
        """Sends every kept result, oldest first; stops at the first sign the grid is still unreachable."""
        delivered = rejected = 0
        with self._lock:
            rows = self.store.query("SELECT job_id, attempt, payload FROM outbox ORDER BY created_at")
            for row in rows:
                job_id, attempt = str(row["job_id"]), int(row["attempt"])
                try:
                    result = JobResult.model_validate_json(row["payload"])
                except ValidationError as exc:  # written by a version whose wire model differed
                    log.warning("dropping unreadable result of %s attempt %d from the outbox: %s", job_id, attempt, exc)
                    self._drop(job_id, attempt)
                    rejected += 1
                    continue
                try:
                    self._deliver(job_id, attempt, result)
                except GridUnavailable:
                    break
                except GridRejected:
                    rejected += 1
                    continue
                delivered += 1
        return FlushReport(delivered, rejected, self.size())

    def size(self) -> int:
        return int(self.store.query("SELECT COUNT(*) FROM outbox")[0][0])

    def _deliver(self, job_id: str, attempt: int, result: JobResult) -> ResultAccepted:
        try:
            accepted = self.grid.deliver_result(job_id, attempt, result)
        except GridRejected:
            # The grid will never take this result (its lease is unknown, or another attempt won):
            # keeping it would retry forever. The backend published the rejection with its reason.
            self._drop(job_id, attempt)
            raise
        except GridUnavailable as exc:
            self.store.execute(
                "UPDATE outbox SET tries = tries + 1, last_error = ? WHERE job_id = ? AND attempt = ?",
                (str(exc)[:500], job_id, attempt),
            )
            raise
        self._drop(job_id, attempt)
        return accepted

    def _drop(self, job_id: str, attempt: int) -> None:
        self.store.execute("DELETE FROM outbox WHERE job_id = ? AND attempt = ?", (job_id, attempt))
