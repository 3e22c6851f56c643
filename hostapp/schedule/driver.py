"""Re-evaluates the availability policy when its answer can change, and tells the node.

When: at the decision's `next_change` (an APScheduler DateTrigger: coalesced, one instance, with a
misfire grace so a late wake-up still runs it), on a periodic safety tick (which also polls idle
time), whenever an event source calls `request(cause)` (telemetry, foreign processes, idle), and
after a clock jump (suspend/resume or a manual clock change): the tick compares how far the wall
clock moved with how far the monotonic clock moved.

Evaluations are serialized by one lock; `on_decision` and the "schedule.decision" event fire only
when the decision differs from the previous one, in order, on the thread that evaluated.
Clocks and the evaluator are injected, so tests drive it with a fake clock and a paused scheduler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from hostapp.events import Event, EventBus
from hostapp.schedule.clock import system_now
from hostapp.schedule.policy import AvailabilityPolicy, Decision, Inputs, evaluate

log = logging.getLogger(__name__)

DECISION_TOPIC = "schedule.decision"
CLOCK_JUMP_TOPIC = "schedule.clock_jump"
NEXT_CHANGE_JOB = "schedule.next_change"
TICK_JOB = "schedule.tick"

Evaluator = Callable[[datetime, Decision | None], Decision]


def policy_evaluator(policy: Callable[[], AvailabilityPolicy], inputs: Callable[[datetime], Inputs]) -> Evaluator:
    """Glue for the node: read the current policy and measurements, then evaluate purely."""

    def run(now: datetime, previous: Decision | None) -> Decision:
        return evaluate(policy(), inputs(now), now, previous)

    return run


class ScheduleDriver:
    def __init__(
        self,
        evaluator: Evaluator,
        on_decision: Callable[[Decision], None] | None = None,
        *,
        bus: EventBus | None = None,
        now: Callable[[], datetime] = system_now,
        monotonic: Callable[[], float] = time.monotonic,
        tick_seconds: float = 15.0,
        jump_tolerance_seconds: float = 5.0,
        misfire_grace_seconds: int = 300,
        scheduler: Any = None,
    ) -> None:
        self._evaluator = evaluator
        self._on_decision = on_decision
        self._bus = bus
        self._now = now
        self._monotonic = monotonic
        self._tick_seconds = tick_seconds
        self._jump_tolerance = jump_tolerance_seconds
        self._misfire_grace = misfire_grace_seconds
        self._scheduler = scheduler
        self._owns_scheduler = scheduler is None
        # Re-entrant: on_decision may call request() from the same thread without deadlock.
        self._lock = threading.RLock()
        self._decision: Decision | None = None
        self._clock_mark: tuple[datetime, float] | None = None
        self._unsubscribes: list[Callable[[], None]] = []

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Decision:
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        if self._scheduler is None:
            self._scheduler = BackgroundScheduler(timezone=UTC)
        self._scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self._tick_seconds, timezone=UTC),
            id=TICK_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(self._tick_seconds)),
        )
        if not self._scheduler.running:
            self._scheduler.start()
        return self.reevaluate("start")

    def stop(self) -> None:
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        self._unsubscribes.clear()
        if self._scheduler is not None and self._owns_scheduler and self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def subscribe(self, bus: EventBus, topics: Iterable[str]) -> None:
        """Re-evaluate whenever one of `topics` is published (telemetry, processes, idle)."""

        def handler(event: Event) -> None:
            self.request(event.topic)

        for topic in topics:
            self._unsubscribes.append(bus.subscribe(topic, handler))

    # -- evaluation -----------------------------------------------------------------------

    @property
    def decision(self) -> Decision | None:
        return self._decision

    def request(self, cause: str) -> Decision:
        """Re-evaluate now, from any thread (event sources call this)."""
        return self.reevaluate(cause)

    def reevaluate(self, cause: str, at: datetime | None = None) -> Decision:
        with self._lock:
            if self._clock_jumped():
                cause = f"{cause}+clock-jump"
            now = self._now()
            if at is not None and at > now:
                # The scheduler fired a hair early by our clock: decide for the planned instant.
                now = at
            previous = self._decision
            decision = self._evaluator(now, previous)
            self._decision = decision
            self._plan(decision.next_change)
            if previous is None or _changed(previous, decision):
                log.info("schedule (%s): %s", cause, decision.headline)
                if self._on_decision is not None:
                    self._on_decision(decision)
                if self._bus is not None:
                    self._bus.publish(DECISION_TOPIC, decision=decision, cause=cause)
            return decision

    def tick(self) -> Decision:
        """The safety tick: re-evaluate (this also polls idle time) and catch clock jumps."""
        return self.reevaluate("tick")

    def _fire(self, planned: datetime) -> None:
        self.reevaluate("next-change", at=planned)

    def _plan(self, next_change: datetime | None) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        if next_change is None:
            if scheduler.get_job(NEXT_CHANGE_JOB) is not None:
                scheduler.remove_job(NEXT_CHANGE_JOB)
            return
        from apscheduler.triggers.date import DateTrigger

        planned = next_change.astimezone(UTC)
        scheduler.add_job(
            self._fire,
            DateTrigger(run_date=planned, timezone=UTC),
            args=(planned,),
            id=NEXT_CHANGE_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=self._misfire_grace,
        )

    def _clock_jumped(self) -> bool:
        """True when the wall clock moved differently from the monotonic clock since the last look."""
        wall, mono = self._now(), self._monotonic()
        mark, self._clock_mark = self._clock_mark, (wall, mono)
        if mark is None:
            return False
        expected = mark[0] + timedelta(seconds=mono - mark[1])
        drift = (wall - expected).total_seconds()
        if abs(drift) <= self._jump_tolerance:
            return False
        log.info("clock jumped by %+.0f s (suspend/resume or clock change): re-evaluating", drift)
        if self._bus is not None:
            self._bus.publish(CLOCK_JUMP_TOPIC, drift_seconds=drift)
        return True


def _changed(previous: Decision, current: Decision) -> bool:
    """A new answer for the node or the user; the evaluation time alone is not a change."""
    return (
        previous.available != current.available
        or previous.reasons != current.reasons
        or previous.gpus != current.gpus
        or previous.next_change != current.next_change
        or previous.cell != current.cell
    )
