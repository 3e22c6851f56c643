"""What the schedule editor and the wizard call the cells and presets of hostapp.schedule.grid."""

from __future__ import annotations

from hostapp.schedule.grid import Cell, Preset

CELL_LABELS: dict[Cell, str] = {
    Cell.OFF: "Off",
    Cell.AVAILABLE: "Available",
    Cell.IDLE_ONLY: "Only when idle",
}

PRESET_LABELS: dict[Preset, str] = {
    Preset.ALWAYS: "Always",
    Preset.NIGHTS_AND_WEEKENDS: "Nights & weekends",
    Preset.WHEN_IDLE: "When idle",
}
