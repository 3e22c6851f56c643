"""The driver: re-evaluation at window edges (fake clock, paused scheduler), events, clock jumps,
and one real-time run where a real BackgroundScheduler ends a snooze."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from hostapp.events import Event, EventBus
from hostapp.schedule.driver import (
    CLOCK_JUMP_TOPIC,
    DECISION_TOPIC,
    NEXT_CHANGE_JOB,
    TICK_JOB,
    ScheduleDriver,
    policy_evaluator,
)
from hostapp.schedule.grid import Preset
from hostapp.schedule.policy import AvailabilityPolicy, Decision, ForeignProcess, GpuInputs, Inputs, snooze_for

BERLIN = ZoneInfo("Europe/Berlin")
NIGHTS = AvailabilityPolicy(grid=Preset.NIGHTS_AND_WEEKENDS.grid(), timezone="Europe/Berlin")


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.wall = start
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds

    def set(self, instant: datetime) -> None:
        self.advance((instant - self.wall).total_seconds())

    def jump(self, seconds: float) -> None:
        """Wall time moves, monotonic does not: what suspend/resume looks like."""
        self.wall += timedelta(seconds=seconds)


@pytest.fixture
def paused_scheduler() -> Iterator[BackgroundScheduler]:
    # Jobs are planned (next_run_time is visible) but never run on their own: the test fires them.
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


def make_driver(
    clock: FakeClock, scheduler: BackgroundScheduler, inputs: dict[str, Inputs], bus: EventBus | None = None
) -> tuple[ScheduleDriver, list[Decision]]:
    seen: list[Decision] = []
    evaluator = policy_evaluator(lambda: NIGHTS, lambda now: inputs["now"])
    driver = ScheduleDriver(
        evaluator, seen.append, bus=bus, now=clock.now, monotonic=clock.monotonic, scheduler=scheduler
    )
    return driver, seen


def fire_next_change(scheduler: BackgroundScheduler) -> None:
    job = scheduler.get_job(NEXT_CHANGE_JOB)
    job.func(*job.args)


def test_reevaluates_at_each_window_edge(paused_scheduler: BackgroundScheduler) -> None:
    clock = FakeClock(datetime(2025, 1, 7, 12, 0, tzinfo=BERLIN))
    driver, seen = make_driver(clock, paused_scheduler, {"now": Inputs(idle_seconds=0.0)})
    first = driver.start()
    assert first.paused and seen == [first]
    assert paused_scheduler.get_job(TICK_JOB) is not None
    evening = datetime(2025, 1, 7, 18, 0, tzinfo=BERLIN)
    assert paused_scheduler.get_job(NEXT_CHANGE_JOB).next_run_time == evening

    clock.set(evening)
    fire_next_change(paused_scheduler)
    assert seen[-1].available
    morning = datetime(2025, 1, 8, 8, 0, tzinfo=BERLIN)
    assert paused_scheduler.get_job(NEXT_CHANGE_JOB).next_run_time == morning

    clock.set(morning - timedelta(milliseconds=5))  # the scheduler fired a hair early by our clock
    fire_next_change(paused_scheduler)
    assert seen[-1].paused and seen[-1].at == morning


def test_only_changes_are_reported(paused_scheduler: BackgroundScheduler) -> None:
    clock = FakeClock(datetime(2025, 1, 7, 20, 0, tzinfo=BERLIN))
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(DECISION_TOPIC, events.append)
    driver, seen = make_driver(clock, paused_scheduler, {"now": Inputs(idle_seconds=0.0)}, bus)
    driver.start()
    clock.advance(15)
    driver.tick()
    clock.advance(15)
    driver.tick()
    assert len(seen) == 1 and len(events) == 1
    assert events[0].data["decision"] is seen[0] and events[0].data["cause"] == "start"


def test_events_trigger_reevaluation_between_edges(paused_scheduler: BackgroundScheduler) -> None:
    clock = FakeClock(datetime(2025, 1, 7, 20, 0, tzinfo=BERLIN))
    inputs = {"now": Inputs(idle_seconds=0.0, gpus={"0": GpuInputs()})}
    bus = EventBus()
    driver, seen = make_driver(clock, paused_scheduler, inputs, bus)
    driver.subscribe(bus, ["gpu.foreign_use_started", "gpu.foreign_use_stopped"])
    driver.start()
    game = ForeignProcess("eldenring.exe", since=clock.now() - timedelta(minutes=5))
    inputs["now"] = Inputs(idle_seconds=0.0, gpus={"0": GpuInputs(processes=(game,))})
    bus.publish("gpu.foreign_use_started", gpu_uuid="0", processes=["eldenring.exe"], pids=[4242], graphics=True)
    assert seen[-1].paused and seen[-1].headline == "Paused — game running: eldenring.exe"
    driver.stop()
    inputs["now"] = Inputs(idle_seconds=0.0, gpus={"0": GpuInputs()})
    bus.publish("gpu.foreign_use_stopped", gpu_uuid="0", processes=["eldenring.exe"], pids=[4242], graphics=True)
    # unsubscribed: nothing happens
    assert seen[-1].paused


def test_clock_jump_is_detected_and_reevaluates(paused_scheduler: BackgroundScheduler) -> None:
    clock = FakeClock(datetime(2025, 1, 7, 17, 0, tzinfo=BERLIN))
    bus = EventBus()
    jumps: list[Event] = []
    decisions: list[Event] = []
    bus.subscribe(CLOCK_JUMP_TOPIC, jumps.append)
    bus.subscribe(DECISION_TOPIC, decisions.append)
    driver, seen = make_driver(clock, paused_scheduler, {"now": Inputs(idle_seconds=0.0)}, bus)
    driver.start()
    clock.advance(15)
    driver.tick()
    assert jumps == []  # wall and monotonic moved together
    clock.jump(2 * 3600)  # suspended over the 18:00 edge
    driver.tick()
    assert len(jumps) == 1 and jumps[0].data["drift_seconds"] == pytest.approx(7200)
    assert seen[-1].available and decisions[-1].data["cause"] == "tick+clock-jump"
    clock.jump(-3)  # small NTP step: within tolerance
    driver.tick()
    assert len(jumps) == 1


def test_uniform_policy_plans_no_date_job(paused_scheduler: BackgroundScheduler) -> None:
    clock = FakeClock(datetime(2025, 1, 7, 12, 0, tzinfo=BERLIN))
    driver = ScheduleDriver(
        policy_evaluator(AvailabilityPolicy, lambda now: Inputs()),
        now=clock.now,
        monotonic=clock.monotonic,
        scheduler=paused_scheduler,
    )
    assert driver.start().available
    assert paused_scheduler.get_job(NEXT_CHANGE_JOB) is None


def test_real_scheduler_ends_a_snooze_on_time() -> None:
    policy = {"current": snooze_for(AvailabilityPolicy(), datetime.now(UTC), timedelta(seconds=1))}
    became_available = threading.Event()

    def on_decision(decision: Decision) -> None:
        if decision.available:
            became_available.set()

    driver = ScheduleDriver(
        policy_evaluator(lambda: policy["current"], lambda now: Inputs()),
        on_decision,
        now=lambda: datetime.now(UTC),
        tick_seconds=3600,
    )
    try:
        assert driver.start().paused
        assert became_available.wait(10), "the DateTrigger at the snooze's end never re-evaluated"
        assert driver.decision is not None and driver.decision.available
    finally:
        driver.stop()
