"""The weekly 7×24 hour grid and its presets, evaluated on the local wall clock.

Why the wall clock: a user who paints "18:00–24:00" means the hour their clock shows, winter or
summer. A cell is looked up by (local weekday, local hour) of an instant, so every instant has
exactly one cell: in the spring-forward gap the skipped hour's cell is simply never reached, and in
the fall-back repeat both passes of the hour read the same cell. Edges are found by walking local
hour boundaries in UTC, which is what makes them DST-safe.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS = 24
# A week plus slack for DST days (23/25 hours) and zones with odd offsets: any edge lies within it.
_MAX_BOUNDARIES = 7 * HOURS + 8


class Cell(StrEnum):
    OFF = "off"
    AVAILABLE = "available"
    IDLE_ONLY = "idle_only"


# One character per hour in the JSON form: readable and paintable in a text editor.
CELL_CHARS: dict[Cell, str] = {Cell.OFF: ".", Cell.AVAILABLE: "A", Cell.IDLE_ONLY: "I"}
CHAR_CELLS: dict[str, Cell] = {char: cell for cell, char in CELL_CHARS.items()}


class GridError(ValueError):
    """A grid that is not 7 rows of 24 known cells."""


@dataclass(frozen=True)
class WeeklyGrid:
    """Seven rows (Monday first) of 24 hourly cells, in the user's local wall-clock time."""

    rows: tuple[tuple[Cell, ...], ...]

    def __post_init__(self) -> None:
        if len(self.rows) != len(DAYS) or any(len(row) != HOURS for row in self.rows):
            raise GridError("a weekly grid needs 7 days of 24 hours")

    @classmethod
    def filled(cls, cell: Cell) -> WeeklyGrid:
        return cls(tuple((cell,) * HOURS for _ in DAYS))

    @classmethod
    def from_strings(cls, rows: Sequence[str]) -> WeeklyGrid:
        """Rows like "AAAAAAAA..........AAAAAA": A available, I only when idle, . off."""
        if len(rows) != len(DAYS):
            raise GridError(f"expected 7 days, got {len(rows)}")
        parsed = []
        for day, row in zip(DAYS, rows, strict=True):
            if len(row) != HOURS:
                raise GridError(f"{day}: expected 24 hour characters, got {len(row)}")
            unknown = sorted(set(row) - set(CHAR_CELLS))
            if unknown:
                raise GridError(f"{day}: unknown cell {unknown[0]!r} (use 'A', 'I' or '.')")
            parsed.append(tuple(CHAR_CELLS[char] for char in row))
        return cls(tuple(parsed))

    def to_strings(self) -> tuple[str, ...]:
        return tuple("".join(CELL_CHARS[cell] for cell in row) for row in self.rows)

    def cell(self, weekday: int, hour: int) -> Cell:
        return self.rows[weekday][hour]

    def with_cell(self, weekday: int, hour: int, cell: Cell) -> WeeklyGrid:
        rows = [list(row) for row in self.rows]
        rows[weekday][hour] = cell
        return WeeklyGrid(tuple(tuple(row) for row in rows))

    def at(self, instant: datetime, zone: tzinfo) -> Cell:
        local = _aware(instant).astimezone(zone)
        return self.rows[local.weekday()][local.hour]

    def edges_after(self, instant: datetime, zone: tzinfo) -> Iterator[tuple[datetime, Cell]]:
        """(instant, new cell) for each change of cell strictly after `instant`, within about a week."""
        horizon = _aware(instant) + timedelta(days=8)
        edge = self.next_edge(instant, zone)
        while edge is not None and edge < horizon:
            yield edge, self.at(edge, zone)
            edge = self.next_edge(edge, zone)

    def next_edge(self, instant: datetime, zone: tzinfo) -> datetime | None:
        """The next instant the cell changes; None for a grid that is the same all week.

        Fast path: find the first differing cell in wall-clock order with integer steps, then walk
        real hour boundaries only from a few hours before it, where a DST shift could move it.
        """
        local = _aware(instant).astimezone(zone)
        current = self.rows[local.weekday()][local.hour]
        start_index = local.weekday() * HOURS + local.hour
        for step in range(1, len(DAYS) * HOURS + 1):
            index = (start_index + step) % (len(DAYS) * HOURS)
            if self.rows[index // HOURS][index % HOURS] != current:
                break
        else:
            return None
        wall = local.replace(tzinfo=None, minute=0, second=0, microsecond=0) + timedelta(hours=step - 3)
        start = max(_aware(instant), wall.replace(tzinfo=zone, fold=0))
        for boundary in local_hour_boundaries(start, zone):
            if self.at(boundary, zone) != current:
                return boundary
        return None


def local_hour_boundaries(instant: datetime, zone: tzinfo) -> Iterator[datetime]:
    """UTC instants after `instant` where the local wall clock starts a new hour, in order.

    Each candidate is the next whole local hour resolved with fold=0; in a spring-forward gap that
    lands exactly on the transition instant, which is where the wall clock really jumps.
    """
    last = _aware(instant).astimezone(UTC)
    wall = last.astimezone(zone).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    for _ in range(_MAX_BOUNDARIES):
        wall += timedelta(hours=1)
        candidate = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if candidate > last:
            yield candidate
            last = candidate


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("schedule times must be time-zone aware")
    return instant


def _preset_nights_and_weekends() -> WeeklyGrid:
    weekday = "A" * 8 + "." * 10 + "A" * 6  # 00–08 and 18–24
    weekend = "A" * 24
    return WeeklyGrid.from_strings([weekday] * 5 + [weekend] * 2)


class Preset(StrEnum):
    ALWAYS = "always"
    NIGHTS_AND_WEEKENDS = "nights_and_weekends"
    WHEN_IDLE = "when_idle"

    def grid(self) -> WeeklyGrid:
        if self is Preset.ALWAYS:
            return WeeklyGrid.filled(Cell.AVAILABLE)
        if self is Preset.WHEN_IDLE:
            return WeeklyGrid.filled(Cell.IDLE_ONLY)
        return _preset_nights_and_weekends()
