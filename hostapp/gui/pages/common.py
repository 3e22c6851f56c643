"""Small shared bits of the pages: headings, cards, amount formatting, one-line messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtWidgets import QFrame, QLabel, QMessageBox, QVBoxLayout, QWidget


def heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.5)
    font.setBold(True)
    label.setFont(font)
    return label


def card(*widgets: QWidget) -> QFrame:
    frame = QFrame()
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    layout = QVBoxLayout(frame)
    for widget in widgets:
        layout.addWidget(widget)
    return frame


def when_text(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


class Message(QLabel):
    """A one-line status under a form: green for done, red for what went wrong and what to do."""

    def __init__(self) -> None:
        super().__init__("")
        self.setWordWrap(True)

    def ok(self, text: str) -> None:
        self.setStyleSheet("color: #2e7d32;")
        self.setText(text)

    def error(self, text: str) -> None:
        self.setStyleSheet("color: #c62828;")
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
