"""Gathers what the availability policy needs to know right now: idle time, battery, GPU readings.

The policy is pure; this is the impure edge that reads the idle backend, the telemetry sampler and
the foreign-process watcher, and remembers since when each foreign process has been seen (the
policy's grace period counts from then).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from hostapp.schedule.policy import ForeignProcess, GpuInputs, Inputs


class IdleSource(Protocol):
    name: str

    def idle_seconds(self) -> float | None: ...

    @property
    def unavailable_reason(self) -> str | None: ...


class ForeignSource(Protocol):
    """Per GPU UUID: (pid, name) of foreign processes now."""

    def foreign_processes(self, uuid: str) -> Iterable[tuple[int, str]]: ...


class Reading(Protocol):
    @property
    def temperature_c(self) -> float | None: ...

    @property
    def power_w(self) -> float | None: ...


def on_battery(power_supply: Path = Path("/sys/class/power_supply")) -> bool | None:
    """True when a battery discharges and no AC adapter is online; None when there is no battery."""
    try:
        supplies = list(power_supply.iterdir())
    except OSError:
        return None
    batteries = [s for s in supplies if _read(s / "type") == "Battery"]
    if not batteries:
        return None
    if any(_read(s / "online") == "1" for s in supplies if _read(s / "type") == "Mains"):
        return False
    return any(_read(b / "status") == "Discharging" for b in batteries)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except OSError:
        return None


class InputAssembler:
    def __init__(
        self,
        gpus: list[str],
        idle: IdleSource | None,
        reading: Callable[[str], Reading | None] = lambda _uuid: None,
        foreign: ForeignSource | None = None,
        battery: Callable[[], bool | None] = on_battery,
    ) -> None:
        self._gpus = gpus
        self._idle = idle
        self._reading = reading
        self._foreign = foreign
        self._battery = battery
        self._first_seen: dict[tuple[str, int], datetime] = {}
        self._lock = threading.Lock()

    def __call__(self, now: datetime) -> Inputs:
        idle_seconds = self._idle.idle_seconds() if self._idle is not None else None
        reason = (self._idle.unavailable_reason if self._idle is not None else None) or "no idle detection"
        gpus = {uuid: self._gpu_inputs(uuid, now) for uuid in self._gpus}
        return Inputs(idle_seconds=idle_seconds, idle_unknown_reason=reason, gpus=gpus, on_battery=self._battery())

    def _gpu_inputs(self, uuid: str, now: datetime) -> GpuInputs:
        reading = self._reading(uuid)
        processes: list[ForeignProcess] = []
        if self._foreign is not None:
            seen_now = list(self._foreign.foreign_processes(uuid))
            with self._lock:
                live = {(uuid, pid) for pid, _ in seen_now}
                for key in [k for k in self._first_seen if k[0] == uuid and k not in live]:
                    del self._first_seen[key]
                for pid, name in seen_now:
                    since = self._first_seen.setdefault((uuid, pid), now)
                    processes.append(ForeignProcess(name=name, since=since, pid=pid))
        return GpuInputs(
            temperature_c=reading.temperature_c if reading else None,
            power_w=reading.power_w if reading else None,
            processes=tuple(processes),
        )
