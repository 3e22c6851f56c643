"""Thread-safe event bus: the core publishes, listeners (GUI bridge, CLI, tests) subscribe.

Handlers run on the publishing thread; the GUI bridge re-emits as queued Qt signals, so no
worker thread ever touches a widget. A failing handler is logged and never breaks the publisher.

Every publish is checked against the topic's declared type (hostapp/events/topics.py). A *strict* bus
(HOSTAPP_STRICT_EVENTS=1, which the test suite sets) raises on a mismatch, so a renamed field or
an undeclared topic fails the test that publishes it. In production the bus logs the mismatch
once per topic and problem and still delivers the event: the mismatch is a bug in hostapp, and
raising would turn it into an outage of the publisher (a node slot thread, the telemetry loop)
while dropping the event would hide a state change from the tray.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

WILDCARD = "*"
STRICT_ENV = "HOSTAPP_STRICT_EVENTS"


@dataclass(frozen=True)
class Event:
    topic: str
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Event], None]


class EventBus:
    def __init__(self, strict: bool | None = None) -> None:
        """`strict`: raise on a publish that breaks its topic's type (default: HOSTAPP_STRICT_EVENTS=1)."""
        self._lock = threading.Lock()
        self._handlers: dict[str, list[Handler]] = {}
        self.strict = os.environ.get(STRICT_ENV) == "1" if strict is None else strict
        self._reported: set[str] = set()

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
        self._check(topic, data)
        event = Event(topic, data)
        with self._lock:
            handlers = [*self._handlers.get(topic, ()), *self._handlers.get(WILDCARD, ())]
        self._run(handlers, event)

    def deliver(self, topic: str, data: dict[str, Any]) -> None:
        """An event checked where it was published (the node, whose events reach the tray over the
        control socket): handed to the subscribers as it came, without loading the contracts here."""
        event = Event(topic, data)
        with self._lock:
            handlers = [*self._handlers.get(topic, ()), *self._handlers.get(WILDCARD, ())]
        self._run(handlers, event)

    def _run(self, handlers: list[Handler], event: Event) -> None:
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler for %s failed", event.topic)

    def _check(self, topic: str, data: dict[str, Any]) -> None:
        from hostapp.events.topics import EventContractError, check  # loaded on the first publish

        try:
            check(topic, data)
        except EventContractError as exc:
            if self.strict:
                raise
            problem = str(exc)
            with self._lock:
                first = problem not in self._reported
                self._reported.add(problem)
            if first:
                log.error("%s (delivered anyway; reported once)", problem)
