"""Job outputs on the host (data/jobs/<job>/<attempt>/<op>): what they may take, and when they go.

A grid job's output never leaves the machine (the grid gets the file names only), so by default it is
deleted as soon as the job's result is delivered (`outputs.keep_days` = 0; the node's ledger row leaving
`running` says so). Outputs of `hostapp run-job` are the user's and stay `outputs.local_keep_days`.
All kept outputs together stay within `outputs.budget_mb`: each op's copy is capped by what is left of
it, and `sweep()` deletes expired outputs, then the oldest, until they fit (never a running job's).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hostapp.config.settings import OutputSettings
from hostapp.events import Event
from hostapp.jobs.journal import UNFINISHED, JobJournal
from hostapp.store import Store

log = logging.getLogger(__name__)

DAY_SECONDS = 86_400
DELIVERED_STATES = frozenset({"credited", "paid", "failed"})  # ledger states after the grid had its answer


@dataclass(frozen=True)
class OutputUsage:
    bytes: int
    entries: int
    jobs: int
    budget_bytes: int

    @property
    def percent(self) -> int:
        return min(100, self.bytes * 100 // self.budget_bytes) if self.budget_bytes else 100


@dataclass(frozen=True)
class ByteCap:
    bytes: int
    setting: str  # the setting that decided it, for the reason a truncated output gets


class JobOutputs:
    def __init__(
        self,
        jobs_dir: Path,
        settings: OutputSettings | Callable[[], OutputSettings],
        store: Store,
        active: Callable[[], set[str]] = set,
    ) -> None:
        """`settings` may be a getter, so an edit saved in the Settings page applies to the next op."""
        self.jobs_dir = jobs_dir
        self._settings = settings if callable(settings) else (lambda: settings)
        self._store = store
        self._active = active  # job ids running now: never swept

    @property
    def settings(self) -> OutputSettings:
        return self._settings()

    @settings.setter
    def settings(self, value: OutputSettings) -> None:
        self._settings = lambda: value

    # ------------------------------------------------------------ sizes

    def usage(self) -> OutputUsage:
        size, entries = _tree_size(self.jobs_dir)
        jobs = sum(1 for entry in _scandir(self.jobs_dir) if entry.is_dir(follow_symlinks=False))
        return OutputUsage(size, entries, jobs, self.settings.budget_mb * 1_048_576)

    def byte_cap(self, job_id: str, attempt: int, op_bytes: int) -> ByteCap:
        """How many bytes the next op of this attempt may copy out: the least of the three limits."""
        job_used, _ = _tree_size(self.jobs_dir / job_id / str(attempt))
        host_left = self.settings.budget_mb * 1_048_576 - self.usage().bytes
        caps = [
            ByteCap(op_bytes, "jobs.output_bytes"),
            ByteCap(max(0, self.settings.max_bytes_per_job - job_used), "outputs.max_bytes_per_job"),
            ByteCap(max(0, host_left), "outputs.budget_mb"),
        ]
        return min(caps, key=lambda cap: cap.bytes)

    # ------------------------------------------------------------ deleting

    def delete(self, job_id: str, attempt: int | None = None) -> bool:
        """Remove one attempt's outputs (all attempts when `attempt` is None); True if something went."""
        if not job_id or "/" in job_id or job_id in (".", ".."):
            return False
        target = self.jobs_dir / job_id if attempt is None else self.jobs_dir / job_id / str(attempt)
        if not target.exists() or target.is_symlink():
            return False
        shutil.rmtree(target, ignore_errors=True)
        parent = self.jobs_dir / job_id
        if attempt is not None and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
        return True

    def on_ledger_changed(self, event: Event) -> None:
        """Bus handler for `ledger.changed`: a grid job's outputs go once its result was answered."""
        if self.settings.keep_days or event.data.get("status") not in DELIVERED_STATES:
            return
        job_id, attempt = event.data.get("job_id"), event.data.get("attempt")
        if isinstance(job_id, str) and isinstance(attempt, int) and job_id not in self._active():
            try:
                self.delete(job_id, attempt)
            except OSError as exc:  # the next sweep tries again
                log.warning("could not delete the outputs of %s/%s: %s", job_id, attempt, exc)

    def sweep(self, now: float | None = None) -> list[str]:
        """Delete expired outputs, then the oldest ones until all fit the budget; returns the job ids removed."""
        now = time.time() if now is None else now
        active = self._active()
        jobs = []
        for job_id in self._job_ids():
            age = None if job_id in active else self._age_and_expiry(job_id, now)
            if age is not None:  # running here or in another hostapp process: never touched
                jobs.append((job_id, *age))
        removed = []
        for job_id, _ended, expired in jobs:
            if expired and self.delete(job_id):
                removed.append(job_id)
        budget = self.settings.budget_mb * 1_048_576
        used = self.usage().bytes
        for job_id, _ended, _expired in sorted(jobs, key=lambda job: job[1]):
            if used <= budget:
                break
            if job_id in removed:
                continue
            size, _ = _tree_size(self.jobs_dir / job_id)
            if self.delete(job_id):
                removed.append(job_id)
                used -= size
        if removed:
            log.info("job outputs removed (expired or over outputs.budget_mb): %s", ", ".join(removed[:20]))
        return removed

    def _job_ids(self) -> list[str]:
        return [entry.name for entry in _scandir(self.jobs_dir) if entry.is_dir(follow_symlinks=False)]

    def _age_and_expiry(self, job_id: str, now: float) -> tuple[float, bool] | None:
        """(when the job ended, whether its outputs are past their keep time); None while it runs."""
        rows = JobJournal(self._store).attempts(job_id)
        if rows:
            ended = max(float(row.ended_at or 0.0) for row in rows)
            running = any(row.status in UNFINISHED for row in rows)
            local = any(row.source == "local" for row in rows)
        else:  # no record (a wiped database): the folder's own age
            try:
                ended = (self.jobs_dir / job_id).stat().st_mtime
            except OSError:
                ended = now
            running, local = False, False
        if running:
            return None
        delivery = None if local else self._delivery(job_id)
        if delivery == "pending":
            return ended, False
        # A grid job run without a node (no ledger row: a bare runner) is kept like a local one.
        days = self.settings.keep_days if delivery == "answered" else self.settings.local_keep_days
        return ended, now - ended >= days * DAY_SECONDS

    def _delivery(self, job_id: str) -> str | None:
        """ "pending" (in the outbox, or a ledger row the grid has not answered), "answered", or None (no row)."""
        if self._store.query("SELECT 1 FROM outbox WHERE job_id = ? LIMIT 1", (job_id,)):
            return "pending"
        rows = self._store.query("SELECT status FROM ledger WHERE job_id = ?", (job_id,))
        if not rows:
            return None
        return "pending" if any(row["status"] == "running" for row in rows) else "answered"


def _scandir(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return list(entries)
    except OSError:
        return []


def _tree_size(path: Path) -> tuple[int, int]:
    """(bytes of regular files, entries) below `path`, links not followed."""
    size = entries = 0
    stack = [path]
    while stack:
        for entry in _scandir(stack.pop()):
            entries += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    size += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return size, entries
