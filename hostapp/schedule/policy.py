"""The availability policy: may this machine (and each GPU) work right now, why not, and until when.

Pure: no I/O, no clock reads. `evaluate` gets the instant and every measurement as arguments, so
the same inputs always give the same Decision, and tests can use fixed datetimes.

Precedence (docs/schedule.md):
1. Snooze pauses everything until it expires; it beats "run now" (setting one clears the other,
   so both are active only in a hand-edited file, and then the conservative one wins).
2. "Run now" overrides the schedule grid and the idle rule until it expires.
3. Hardware and user-protection rules are never overridden: on battery, GPU temperature, GPU power,
   and a foreign (game) process on a GPU. "Run now" does not start a job under the user's game.
Every blocking reason is reported, not just the first; `Decision.reasons` is ordered so the first
one is what the tray shows.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import ntpath
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from hostapp.schedule.grid import Cell, Preset, WeeklyGrid
from hostapp.shapes import AwareDatetime, Constraints, Field, FrozenShape

DEFAULT_ALLOW_LIST = ("Xorg", "Xwayland", "gnome-shell", "kwin_x11", "kwin_wayland", "dwm.exe")
# "Until tomorrow" snoozes until this local hour on the next morning (see `snooze_until_tomorrow`).
DEFAULT_TOMORROW_HOUR = 8
# Before this local hour it is still "tonight": "until tomorrow" means this coming morning.
_NIGHT_ENDS_HOUR = 4

ProcessPattern = Annotated[str, Constraints(strip_whitespace=True, min_length=1, max_length=260)]


class Rules(FrozenShape):
    """The user's rules; validated here so a GUI, a CLI and a JSON file cannot set nonsense."""

    idle_minutes: int = Field(default=10, ge=0, le=24 * 60)
    pause_on_foreign_process: bool = True
    foreign_process_grace_seconds: int = Field(default=10, ge=0, le=3600)
    # Names or glob patterns, matched case-insensitively on the executable's base name.
    process_allow_list: tuple[ProcessPattern, ...] = DEFAULT_ALLOW_LIST
    process_deny_list: tuple[ProcessPattern, ...] = ()
    max_temperature_c: int | None = Field(default=83, ge=30, le=110)
    temperature_hysteresis_c: int = Field(default=8, ge=1, le=40)
    max_power_w: int | None = Field(default=None, ge=10, le=3000)
    power_hysteresis_w: int = Field(default=25, ge=1, le=1000)
    pause_on_battery: bool = True
    tomorrow_hour: int = Field(default=DEFAULT_TOMORROW_HOUR, ge=0, le=23)

    def process_pauses(self, name: str) -> bool:
        """Whether a foreign process with this name pauses its GPU. The deny list beats the allow list."""
        base = _base_name(name)
        if _matches(base, self.process_deny_list):
            return True
        return self.pause_on_foreign_process and not _matches(base, self.process_allow_list)


class Snooze(FrozenShape):
    """The user paused everything; `until` None means until they resume."""

    until: AwareDatetime | None = None

    def active(self, now: datetime) -> bool:
        return self.until is None or self.until > now


class RunNow(FrozenShape):
    """The user asked to work now, whatever the schedule says; always expires."""

    until: AwareDatetime

    def active(self, now: datetime) -> bool:
        return self.until > now


@dataclass(frozen=True)
class AvailabilityPolicy:
    grid: WeeklyGrid = field(default_factory=Preset.ALWAYS.grid)
    rules: Rules = field(default_factory=Rules)
    # IANA zone the grid is painted in; None means the computer's zone (the caller passes `now` in it).
    timezone: str | None = None
    snooze: Snooze | None = None
    run_now: RunNow | None = None

    def zone(self, now: datetime) -> tzinfo:
        if self.timezone is not None:
            return ZoneInfo(self.timezone)
        if now.tzinfo is None:
            raise ValueError("schedule times must be time-zone aware")
        return now.tzinfo


# ---------------------------------------------------------------------------------------------
# Inputs and outputs


@dataclass(frozen=True)
class ForeignProcess:
    """A process outside hostapp using a GPU, and since when it has been seen there."""

    name: str
    since: datetime
    pid: int | None = None


@dataclass(frozen=True)
class GpuInputs:
    temperature_c: float | None = None
    power_w: float | None = None
    processes: tuple[ForeignProcess, ...] = ()
    label: str | None = None  # shown to the user; the key in Inputs.gpus when None


@dataclass(frozen=True)
class Inputs:
    # Seconds since the last user input; math.inf while the screen is locked; None when unknown.
    idle_seconds: float | None = None
    idle_unknown_reason: str = "no idle detection"
    gpus: Mapping[str, GpuInputs] = field(default_factory=dict)
    on_battery: bool | None = None  # None: unknown or no battery, never pauses

    def advanced(self, seconds: float) -> Inputs:
        """These inputs `seconds` later if nothing happens: only the idle time grows."""
        if self.idle_seconds is None:
            return self
        return dataclasses.replace(self, idle_seconds=self.idle_seconds + seconds)


class ReasonKind(StrEnum):
    # Blocking, in the order the tray shows them.
    SNOOZED = "snoozed"
    ON_BATTERY = "on_battery"
    OVER_TEMPERATURE = "over_temperature"
    OVER_POWER = "over_power"
    FOREIGN_PROCESS = "foreign_process"
    OUTSIDE_SCHEDULE = "outside_schedule"
    IDLE_UNKNOWN = "idle_unknown"
    NOT_IDLE = "not_idle"
    # Informational: shown, but the GPU still works.
    RUN_NOW = "run_now"
    FOREIGN_PROCESS_GRACE = "foreign_process_grace"


NON_BLOCKING = frozenset({ReasonKind.RUN_NOW, ReasonKind.FOREIGN_PROCESS_GRACE})
_ORDER = {kind: index for index, kind in enumerate(ReasonKind)}


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    text: str
    gpu: str | None = None  # None: applies to the whole machine
    until: datetime | None = None  # when this reason ends by time alone, if known

    @property
    def blocking(self) -> bool:
        return self.kind not in NON_BLOCKING


@dataclass(frozen=True)
class GpuDecision:
    gpu: str
    available: bool
    reasons: tuple[Reason, ...]  # this GPU's own reasons; machine-wide ones are on the Decision
    thermal_paused: bool = False  # carried to the next evaluation for hysteresis
    power_paused: bool = False


@dataclass(frozen=True)
class Decision:
    at: datetime
    # The machine may work: nothing machine-wide blocks it and, when GPUs are known, one is free.
    available: bool
    reasons: tuple[Reason, ...]  # every reason, machine-wide and per GPU, first = headline
    gpus: Mapping[str, GpuDecision]
    cell: Cell
    next_change: datetime | None  # the next instant the answer can change by time alone

    @property
    def paused(self) -> bool:
        return not self.available

    @property
    def headline(self) -> str:
        """The one line for the tray: the top blocking reason, else a notice, else "Available"."""
        if not self.available:
            return next(reason.text for reason in self.reasons if reason.blocking)
        notes = [reason for reason in self.reasons if not reason.blocking and reason.gpu is None]
        return notes[0].text if notes else "Available"

    @property
    def shown_next_change(self) -> datetime | None:
        """`next_change` as the user is told it: none during an open-ended snooze, which only
        Resume ends ("Snoozed indefinitely · Next change 08:00" would contradict itself)."""
        if any(reason.kind is ReasonKind.SNOOZED and reason.until is None for reason in self.reasons):
            return None
        return self.next_change

    def gpu_available(self, gpu: str) -> bool:
        """A GPU the inputs did not mention follows the machine-wide answer."""
        known = self.gpus.get(gpu)
        if known is not None:
            return known.available
        return not any(reason.blocking and reason.gpu is None for reason in self.reasons)

    def blocking_kinds(self) -> frozenset[ReasonKind]:
        return frozenset(reason.kind for reason in self.reasons if reason.blocking)


# ---------------------------------------------------------------------------------------------
# Evaluation


def evaluate(policy: AvailabilityPolicy, inputs: Inputs, now: datetime, previous: Decision | None = None) -> Decision:
    """Decide availability at `now`. `previous` carries thermal/power hysteresis state."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("schedule times must be time-zone aware")
    zone = policy.zone(now)
    rules = policy.rules
    machine: list[Reason] = []
    changes: list[datetime] = []

    snoozed = policy.snooze is not None and policy.snooze.active(now)
    if snoozed:
        assert policy.snooze is not None
        until = policy.snooze.until
        text = "Snoozed indefinitely" if until is None else f"Snoozed until {_when(until, now, zone)}"
        machine.append(Reason(ReasonKind.SNOOZED, text, until=until))
        if until is not None:
            changes.append(until)

    override = not snoozed and policy.run_now is not None and policy.run_now.active(now)
    if override:
        assert policy.run_now is not None
        until = policy.run_now.until
        machine.append(Reason(ReasonKind.RUN_NOW, f"Run now — override until {_when(until, now, zone)}", None, until))
        changes.append(until)

    cell = policy.grid.at(now, zone)
    edge = policy.grid.next_edge(now, zone)
    if edge is not None:
        changes.append(edge)
    if not override:
        machine.extend(_schedule_reasons(policy, inputs, now, zone, cell, edge, changes))

    if rules.pause_on_battery and inputs.on_battery:
        machine.append(Reason(ReasonKind.ON_BATTERY, "Paused — on battery"))

    previous_gpus = previous.gpus if previous is not None else {}
    gpus = {
        gpu: _evaluate_gpu(rules, gpu, data, len(inputs.gpus), now, zone, previous_gpus.get(gpu), changes)
        for gpu, data in inputs.gpus.items()
    }
    machine_blocked = any(reason.blocking for reason in machine)
    gpus = {
        gpu: dataclasses.replace(decision, available=decision.available and not machine_blocked)
        for gpu, decision in gpus.items()
    }
    available = not machine_blocked and (not gpus or any(decision.available for decision in gpus.values()))
    reasons = sorted(
        [*machine, *(reason for decision in gpus.values() for reason in decision.reasons)],
        key=lambda reason: _ORDER[reason.kind],
    )
    future = [change for change in changes if change > now]
    return Decision(
        at=now,
        available=available,
        reasons=tuple(reasons),
        gpus=gpus,
        cell=cell,
        next_change=min(future) if future else None,
    )


def _schedule_reasons(
    policy: AvailabilityPolicy,
    inputs: Inputs,
    now: datetime,
    zone: tzinfo,
    cell: Cell,
    edge: datetime | None,
    changes: list[datetime],
) -> list[Reason]:
    if cell is Cell.OFF:
        until = edge  # the first change away from Off ends the Off stretch
        text = "Paused — outside schedule"
        text += f" until {_when(until, now, zone)}" if until is not None else " (no hours enabled)"
        return [Reason(ReasonKind.OUTSIDE_SCHEDULE, text, until=until)]
    if cell is Cell.IDLE_ONLY:
        if inputs.idle_seconds is None:
            why = inputs.idle_unknown_reason
            return [Reason(ReasonKind.IDLE_UNKNOWN, f"Paused — idle time unknown: {why}")]
        threshold = policy.rules.idle_minutes * 60
        if inputs.idle_seconds < threshold:
            idle_at = now + timedelta(seconds=threshold - inputs.idle_seconds)
            changes.append(idle_at)
            minutes = policy.rules.idle_minutes
            text = f"Paused — computer in use (works after {minutes} min without input)"
            return [Reason(ReasonKind.NOT_IDLE, text, until=idle_at)]
    return []


def _evaluate_gpu(
    rules: Rules,
    gpu: str,
    data: GpuInputs,
    gpu_count: int,
    now: datetime,
    zone: tzinfo,
    previous: GpuDecision | None,
    changes: list[datetime],
) -> GpuDecision:
    label = data.label or gpu
    # "GPU" alone on a one-GPU machine reads better; with several, say which.
    subject = "GPU" if gpu_count == 1 else f"GPU {label}"
    where = "" if gpu_count == 1 else f" on GPU {label}"
    reasons: list[Reason] = []

    grace = timedelta(seconds=rules.foreign_process_grace_seconds)
    pausing = [process for process in data.processes if rules.process_pauses(process.name)]
    due = [process for process in pausing if process.since + grace <= now]
    pending = [process for process in pausing if process.since + grace > now]
    if due:
        names = _names(process.name for process in due)
        reasons.append(Reason(ReasonKind.FOREIGN_PROCESS, f"Paused — game running{where}: {names}", gpu))
    if pending:
        pause_at = min(process.since + grace for process in pending)
        changes.append(pause_at)
        names = _names(process.name for process in pending)
        text = f"{names} started{where} — pausing at {_clock(pause_at, zone, seconds=True)}"
        reasons.append(Reason(ReasonKind.FOREIGN_PROCESS_GRACE, text, gpu, pause_at))

    thermal = _over_limit(
        data.temperature_c,
        rules.max_temperature_c,
        rules.temperature_hysteresis_c,
        previous.thermal_paused if previous else False,
    )
    if thermal:
        assert rules.max_temperature_c is not None
        resume = rules.max_temperature_c - rules.temperature_hysteresis_c
        shown = f"{data.temperature_c:.0f} °C" if data.temperature_c is not None else "over its limit"
        text = f"Paused — {subject} at {shown} (resumes at {resume} °C)"
        reasons.append(Reason(ReasonKind.OVER_TEMPERATURE, text, gpu))

    power = _over_limit(
        data.power_w, rules.max_power_w, rules.power_hysteresis_w, previous.power_paused if previous else False
    )
    if power:
        assert rules.max_power_w is not None
        shown = f"{data.power_w:.0f} W" if data.power_w is not None else "over its limit"
        text = f"Paused — {subject} drawing {shown} (limit {rules.max_power_w} W)"
        reasons.append(Reason(ReasonKind.OVER_POWER, text, gpu))

    available = not any(reason.blocking for reason in reasons)
    return GpuDecision(gpu, available, tuple(reasons), thermal_paused=thermal, power_paused=power)


def _over_limit(value: float | None, limit: int | None, hysteresis: int, was_over: bool) -> bool:
    """Pause at >= limit; once paused, resume only at <= limit − hysteresis. Unknown keeps the state."""
    if limit is None:
        return False
    if value is None or math.isnan(value):
        return was_over
    if was_over:
        return value > limit - hysteresis
    return value >= limit


# ---------------------------------------------------------------------------------------------
# Snooze and "run now": pure constructors returning a new policy


def snooze_for(policy: AvailabilityPolicy, now: datetime, duration: timedelta) -> AvailabilityPolicy:
    if duration <= timedelta(0):
        raise ValueError("a snooze must last a positive time")
    return _with_snooze(policy, now + duration)


def snooze_until_time(policy: AvailabilityPolicy, now: datetime, at: time) -> AvailabilityPolicy:
    """Until the next local `at` (today if still ahead, else tomorrow)."""
    return _with_snooze(policy, next_local_time(now, policy.zone(now), at))


def snooze_until_tomorrow(policy: AvailabilityPolicy, now: datetime) -> AvailabilityPolicy:
    """Until `rules.tomorrow_hour` (08:00) on the next morning.

    Before 04:00 local it is still "tonight", so tomorrow morning is today's date; from 04:00 it is
    the next calendar day's morning.
    """
    zone = policy.zone(now)
    local = now.astimezone(zone)
    day = local.date() if local.hour < _NIGHT_ENDS_HOUR else local.date() + timedelta(days=1)
    until = _resolve_local(day, time(policy.rules.tomorrow_hour), zone)
    if until <= now:  # tomorrow_hour earlier than 04:00 and already past today
        until = _resolve_local(day + timedelta(days=1), time(policy.rules.tomorrow_hour), zone)
    return _with_snooze(policy, until)


def snooze_indefinitely(policy: AvailabilityPolicy) -> AvailabilityPolicy:
    return dataclasses.replace(policy, snooze=Snooze(until=None), run_now=None)


def resume(policy: AvailabilityPolicy) -> AvailabilityPolicy:
    """End a snooze and a "run now" override: back to the schedule."""
    return dataclasses.replace(policy, snooze=None, run_now=None)


def run_now_for(policy: AvailabilityPolicy, now: datetime, duration: timedelta) -> AvailabilityPolicy:
    if duration <= timedelta(0):
        raise ValueError("a run-now override must last a positive time")
    return dataclasses.replace(policy, run_now=RunNow(until=_utc(now + duration)), snooze=None)


def run_now_until_time(policy: AvailabilityPolicy, now: datetime, at: time) -> AvailabilityPolicy:
    until = next_local_time(now, policy.zone(now), at)
    return dataclasses.replace(policy, run_now=RunNow(until=until), snooze=None)


def without_expired(policy: AvailabilityPolicy, now: datetime) -> AvailabilityPolicy:
    """Drop a snooze or override that has run out, so a saved file does not keep stale ones."""
    snooze = policy.snooze if policy.snooze is not None and policy.snooze.active(now) else None
    run_now = policy.run_now if policy.run_now is not None and policy.run_now.active(now) else None
    if snooze is policy.snooze and run_now is policy.run_now:
        return policy
    return dataclasses.replace(policy, snooze=snooze, run_now=run_now)


def _with_snooze(policy: AvailabilityPolicy, until: datetime) -> AvailabilityPolicy:
    return dataclasses.replace(policy, snooze=Snooze(until=_utc(until)), run_now=None)


def next_local_time(now: datetime, zone: tzinfo, at: time) -> datetime:
    """The first instant after `now` whose local wall clock reads `at` (DST gaps resolved forward)."""
    local = now.astimezone(zone)
    for offset in range(3):
        candidate = _resolve_local(local.date() + timedelta(days=offset), at, zone)
        if candidate > now:
            return candidate
    raise AssertionError("a wall-clock time recurs within two days")


def _resolve_local(day: date, at: time, zone: tzinfo) -> datetime:
    # fold=0 (PEP 495): an ambiguous time is its first occurrence; a nonexistent one (spring-forward
    # gap) maps to the same distance past the jump, e.g. 02:30 → 03:30 in Europe/Berlin.
    return _utc(datetime.combine(day, at.replace(tzinfo=None), tzinfo=zone).replace(fold=0))


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)


# ---------------------------------------------------------------------------------------------
# Text helpers


def _when(instant: datetime, now: datetime, zone: tzinfo) -> str:
    """ "21:30" today, "Tue 08:00" within a week, else the date."""
    local = instant.astimezone(zone)
    today = now.astimezone(zone).date()
    if local.date() == today:
        return _clock(instant, zone)
    if local.date() - today < timedelta(days=7):
        return f"{local:%a} {_clock(instant, zone)}"
    return f"{local:%Y-%m-%d} {_clock(instant, zone)}"


def _clock(instant: datetime, zone: tzinfo, seconds: bool = False) -> str:
    return instant.astimezone(zone).strftime("%H:%M:%S" if seconds else "%H:%M")


def _names(names: Iterable[str]) -> str:
    return ", ".join(sorted({_base_name(name) for name in names}))


def _base_name(name: str) -> str:
    # Process names may arrive as full paths from either platform.
    return ntpath.basename(posixpath.basename(name.strip())) or name


def _matches(base: str, patterns: Iterable[str]) -> bool:
    folded = base.casefold()
    return any(fnmatch.fnmatchcase(folded, pattern.casefold()) for pattern in patterns)
