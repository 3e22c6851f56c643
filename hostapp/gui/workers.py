"""Runs blocking calls (doctor, wallet network, CSV export) off the GUI thread.

The result comes back through a queued signal on a QObject that lives in the GUI thread,
so callbacks may touch widgets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Relay(QObject):
    """Lives in the GUI thread; the worker emits `_finished`, queued to `_deliver` on the GUI thread."""

    _finished = Signal(bool, object)

    def __init__(self, on_done: Callable[[Any], None], on_error: Callable[[Exception], None]) -> None:
        super().__init__()
        self._on_done = on_done
        self._on_error = on_error
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @Slot(bool, object)
    def _deliver(self, ok: bool, value: Any) -> None:
        _live.discard(self)
        if ok:
            self._on_done(value)
        else:
            self._on_error(value)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:
            log.info("background task failed: %s", exc)
            self._relay._finished.emit(False, exc)
        else:
            self._relay._finished.emit(True, result)


_live: set[_Relay] = set()


def run_in_background(
    fn: Callable[[], T],
    on_done: Callable[[T], None],
    on_error: Callable[[Exception], None],
    pool: QThreadPool | None = None,
) -> None:
    relay = _Relay(on_done, on_error)  # created on the GUI thread: it delivers there
    _live.add(relay)  # kept alive until delivered
    (pool or QThreadPool.globalInstance()).start(_Task(fn, relay))


def wait_for_background(timeout_ms: int = 30_000) -> bool:
    """Tests and shutdown: let running tasks finish."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)
