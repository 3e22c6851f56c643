"""Icons by name from resources/, with a painted coloured circle when a file is missing."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

RESOURCES_ENV = "HOSTAPP_RESOURCES"

# Fallback colours per icon name: the tray must still tell states apart without the SVGs.
FALLBACK_COLOURS = {
    "working": "#2e9d4f",
    "waiting": "#3a7bd5",
    "paused": "#e0a800",
    "offline": "#8a8f98",
    "error": "#d64541",
    "hostapp": "#5b4bd6",
}


def resources_dir() -> Path:
    override = os.environ.get(RESOURCES_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent.parent / "resources"


def _candidates(name: str) -> list[Path]:
    base = resources_dir()
    names = [f"icons/tray/{name}", f"icons/{name}", name, f"tray-{name}"]
    if name == "hostapp":
        names.insert(0, "icons/io.hostapp.HostApp")
    return [base / f"{n}.{ext}" for n in names for ext in ("svg", "png")]


def circle_pixmap(colour: str, size: int = 64) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor("#ffffff"))
    painter.setBrush(QColor(colour))
    margin = size // 8
    painter.drawEllipse(margin, margin, size - 2 * margin, size - 2 * margin)
    painter.end()
    return pixmap


@functools.cache
def icon(name: str) -> QIcon:
    """resources/<name>.svg (or tray-<name>.svg); a coloured circle if none is there or it is unreadable."""
    for path in _candidates(name):
        if path.is_file():
            loaded = QIcon(str(path))
            if not loaded.isNull() and not loaded.pixmap(32, 32).isNull():
                return loaded
    return QIcon(circle_pixmap(FALLBACK_COLOURS.get(name, "#5b4bd6")))
