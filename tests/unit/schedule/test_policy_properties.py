"""Property tests: random grids, zones, instants, rules and inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostapp.schedule.grid import Cell, WeeklyGrid
from hostapp.schedule.policy import (
    AvailabilityPolicy,
    Decision,
    ForeignProcess,
    GpuInputs,
    Inputs,
    ReasonKind,
    Rules,
    RunNow,
    Snooze,
    evaluate,
)

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Pacific/Chatham",  # +12:45/+13:45
    "America/Sao_Paulo",
]
SCHEDULE_KINDS = {ReasonKind.OUTSIDE_SCHEDULE, ReasonKind.NOT_IDLE, ReasonKind.IDLE_UNKNOWN}
PROTECTION_KINDS = {
    ReasonKind.ON_BATTERY,
    ReasonKind.OVER_TEMPERATURE,
    ReasonKind.OVER_POWER,
    ReasonKind.FOREIGN_PROCESS,
}
PROPERTY_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Instants spanning several DST transitions in every zone above.
instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))
rows = st.lists(st.text(alphabet="AI.", min_size=24, max_size=24), min_size=7, max_size=7)
# Mostly-uniform grids too, so long stretches without edges are covered.
grids = st.one_of(
    rows.map(WeeklyGrid.from_strings),
    st.sampled_from(list(Cell)).map(WeeklyGrid.filled),
    st.tuples(st.sampled_from(list(Cell)), st.integers(0, 6), st.integers(0, 23), st.sampled_from(list(Cell))).map(
        lambda spec: WeeklyGrid.filled(spec[0]).with_cell(spec[1], spec[2], spec[3])
    ),
)
rules = st.builds(
    Rules,
    idle_minutes=st.integers(0, 60),
    foreign_process_grace_seconds=st.integers(0, 120),
    max_temperature_c=st.one_of(st.none(), st.integers(60, 95)),
    temperature_hysteresis_c=st.integers(1, 15),
    max_power_w=st.one_of(st.none(), st.integers(100, 400)),
    pause_on_battery=st.booleans(),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AvailabilityPolicy, Inputs, datetime]:
    now = draw(instants)
    snooze = draw(
        st.one_of(
            st.none(),
            st.just(Snooze(until=None)),
            st.integers(1, 3 * 86400).map(lambda s: Snooze(until=now + timedelta(seconds=s))),
            st.integers(1, 3 * 86400).map(lambda s: Snooze(until=now - timedelta(seconds=s))),
        )
    )
    run_now = draw(
        st.one_of(
            st.none(), st.integers(-86400, 86400).filter(bool).map(lambda s: RunNow(until=now + timedelta(seconds=s)))
        )
    )
    policy = AvailabilityPolicy(
        grid=draw(grids), rules=draw(rules), timezone=draw(st.sampled_from(ZONES)), snooze=snooze, run_now=run_now
    )
    process = st.builds(
        ForeignProcess,
        name=st.sampled_from(["eldenring.exe", "Xorg", "blender", "steam"]),
        since=st.integers(0, 300).map(lambda s: now - timedelta(seconds=s)),
    )
    gpu = st.builds(
        GpuInputs,
        temperature_c=st.one_of(st.none(), st.floats(30, 100)),
        power_w=st.one_of(st.none(), st.floats(10, 450)),
        processes=st.lists(process, max_size=2).map(tuple),
    )
    inputs = Inputs(
        idle_seconds=draw(st.one_of(st.none(), st.floats(0, 7200))),
        idle_unknown_reason="test: no idle source",
        gpus=draw(st.dictionaries(st.sampled_from(["0", "1"]), gpu, max_size=2)),
        on_battery=draw(st.one_of(st.none(), st.booleans())),
    )
    return policy, inputs, now


def answer(decision: Decision) -> tuple[object, ...]:
    """What the node acts on: availability overall and per GPU, and which rules block."""
    return (
        decision.available,
        decision.blocking_kinds(),
        tuple(sorted((gpu, d.available) for gpu, d in decision.gpus.items())),
    )


@PROPERTY_SETTINGS
@given(scenarios())
def test_decision_matches_the_grid_cell(scenario: tuple[AvailabilityPolicy, Inputs, datetime]) -> None:
    policy, inputs, now = scenario
    decision = evaluate(policy, inputs, now)
    local = now.astimezone(ZoneInfo(policy.timezone or "UTC"))
    assert decision.cell is policy.grid.cell(local.weekday(), local.hour)
    kinds = decision.blocking_kinds()
    overridden = ReasonKind.RUN_NOW in {reason.kind for reason in decision.reasons}
    if overridden:
        assert not kinds & SCHEDULE_KINDS
    elif decision.cell is Cell.OFF:
        assert ReasonKind.OUTSIDE_SCHEDULE in kinds and decision.paused
    elif decision.cell is Cell.AVAILABLE:
        assert not kinds & SCHEDULE_KINDS
    elif inputs.idle_seconds is None:
        assert ReasonKind.IDLE_UNKNOWN in kinds and decision.paused
    else:
        idle_enough = inputs.idle_seconds >= policy.rules.idle_minutes * 60
        assert (ReasonKind.NOT_IDLE in kinds) is not idle_enough
    # available exactly when no machine-wide reason blocks and some GPU (or the machine) is free
    machine_blocked = any(reason.blocking and reason.gpu is None for reason in decision.reasons)
    free_gpus = [gpu for gpu, d in decision.gpus.items() if d.available]
    assert decision.available is (not machine_blocked and (not decision.gpus or bool(free_gpus)))


@PROPERTY_SETTINGS
@given(scenarios(), st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=6))
def test_answer_is_constant_until_next_change(
    scenario: tuple[AvailabilityPolicy, Inputs, datetime], fractions: list[float]
) -> None:
    policy, inputs, now = scenario
    decision = evaluate(policy, inputs, now)
    horizon = decision.next_change
    if horizon is None:
        horizon = now + timedelta(days=8)  # nothing time-based pending: constant for over a week
    else:
        assert horizon > now
    for fraction in sorted(fractions):
        later = now + (horizon - now) * fraction
        if later >= horizon:
            continue
        elapsed = (later - now).total_seconds()
        again = evaluate(policy, inputs.advanced(elapsed), later, decision)
        assert answer(again) == answer(decision), (later, again.reasons, decision.reasons)


@PROPERTY_SETTINGS
@given(scenarios())
def test_snooze_wins_until_it_expires(scenario: tuple[AvailabilityPolicy, Inputs, datetime]) -> None:
    policy, inputs, now = scenario
    decision = evaluate(policy, inputs, now)
    snooze = policy.snooze
    if snooze is not None and (snooze.until is None or snooze.until > now):
        assert decision.paused and decision.headline.startswith("Snoozed")
        assert ReasonKind.RUN_NOW not in {reason.kind for reason in decision.reasons}
        if snooze.until is not None:
            assert decision.next_change is not None and decision.next_change <= snooze.until
            expired = evaluate(policy, inputs.advanced((snooze.until - now).total_seconds()), snooze.until)
            assert ReasonKind.SNOOZED not in expired.blocking_kinds()
    else:
        assert ReasonKind.SNOOZED not in decision.blocking_kinds()


@PROPERTY_SETTINGS
@given(scenarios())
def test_run_now_wins_over_schedule_but_not_protection(scenario: tuple[AvailabilityPolicy, Inputs, datetime]) -> None:
    policy, inputs, now = scenario
    policy = AvailabilityPolicy(
        grid=policy.grid, rules=policy.rules, timezone=policy.timezone, run_now=RunNow(until=now + timedelta(hours=1))
    )
    decision = evaluate(policy, inputs, now)
    assert any(reason.kind is ReasonKind.RUN_NOW for reason in decision.reasons)
    assert decision.blocking_kinds() <= PROTECTION_KINDS
    assert decision.available is (
        not (
            decision.blocking_kinds() - {ReasonKind.FOREIGN_PROCESS, ReasonKind.OVER_TEMPERATURE, ReasonKind.OVER_POWER}
        )
        and (not decision.gpus or any(d.available for d in decision.gpus.values()))
    )


@PROPERTY_SETTINGS
@given(grids, st.sampled_from(ZONES), instants)
def test_grid_edges_are_real_and_nothing_changes_between_them(grid: WeeklyGrid, zone_name: str, now: datetime) -> None:
    zone = ZoneInfo(zone_name)
    edge = grid.next_edge(now, zone)
    start = grid.at(now, zone)
    if edge is None:
        return
    assert edge > now
    assert grid.at(edge, zone) is not start
    # Sample every 15 minutes (every zone's offset is a multiple of 15 min): no change before the edge.
    probe = now
    while probe + timedelta(minutes=15) < edge:
        probe += timedelta(minutes=15)
        assert grid.at(probe, zone) is start
