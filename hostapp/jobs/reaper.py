"""Background removal of a finished job's containers, volumes and networks.

Removing a container and its volumes costs the engine tens of milliseconds (hundreds on a loaded
machine), and the engine does it while it creates and starts the next container, slowing that down.
Once the job's result, logs and output are taken nothing waits for the removal, so it is done here,
on one worker thread, *after the next container has started* (or after `HOLD_SECONDS` when no next
job comes): the engine's remove no longer sits between two jobs (docs/benchmarks.md, job-to-job gap).

Crash safety: a process that dies with removals still queued leaves exited containers and volumes
whose owner is gone and whose job record has ended; the next start's reconcile (recovery.py) removes
them. A clean exit removes what is queued at once (atexit, bounded).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

# ("container", id) | ("volume", name) | ("network", name), removed in the order given.
EngineObject = tuple[str, str]
HOLD_SECONDS = 2.0  # how long a removal waits for the next container to start
EXIT_DRAIN_SECONDS = 15.0


class Reaper:
    def __init__(
        self, remove: Callable[[list[EngineObject]], None], name: str = "job-reaper", hold_seconds: float = HOLD_SECONDS
    ) -> None:
        self._remove = remove
        self._name = name
        self._hold_seconds = hold_seconds
        self._queue: deque[tuple[list[EngineObject], int, float]] = deque()  # (objects, starts then, submitted)
        self._busy = 0  # batches queued or being removed
        self._starts = 0  # containers started so far (`started()`)
        self._urgent = 0  # drains in progress: no holding back
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None

    def submit(self, objects: list[EngineObject]) -> None:
        """Queue one job's objects for removal, in order (its containers before the volumes they use)."""
        if not objects:
            return
        with self._cond:
            self._queue.append((list(objects), self._starts, time.monotonic()))
            self._busy += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._worker.start()
                atexit.register(self.drain, EXIT_DRAIN_SECONDS)
            self._cond.notify_all()

    def started(self) -> None:
        """A container started: removals queued before it may go now without slowing its start."""
        with self._cond:
            self._starts += 1
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return self._busy

    def drain(self, timeout: float | None = None) -> bool:
        """Remove everything queued now (no holding back) and wait; False if `timeout` passed first."""
        with self._cond:
            self._urgent += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._busy == 0, timeout)
            finally:
                self._urgent -= 1

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue))
                objects, starts, submitted = self._queue[0]
                release_at = submitted + self._hold_seconds
                while not (self._urgent or self._starts > starts or time.monotonic() >= release_at):
                    self._cond.wait(max(0.0, release_at - time.monotonic()))
                self._queue.popleft()
            try:
                self._remove(objects)
            except Exception:  # one failed removal must not stop the others; recovery retries at start
                log.exception("background removal of %s failed", objects)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()
