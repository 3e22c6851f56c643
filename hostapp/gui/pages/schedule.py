"""Schedule: paint the 7×24 grid, apply presets, edit the rules; shows "now" and the next change."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from hostapp.gui.bridge import EventBridge
from hostapp.gui.pages.common import Coalesced, Message, heading
from hostapp.gui.schedule_labels import CELL_LABELS, PRESET_LABELS
from hostapp.gui.tray import next_change_text
from hostapp.gui.widgets.grid_editor import CELL_COLOURS, GridEditor
from hostapp.gui.wiring import GuiServices
from hostapp.schedule.grid import Cell, Preset, WeeklyGrid
from hostapp.schedule.policy import Rules


class SchedulePage(QWidget):
    title = "Schedule"

    def __init__(self, services: GuiServices, bridge: EventBridge) -> None:
        super().__init__()
        self._services = services
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Schedule"))
        layout.addWidget(QLabel("Click or drag to paint when this PC may share its GPU (your local time)."))

        brushes = QHBoxLayout()
        self.brush_group = QButtonGroup(self)
        self.brush_buttons: dict[Cell, QRadioButton] = {}
        for cell in Cell:
            button = QRadioButton(CELL_LABELS[cell])
            button.setStyleSheet(f"QRadioButton::indicator:checked {{ background: {CELL_COLOURS[cell]}; }}")
            button.toggled.connect(lambda on, c=cell: self._set_brush(c) if on else None)
            self.brush_group.addButton(button)
            self.brush_buttons[cell] = button
            brushes.addWidget(button)
        brushes.addStretch(1)
        brushes.addWidget(QLabel("Presets:"))
        self.preset_buttons: dict[Preset, QPushButton] = {}
        for preset in Preset:
            preset_button = QPushButton(PRESET_LABELS[preset].replace("&", "&&"))  # & marks a mnemonic
            preset_button.clicked.connect(lambda _c=False, p=preset: self.apply_preset(p))
            self.preset_buttons[preset] = preset_button
            brushes.addWidget(preset_button)
        layout.addLayout(brushes)

        self.editor = GridEditor()
        self.editor.changed.connect(self._on_edited)
        layout.addWidget(self.editor, 1)

        self.now_label = QLabel()
        layout.addWidget(self.now_label)

        rules_form = QFormLayout()
        self.idle_minutes = QSpinBox()
        self.idle_minutes.setRange(0, 24 * 60)
        self.idle_minutes.setSuffix(" min")
        self.pause_on_game = QCheckBox("Pause when a game or other program uses the GPU")
        self.max_temperature = QSpinBox()
        self.max_temperature.setRange(30, 110)
        self.max_temperature.setSuffix(" °C")
        self.pause_on_battery = QCheckBox("Not on battery")
        rules_form.addRow("Idle after", self.idle_minutes)
        rules_form.addRow("", self.pause_on_game)
        rules_form.addRow("Max GPU temperature", self.max_temperature)
        rules_form.addRow("", self.pause_on_battery)
        layout.addLayout(rules_form)

        actions = QHBoxLayout()
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(self.reload)
        self.message = Message()
        actions.addWidget(self.message, 1)
        actions.addWidget(self.revert_button)
        actions.addWidget(self.save_button)
        layout.addLayout(actions)

        self.brush_buttons[Cell.AVAILABLE].setChecked(True)
        self.reload()
        # Each asks the node: only while on screen (hidden: once when next shown).
        self.now_due = Coalesced(self, self.show_now)
        self.reattached = Coalesced(self, self._reattached)
        bridge.on("schedule.changed", self, self.now_due.request)
        bridge.on("control.link", self, self.reattached.request)
        self._now_timer = QTimer(self)  # the "now" cell moves once an hour; a minute is close enough
        self._now_timer.timeout.connect(self.now_due.request)
        self._now_timer.start(60_000)

    def _set_brush(self, cell: Cell) -> None:
        self.editor.brush = cell

    def _on_edited(self, _grid: WeeklyGrid) -> None:
        self.save_button.setEnabled(True)
        self.message.setText("Unsaved changes")

    def apply_preset(self, preset: Preset) -> None:
        self.editor.set_grid(preset.grid())
        self._on_edited(self.editor.grid())

    def _reattached(self) -> None:
        """The node (re)attached: show its schedule, unless the user is editing (Save is armed)."""
        if not self.save_button.isEnabled():
            self.reload()

    def reload(self) -> None:
        self.editor.set_grid(self._services.schedule.load())
        rules = self._services.schedule.rules()
        self.idle_minutes.setValue(rules.idle_minutes)
        self.pause_on_game.setChecked(rules.pause_on_foreign_process)
        self.max_temperature.setValue(rules.max_temperature_c or 110)
        self.pause_on_battery.setChecked(rules.pause_on_battery)
        self.save_button.setEnabled(False)
        self.message.setText("")
        self.show_now()

    def edited_rules(self) -> Rules:
        current = self._services.schedule.rules()
        return Rules.model_validate(
            current.model_dump()
            | {
                "idle_minutes": self.idle_minutes.value(),
                "pause_on_foreign_process": self.pause_on_game.isChecked(),
                "max_temperature_c": self.max_temperature.value(),
                "pause_on_battery": self.pause_on_battery.isChecked(),
            }
        )

    def save(self) -> None:
        try:
            self._services.schedule.save(self.editor.grid())
            self._services.schedule.save_rules(self.edited_rules())
        except (ValueError, OSError) as exc:  # ShapeError is a ValueError
            self.message.error(f"Not saved: {str(exc).splitlines()[0]}")
            return
        self.save_button.setEnabled(False)
        self.message.ok("Saved")
        self.show_now()

    def show_now(self) -> None:
        now = dt.datetime.now().astimezone()
        self.editor.now = (now.weekday(), now.hour)
        self.editor.update()
        state = self._services.schedule.now()
        change = next_change_text(state.next_change)
        self.now_label.setText(f"Now: {state.summary}" + (f" · next change {change}" if change else ""))
