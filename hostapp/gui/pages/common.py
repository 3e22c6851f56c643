"""Small shared bits of the pages: headings, cards, amount formatting, one-line messages."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QFrame, QHeaderView, QLabel, QLayout, QMessageBox, QTableView, QVBoxLayout, QWidget


def heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.5)
    font.setBold(True)
    label.setFont(font)
    return label


def card(*items: QWidget | QLayout) -> QFrame:
    frame = QFrame()
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    layout = QVBoxLayout(frame)
    for item in items:
        if isinstance(item, QLayout):
            layout.addLayout(item)
        else:
            layout.addWidget(item)
    return frame


def fit_columns(table: QTableView, stretch: int) -> None:
    """Every column as wide as its text, one line per row, except `stretch`, which takes what is
    left and elides in the middle (a signature keeps its start and end; the tooltip has all of it):
    no cut ids, no wrapped times, no horizontal scrolling."""
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    header.setStretchLastSection(False)
    table.setWordWrap(False)
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.verticalHeader().setVisible(False)


def when_text(timestamp: float | None) -> str:
    """Local time to the minute: `30 Nov 08:11` this year, `30 Nov 2025 08:11` before (short enough
    for a table column that never wraps)."""
    if timestamp is None:
        return "—"
    when = dt.datetime.fromtimestamp(timestamp)
    return when.strftime("%d %b %H:%M" if when.year == dt.date.today().year else "%d %b %Y %H:%M")


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


# (on a light background, on a dark one): the theme follows the system's light/dark scheme.
STATUS_COLOURS = {"ok": ("#2e7d32", "#81c784"), "warn": ("#b26a00", "#ffb74d"), "error": ("#c62828", "#ef9a9a")}


def is_dark(_widget: QWidget | None = None) -> bool:
    # The application palette: Qt replaces it when the desktop switches light/dark, while a
    # widget that has a style sheet keeps the palette it was polished with.
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def status_colour(kind: str, widget: QWidget) -> str:
    light, dark = STATUS_COLOURS[kind]
    return dark if is_dark(widget) else light


class Message(QLabel):
    """A one-line status under a form: green for done, red for what went wrong and what to do.
    Its colour is picked for the current palette and again when the system theme changes."""

    def __init__(self) -> None:
        super().__init__("")
        self.setWordWrap(True)
        self.kind = "ok"
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            # A widget whose ancestors' palette is fixed gets no PaletteChange: follow the app's.
            app.paletteChanged.connect(self._on_app_palette)

    def _on_app_palette(self, _palette: QPalette) -> None:
        if self.text():
            self._paint_kind()

    def _paint_kind(self) -> None:
        sheet = f"color: {status_colour(self.kind, self)};"
        if self.styleSheet() != sheet:  # setting a style sheet sends a palette change: no loop
            self.setStyleSheet(sheet)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange) and self.text():
            self._paint_kind()

    def ok(self, text: str) -> None:
        self.kind = "ok"
        self._paint_kind()
        self.setText(text)

    def error(self, text: str) -> None:
        self.kind = "error"
        self._paint_kind()
        self.setText(text)


def show_error(parent: QWidget, title: str, text: str) -> QMessageBox:
    """A window-modal error dialog with the one-line message; returns at once (`open`, not `exec`),
    so a worker's callback never nests an event loop and tests can read and close it."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("error-dialog")
    box.open()
    return box


def ask(parent: QWidget, title: str, text: str, on_yes: Callable[[], object]) -> QMessageBox:
    """A Yes/No confirmation that calls `on_yes` only on Yes; non-blocking like `show_error`."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        parent,
    )
    box.setDefaultButton(QMessageBox.StandardButton.No)
    yes = box.button(QMessageBox.StandardButton.Yes)
    box.buttonClicked.connect(lambda button: on_yes() if button is yes else None)
    box.open()
    return box


class Coalesced(QObject):
    """Runs `action` once, `delay_ms` after the first of a burst of requests. A job's end brings two
    or three ledger.changed events and a node.payout within milliseconds: one refresh (a few questions
    to the node and a chart redraw), not three.

    Only while `page` is on screen: a request while it is hidden (another page is current, the
    window is closed to the tray) is remembered and runs when the page is next shown, so hidden
    pages cost nothing while the node works. `throttled`: on screen, runs are at least
    `visible_interval_ms` apart (what a page re-asks the node on every job's end)."""

    # Demo jobs end every ~3 s, each end a few questions to the node and a redraw per page: a page on
    # screen shows the money at most this late. tests/gui/conftest.py sets 0 (tests wait on each refresh).
    visible_interval_ms = 5000

    def __init__(
        self, page: QWidget, action: Callable[[], object], delay_ms: int = 200, throttled: bool = False
    ) -> None:
        super().__init__(page)
        self._page = page
        self._action = action
        self._delay_ms = delay_ms
        self._throttled = throttled
        self._last_run = -math.inf  # time.monotonic() of the last run
        self.pending = False  # asked while hidden: runs on the next show
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._run)
        page.installEventFilter(self)

    def request(self, _data: object = None) -> None:
        if not self._page.isVisible():
            self.pending = True
            return
        if not self._timer.isActive():
            wait_ms = float(self._delay_ms)
            if self._throttled:
                since_ms = (time.monotonic() - self._last_run) * 1000
                wait_ms = max(wait_ms, self.visible_interval_ms - since_ms)
            self._timer.start(int(wait_ms))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._page and event.type() == QEvent.Type.Show and self.pending:
            self._timer.start(0)  # just opened: what changed while hidden, now (no interval wait)
        return False

    def _run(self) -> None:
        if not self._page.isVisible():  # hidden between the request and the timer
            self.pending = True
            return
        self.pending = False
        self._last_run = time.monotonic()
        self._action()
