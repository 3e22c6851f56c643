"""Policy evaluation with fixed datetimes: reasons and texts, per-GPU pauses, hysteresis, snooze, override."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hostapp.schedule.grid import Cell, Preset, WeeklyGrid
from hostapp.schedule.policy import (
    AvailabilityPolicy,
    ForeignProcess,
    GpuInputs,
    Inputs,
    ReasonKind,
    Rules,
    evaluate,
    resume,
    run_now_for,
    snooze_for,
    snooze_indefinitely,
    snooze_until_time,
    snooze_until_tomorrow,
    without_expired,
)

BERLIN = ZoneInfo("Europe/Berlin")
NIGHTS = AvailabilityPolicy(grid=Preset.NIGHTS_AND_WEEKENDS.grid(), timezone="Europe/Berlin")
TUESDAY_NOON = datetime(2025, 1, 7, 12, 0, tzinfo=BERLIN)
TUESDAY_EVENING = datetime(2025, 1, 7, 20, 0, tzinfo=BERLIN)
ALWAYS = AvailabilityPolicy(timezone="Europe/Berlin")
IDLE = Inputs(idle_seconds=3600.0)


def kinds(decision: object) -> list[ReasonKind]:
    return [reason.kind for reason in decision.reasons]  # type: ignore[attr-defined]


def test_outside_schedule_says_until_when() -> None:
    decision = evaluate(NIGHTS, IDLE, TUESDAY_NOON)
    assert decision.paused and decision.cell is Cell.OFF
    assert decision.headline == "Paused — outside schedule until 18:00"
    assert decision.next_change == datetime(2025, 1, 7, 18, 0, tzinfo=BERLIN)


def test_inside_schedule_is_available_until_the_window_closes() -> None:
    decision = evaluate(NIGHTS, IDLE, TUESDAY_EVENING)
    assert decision.available and decision.headline == "Available" and decision.reasons == ()
    assert decision.next_change == datetime(2025, 1, 8, 8, 0, tzinfo=BERLIN)


def test_outside_schedule_across_days_names_the_day() -> None:
    grid = WeeklyGrid.from_strings(["." * 24] * 6 + ["A" * 24])
    decision = evaluate(AvailabilityPolicy(grid=grid, timezone="Europe/Berlin"), IDLE, TUESDAY_NOON)
    assert decision.headline == "Paused — outside schedule until Sun 00:00"


def test_grid_all_off_says_no_hours() -> None:
    policy = AvailabilityPolicy(grid=WeeklyGrid.filled(Cell.OFF))
    decision = evaluate(policy, IDLE, TUESDAY_NOON)
    assert decision.headline == "Paused — outside schedule (no hours enabled)"
    assert decision.next_change is None


def test_idle_only_waits_for_the_threshold_and_says_when() -> None:
    policy = AvailabilityPolicy(grid=Preset.WHEN_IDLE.grid(), rules=Rules(idle_minutes=10))
    decision = evaluate(policy, Inputs(idle_seconds=120.0), TUESDAY_NOON)
    assert kinds(decision) == [ReasonKind.NOT_IDLE]
    assert decision.next_change == TUESDAY_NOON + timedelta(minutes=8)
    assert evaluate(policy, Inputs(idle_seconds=600.0), TUESDAY_NOON).available


def test_locked_screen_counts_as_idle() -> None:
    policy = AvailabilityPolicy(grid=Preset.WHEN_IDLE.grid())
    assert evaluate(policy, Inputs(idle_seconds=math.inf), TUESDAY_NOON).available


def test_unknown_idle_makes_idle_only_hours_unavailable_with_the_reason() -> None:
    policy = AvailabilityPolicy(grid=Preset.WHEN_IDLE.grid())
    decision = evaluate(policy, Inputs(idle_seconds=None, idle_unknown_reason="X11: DISPLAY is not set"), TUESDAY_NOON)
    assert decision.headline == "Paused — idle time unknown: X11: DISPLAY is not set"
    # Available hours do not need idle time at all.
    assert evaluate(ALWAYS, Inputs(idle_seconds=None), TUESDAY_NOON).available


def test_game_on_gpu0_pauses_only_gpu0() -> None:
    game = ForeignProcess("C:\\Games\\ELDEN RING\\eldenring.exe", since=TUESDAY_NOON - timedelta(minutes=1))
    inputs = Inputs(idle_seconds=0.0, gpus={"0": GpuInputs(processes=(game,)), "1": GpuInputs()})
    decision = evaluate(ALWAYS, inputs, TUESDAY_NOON)
    assert decision.available  # GPU 1 still works
    assert not decision.gpus["0"].available and decision.gpus["1"].available
    (reason,) = decision.reasons
    assert reason.gpu == "0" and reason.text == "Paused — game running on GPU 0: eldenring.exe"


def test_single_gpu_game_text_matches_the_tray() -> None:
    game = ForeignProcess("eldenring.exe", since=TUESDAY_NOON - timedelta(minutes=1))
    decision = evaluate(ALWAYS, Inputs(gpus={"GPU-abc": GpuInputs(processes=(game,))}), TUESDAY_NOON)
    assert decision.paused and decision.headline == "Paused — game running: eldenring.exe"


def test_grace_period_then_pause() -> None:
    policy = AvailabilityPolicy(timezone="Europe/Berlin", rules=Rules(foreign_process_grace_seconds=30))
    game = ForeignProcess("game.x86_64", since=TUESDAY_NOON)
    inputs = Inputs(gpus={"0": GpuInputs(processes=(game,))})
    during = evaluate(policy, inputs, TUESDAY_NOON + timedelta(seconds=10))
    assert during.available and kinds(during) == [ReasonKind.FOREIGN_PROCESS_GRACE]
    assert during.reasons[0].text == "game.x86_64 started — pausing at 12:00:30"
    assert during.next_change == TUESDAY_NOON + timedelta(seconds=30)
    assert evaluate(policy, inputs, TUESDAY_NOON + timedelta(seconds=30)).paused


def test_zero_grace_pauses_at_once() -> None:
    policy = AvailabilityPolicy(rules=Rules(foreign_process_grace_seconds=0))
    inputs = Inputs(gpus={"0": GpuInputs(processes=(ForeignProcess("game", since=TUESDAY_NOON),))})
    assert evaluate(policy, inputs, TUESDAY_NOON).paused


def test_allow_and_deny_lists() -> None:
    rules = Rules(process_allow_list=("Xorg", "steam*"), process_deny_list=("steamwebhelper",))
    assert not rules.process_pauses("/usr/lib/xorg/Xorg")
    assert not rules.process_pauses("Steam.exe")
    assert rules.process_pauses("steamwebhelper")  # deny beats allow
    assert rules.process_pauses("blender")
    only_deny = Rules(pause_on_foreign_process=False, process_deny_list=("eldenring.exe",))
    assert not only_deny.process_pauses("blender") and only_deny.process_pauses("EldenRing.exe")


def test_thermal_hysteresis_needs_the_previous_state() -> None:
    policy = AvailabilityPolicy(rules=Rules(max_temperature_c=83, temperature_hysteresis_c=8))

    def at(temp: float, previous: object = None) -> object:
        inputs = Inputs(gpus={"0": GpuInputs(temperature_c=temp)})
        return evaluate(policy, inputs, TUESDAY_NOON, previous)  # type: ignore[arg-type]

    cool = at(82.0)
    assert cool.available  # type: ignore[attr-defined]
    hot = at(84.0, cool)
    assert hot.paused and hot.headline == "Paused — GPU at 84 °C (resumes at 75 °C)"  # type: ignore[attr-defined]
    still_hot = at(80.0, hot)
    assert still_hot.paused  # type: ignore[attr-defined]
    assert at(75.0, still_hot).available  # type: ignore[attr-defined]
    assert at(80.0).available  # type: ignore[attr-defined]  # without the history it never paused
    unknown = evaluate(policy, Inputs(gpus={"0": GpuInputs()}), TUESDAY_NOON, hot)
    assert unknown.paused  # no reading keeps the pause


def test_power_limit_with_hysteresis() -> None:
    policy = AvailabilityPolicy(rules=Rules(max_power_w=300, power_hysteresis_w=25))
    over = evaluate(policy, Inputs(gpus={"0": GpuInputs(power_w=320.0)}), TUESDAY_NOON)
    assert over.headline == "Paused — GPU drawing 320 W (limit 300 W)"
    assert evaluate(policy, Inputs(gpus={"0": GpuInputs(power_w=290.0)}), TUESDAY_NOON, over).paused
    assert evaluate(policy, Inputs(gpus={"0": GpuInputs(power_w=270.0)}), TUESDAY_NOON, over).available


def test_battery() -> None:
    assert evaluate(ALWAYS, Inputs(on_battery=True), TUESDAY_NOON).headline == "Paused — on battery"
    assert evaluate(ALWAYS, Inputs(on_battery=None), TUESDAY_NOON).available
    allowed = AvailabilityPolicy(rules=Rules(pause_on_battery=False))
    assert evaluate(allowed, Inputs(on_battery=True), TUESDAY_NOON).available


def test_every_reason_is_reported_in_tray_order() -> None:
    policy = snooze_for(NIGHTS, TUESDAY_NOON, timedelta(hours=1))
    hot_game = GpuInputs(temperature_c=90.0, processes=(ForeignProcess("game", TUESDAY_NOON - timedelta(hours=1)),))
    decision = evaluate(policy, Inputs(on_battery=True, gpus={"0": hot_game}), TUESDAY_NOON)
    assert kinds(decision) == [
        ReasonKind.SNOOZED,
        ReasonKind.ON_BATTERY,
        ReasonKind.OVER_TEMPERATURE,
        ReasonKind.FOREIGN_PROCESS,
        ReasonKind.OUTSIDE_SCHEDULE,
    ]
    assert decision.headline == "Snoozed until 13:00"


def test_snooze_variants_and_expiry() -> None:
    snoozed = snooze_until_time(ALWAYS, TUESDAY_NOON, time(21, 30))
    decision = evaluate(snoozed, IDLE, TUESDAY_NOON)
    assert decision.headline == "Snoozed until 21:30"
    assert decision.next_change == datetime(2025, 1, 7, 21, 30, tzinfo=BERLIN)
    assert evaluate(snoozed, IDLE, datetime(2025, 1, 7, 21, 30, tzinfo=BERLIN)).available
    earlier = snooze_until_time(ALWAYS, TUESDAY_NOON, time(9, 0))  # already past: tomorrow
    assert evaluate(earlier, IDLE, TUESDAY_NOON).headline == "Snoozed until Wed 09:00"
    forever = snooze_indefinitely(ALWAYS)
    assert evaluate(forever, IDLE, TUESDAY_NOON + timedelta(days=400)).headline == "Snoozed indefinitely"
    assert evaluate(resume(forever), IDLE, TUESDAY_NOON).available
    assert without_expired(snoozed, datetime(2025, 1, 8, tzinfo=BERLIN)).snooze is None


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (datetime(2025, 1, 7, 22, 0, tzinfo=BERLIN), datetime(2025, 1, 8, 8, 0, tzinfo=BERLIN)),
        (datetime(2025, 1, 7, 9, 0, tzinfo=BERLIN), datetime(2025, 1, 8, 8, 0, tzinfo=BERLIN)),
        (datetime(2025, 1, 8, 1, 30, tzinfo=BERLIN), datetime(2025, 1, 8, 8, 0, tzinfo=BERLIN)),  # still tonight
    ],
)
def test_snooze_until_tomorrow_means_next_morning(now: datetime, until: datetime) -> None:
    snooze = snooze_until_tomorrow(ALWAYS, now).snooze
    assert snooze is not None and snooze.until == until


def test_snooze_until_a_time_in_the_spring_forward_gap_is_deterministic() -> None:
    saturday = datetime(2025, 3, 29, 23, 0, tzinfo=BERLIN)
    snooze = snooze_until_time(ALWAYS, saturday, time(2, 30)).snooze
    assert snooze is not None and snooze.until == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)  # 03:30 CEST


def test_run_now_overrides_schedule_and_is_shown_then_expires() -> None:
    policy = run_now_for(NIGHTS, TUESDAY_NOON, timedelta(hours=2))
    decision = evaluate(policy, IDLE, TUESDAY_NOON)
    assert decision.available and decision.headline == "Run now — override until 14:00"
    assert decision.next_change == datetime(2025, 1, 7, 14, 0, tzinfo=BERLIN)
    after = evaluate(policy, IDLE, datetime(2025, 1, 7, 14, 0, tzinfo=BERLIN))
    assert after.paused and after.headline == "Paused — outside schedule until 18:00"


def test_run_now_never_overrides_protection_rules() -> None:
    policy = run_now_for(NIGHTS, TUESDAY_NOON, timedelta(hours=2))
    game = ForeignProcess("game", TUESDAY_NOON - timedelta(hours=1))
    decision = evaluate(policy, Inputs(on_battery=True, gpus={"0": GpuInputs(processes=(game,))}), TUESDAY_NOON)
    assert decision.paused
    assert set(kinds(decision)) == {ReasonKind.RUN_NOW, ReasonKind.ON_BATTERY, ReasonKind.FOREIGN_PROCESS}


def test_snooze_and_run_now_replace_each_other_and_snooze_wins_when_both() -> None:
    running = run_now_for(ALWAYS, TUESDAY_NOON, timedelta(hours=1))
    snoozed = snooze_for(running, TUESDAY_NOON, timedelta(hours=1))
    assert snoozed.run_now is None
    assert run_now_for(snoozed, TUESDAY_NOON, timedelta(hours=1)).snooze is None
    both = AvailabilityPolicy(snooze=snoozed.snooze, run_now=running.run_now)
    assert evaluate(both, IDLE, TUESDAY_NOON).headline == "Snoozed until 13:00"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        snooze_for(ALWAYS, TUESDAY_NOON, timedelta(0))
    with pytest.raises(ValueError, match="time-zone aware"):
        evaluate(ALWAYS, IDLE, datetime(2025, 1, 1))  # naive
