"""Thread-safe event bus: the core publishes, listeners (GUI bridge, CLI, tests) subscribe.

Handlers run on the publishing thread; the GUI bridge re-emits as queued Qt signals, so no
worker thread ever touches a widget. A failing handler is logged and never breaks the publisher.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

WILDCARD = "*"


@dataclass(frozen=True)
class Event:
    topic: str
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[str, list[Handler]] = {}

    def subscribe(self, topic: str, handler: Handler) -> Callable[[], None]:
        """Call `handler` for `topic` (or every topic with "*"); returns an unsubscribe function."""
        with self._lock:
            self._handlers.setdefault(topic, []).append(handler)

        def unsubscribe() -> None:
            with self._lock:
                handlers = self._handlers.get(topic, [])
                if handler in handlers:
                    handlers.remove(handler)

        return unsubscribe

    def publish(self, topic: str, **data: Any) -> None:
        event = Event(topic, data)
        with self._lock:
            handlers = [*self._handlers.get(topic, ()), *self._handlers.get(WILDCARD, ())]
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler for %s failed", topic)
