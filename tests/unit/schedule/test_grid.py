"""The weekly grid on the local wall clock: presets, parsing, DST edges, midnight and week wrap."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hostapp.schedule.grid import Cell, GridError, Preset, WeeklyGrid

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def grid_with_sunday(sunday: str, rest: str = "." * 24) -> WeeklyGrid:
    return WeeklyGrid.from_strings([rest] * 6 + [sunday])


def test_presets() -> None:
    assert Preset.ALWAYS.grid() == WeeklyGrid.filled(Cell.AVAILABLE)
    assert Preset.WHEN_IDLE.grid() == WeeklyGrid.filled(Cell.IDLE_ONLY)
    nights = Preset.NIGHTS_AND_WEEKENDS.grid()
    assert nights.to_strings()[0] == "AAAAAAAA..........AAAAAA"
    assert nights.to_strings()[5] == nights.to_strings()[6] == "A" * 24


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["A" * 24] * 6, "expected 7 days"),
        (["A" * 24] * 6 + ["A" * 23], "sun: expected 24 hour characters, got 23"),
        (["A" * 24] * 6 + ["A" * 23 + "x"], "sun: unknown cell 'x'"),
    ],
)
def test_bad_rows_say_what_is_wrong(rows: list[str], message: str) -> None:
    with pytest.raises(GridError, match=message):
        WeeklyGrid.from_strings(rows)


def test_round_trip_strings() -> None:
    rows = ["AI." * 8] * 7
    assert WeeklyGrid.from_strings(rows).to_strings() == tuple(rows)


def test_evening_window_wraps_midnight() -> None:
    nights = Preset.NIGHTS_AND_WEEKENDS.grid()
    tuesday_evening = datetime(2025, 1, 7, 20, 0, tzinfo=BERLIN)
    assert nights.at(tuesday_evening, BERLIN) is Cell.AVAILABLE
    # Available through midnight until Wednesday 08:00, one edge later.
    assert nights.next_edge(tuesday_evening, BERLIN) == datetime(2025, 1, 8, 8, 0, tzinfo=BERLIN)


def test_weekend_window_runs_into_monday_morning() -> None:
    nights = Preset.NIGHTS_AND_WEEKENDS.grid()
    friday_evening = datetime(2025, 1, 10, 19, 0, tzinfo=BERLIN)
    assert nights.next_edge(friday_evening, BERLIN) == datetime(2025, 1, 13, 8, 0, tzinfo=BERLIN)


def test_sunday_to_monday_week_wrap() -> None:
    grid = WeeklyGrid.from_strings(["." + "A" * 23] + ["A" * 24] * 6)
    sunday_late = datetime(2025, 1, 12, 23, 30, tzinfo=BERLIN)
    assert grid.at(sunday_late, BERLIN) is Cell.AVAILABLE
    assert grid.next_edge(sunday_late, BERLIN) == datetime(2025, 1, 13, 0, 0, tzinfo=BERLIN)
    assert grid.at(datetime(2025, 1, 13, 0, 0, tzinfo=BERLIN), BERLIN) is Cell.OFF


def test_uniform_grid_has_no_edge() -> None:
    assert Preset.ALWAYS.grid().next_edge(utc(2025, 1, 1), BERLIN) is None


def test_berlin_spring_forward_skips_the_missing_hour() -> None:
    # 2025-03-30: 02:00 CET becomes 03:00 CEST at 01:00 UTC; the 02 cell never applies.
    grid = grid_with_sunday("AA" + "I" + "." * 21)
    before = utc(2025, 3, 30, 0, 30)  # 01:30 CET
    assert grid.at(before, BERLIN) is Cell.AVAILABLE
    edges = list(grid.edges_after(before, BERLIN))
    assert edges[0] == (utc(2025, 3, 30, 1, 0), Cell.OFF)
    assert edges[1][0] == utc(2025, 4, 5, 22, 0)  # next Sunday 00:00 CEST: the day never went to I


def test_berlin_fall_back_repeated_hour_reads_one_cell_for_two_hours() -> None:
    # 2025-10-26: 03:00 CEST becomes 02:00 CET at 01:00 UTC; local 02:xx happens twice.
    grid = grid_with_sunday("AA" + "." + "A" * 21)
    before = utc(2025, 10, 25, 23, 30)  # 01:30 CEST
    edges = list(grid.edges_after(before, BERLIN))[:2]
    assert edges == [(utc(2025, 10, 26, 0, 0), Cell.OFF), (utc(2025, 10, 26, 2, 0), Cell.AVAILABLE)]
    assert grid.at(utc(2025, 10, 26, 1, 30), BERLIN) is Cell.OFF  # the second 02:30


def test_new_york_spring_forward_and_fall_back() -> None:
    grid = grid_with_sunday("A" * 3 + "." * 21)
    # 2025-03-09: 02:00 EST -> 03:00 EDT at 07:00 UTC; hours 0-2 available means until 03:00 EDT.
    assert grid.next_edge(utc(2025, 3, 9, 5, 30), NEW_YORK) == utc(2025, 3, 9, 7, 0)
    # 2025-11-02: 02:00 EDT -> 01:00 EST at 06:00 UTC; 01:xx repeats, so the window is 4 real hours.
    assert grid.next_edge(utc(2025, 11, 2, 4, 0), NEW_YORK) == utc(2025, 11, 2, 8, 0)


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        Preset.ALWAYS.grid().at(datetime(2025, 1, 1), BERLIN)
