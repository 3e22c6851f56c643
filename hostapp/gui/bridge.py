"""The one crossing from core threads to the GUI thread: EventBus events re-emitted as Qt signals.

Core services publish on their own worker threads. A Qt signal emitted from a worker thread
runs a slot directly on that thread unless the connection is queued, and a plain Python
callable connected without a receiver object would do exactly that. So the bus handler only
emits a private signal into a *queued* connection to the bridge itself, and the public
`received` signal is emitted from the GUI thread: every listener of `received` runs there, however
it was connected.

The payload travels as `object`, not `dict`: PySide6 converts a `dict` signal argument to a
QVariantMap, which silently drops non-string keys and overflows integers above 2**63 (token
amounts are integers in base units and must arrive exactly).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance, Slot

from hostapp.events import WILDCARD, Event, EventBus

log = logging.getLogger(__name__)


class EventBridge(QObject):
    """Subscribes "*" on the bus; `received(topic, data)` fires on the GUI thread for every event.

    (Not named `event`: that would shadow QObject.event(), the virtual Qt delivers queued calls through.)
    """

    received = Signal(str, object)
    _incoming = Signal(str, object)

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bus = bus
        self._incoming.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(WILDCARD, self._forward)

    def _forward(self, event: Event) -> None:
        # Runs on the publisher's thread: touch nothing but the queued signal.
        try:
            self._incoming.emit(event.topic, dict(event.data))
        except RuntimeError:
            # The C++ side is gone (app shutting down) while a worker still publishes.
            pass

    @Slot(str, object)
    def _deliver(self, topic: str, data: dict[str, Any]) -> None:
        self.received.emit(topic, data)

    def on(self, topic: str, receiver: QObject, handler: Callable[[dict[str, Any]], None]) -> None:
        """Call `handler(data)` for one topic (or a "prefix.*" family); it stops when `receiver` dies."""

        def dispatch(event_topic: str, data: dict[str, Any]) -> None:
            if _matches(topic, event_topic):
                handler(data)

        # PySide6 has no context-object connect for plain callables: disconnect on destroy.
        self.received.connect(dispatch)
        receiver.destroyed.connect(lambda: _safe_disconnect(self.received, dispatch))

    def close(self) -> None:
        """Stop listening to the bus (at shutdown, before the QObject goes)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


def _matches(pattern: str, topic: str) -> bool:
    if pattern == WILDCARD or pattern == topic:
        return True
    return pattern.endswith(".*") and topic.startswith(pattern[:-1])


def _safe_disconnect(signal: SignalInstance, slot: Callable[..., None]) -> None:
    try:
        signal.disconnect(slot)
    except (RuntimeError, TypeError):
        pass
