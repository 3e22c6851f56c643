"""Cost of one availability decision, and what the driver adds per event, against bare baselines.

    .venv/bin/python bench/bench_schedule.py

1. `evaluate()` (Nights & weekends, Europe/Berlin, 2 GPUs with telemetry and a game in grace)
   vs the bare grid-cell lookup it starts from: the price of the full policy.
2. `ScheduleDriver.request()` (evaluate + replan the APScheduler DateTrigger + publish on the bus)
   vs calling `evaluate()` directly: the driver's overhead per telemetry/process event, which sits
   on the "game detected → job frozen ≤ 1 s" path.
Subject and baseline alternate in batches (bench/harness.py); figures are medians per call.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apscheduler.schedulers.background import BackgroundScheduler  # noqa: E402

from bench.harness import compare  # noqa: E402
from hostapp.events import EventBus  # noqa: E402
from hostapp.schedule.driver import ScheduleDriver, policy_evaluator  # noqa: E402
from hostapp.schedule.grid import Preset  # noqa: E402
from hostapp.schedule.policy import AvailabilityPolicy, ForeignProcess, GpuInputs, Inputs, evaluate  # noqa: E402

BATCH = 500
ZONE = ZoneInfo("Europe/Berlin")
POLICY = AvailabilityPolicy(grid=Preset.NIGHTS_AND_WEEKENDS.grid(), timezone="Europe/Berlin")


def main() -> None:
    now = datetime(2025, 1, 7, 20, 0, tzinfo=UTC)
    game = ForeignProcess("eldenring.exe", since=now - timedelta(seconds=2))
    inputs = Inputs(
        idle_seconds=30.0,
        gpus={
            "0": GpuInputs(temperature_c=71.0, power_w=280.0, processes=(game,)),
            "1": GpuInputs(temperature_c=65.0, power_w=120.0),
        },
    )

    def batch(fn: object) -> object:
        def run() -> None:
            for _ in range(BATCH):
                fn()  # type: ignore[operator]

        return run

    full = compare(
        "evaluate() per call vs bare grid lookup",
        batch(lambda: evaluate(POLICY, inputs, now)),
        batch(lambda: POLICY.grid.at(now, ZONE)),
        runs=15,
    )

    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)  # jobs are replanned for real but never run during the bench
    bus = EventBus()
    bus.subscribe("schedule.decision", lambda event: None)
    driver = ScheduleDriver(
        policy_evaluator(lambda: POLICY, lambda at: inputs), bus=bus, now=lambda: now, scheduler=scheduler
    )
    driver.start()
    per_event = compare(
        "driver.request() per event vs evaluate()",
        batch(lambda: driver.request("gpu.processes")),
        batch(lambda: evaluate(POLICY, inputs, now)),
        runs=15,
    )
    scheduler.shutdown(wait=False)

    for result in (full, per_event):
        print(
            f"{result.name}: {result.subject_median_s / BATCH * 1e6:.1f} µs vs "
            f"{result.baseline_median_s / BATCH * 1e6:.1f} µs = {result.ratio:.2f}x"
        )


if __name__ == "__main__":
    main()
