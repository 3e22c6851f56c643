"""The 7×24 schedule grid: click or drag to paint Off / Available / Only when idle.

It edits a copy of a WeeklyGrid and emits `changed(grid)`; saving is the page's service call.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from hostapp.gui.viewmodels import DAY_LABELS
from hostapp.schedule.grid import HOURS, Cell, WeeklyGrid

CELL_COLOURS = {Cell.OFF: "#d9dce1", Cell.AVAILABLE: "#2e9d4f", Cell.IDLE_ONLY: "#e0a800"}
DAY_COLUMN = 40
HOUR_ROW = 18


class GridEditor(QWidget):
    changed = Signal(object)  # the new WeeklyGrid

    def __init__(self) -> None:
        super().__init__()
        self._cells = [[Cell.OFF] * HOURS for _ in DAY_LABELS]
        self.brush = Cell.AVAILABLE
        self.now: tuple[int, int] | None = None  # (weekday, hour) outlined as "now"
        self._painting = False
        self.setMouseTracking(False)
        self.setMinimumSize(QSize(DAY_COLUMN + 24 * 18, HOUR_ROW + 7 * 22))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_grid(self, grid: WeeklyGrid) -> None:
        self._cells = [list(row) for row in grid.rows]
        self.update()

    def grid(self) -> WeeklyGrid:
        return WeeklyGrid(tuple(tuple(row) for row in self._cells))

    def cell_rect(self, day: int, hour: int) -> QRectF:
        width = (self.width() - DAY_COLUMN) / HOURS
        height = (self.height() - HOUR_ROW) / len(DAY_LABELS)
        return QRectF(DAY_COLUMN + hour * width, HOUR_ROW + day * height, width, height)

    def cell_at(self, point: QPoint) -> tuple[int, int] | None:
        width = (self.width() - DAY_COLUMN) / HOURS
        height = (self.height() - HOUR_ROW) / len(DAY_LABELS)
        if point.x() < DAY_COLUMN or point.y() < HOUR_ROW:
            return None
        hour = int((point.x() - DAY_COLUMN) / width)
        day = int((point.y() - HOUR_ROW) / height)
        if 0 <= day < len(DAY_LABELS) and 0 <= hour < HOURS:
            return day, hour
        return None

    def _paint_at(self, point: QPoint) -> None:
        hit = self.cell_at(point)
        if hit is None:
            return
        day, hour = hit
        if self._cells[day][hour] is not self.brush:
            self._cells[day][hour] = self.brush
            self.update(self.cell_rect(day, hour).toAlignedRect())
            self.changed.emit(self.grid())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._painting = True
            self._paint_at(event.position().toPoint())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._painting:
            self._paint_at(event.position().toPoint())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._painting = False

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        text = self.palette().text().color()
        painter.setPen(text)
        for hour in range(0, HOURS, 3):
            rect = self.cell_rect(0, hour)
            painter.drawText(
                QRectF(rect.left(), 0, rect.width() * 3, HOUR_ROW),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"{hour:02d}",
            )
        for day, label in enumerate(DAY_LABELS):
            rect = self.cell_rect(day, 0)
            painter.setPen(text)
            painter.drawText(
                QRectF(0, rect.top(), DAY_COLUMN - 4, rect.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
            for hour in range(HOURS):
                cell_rect = self.cell_rect(day, hour).adjusted(1, 1, -1, -1)
                painter.fillRect(cell_rect, QColor(CELL_COLOURS[self._cells[day][hour]]))
        if self.now is not None:
            painter.setPen(QPen(QColor("#1b1f24"), 3))
            painter.drawRect(self.cell_rect(*self.now).adjusted(1, 1, -1, -1))
        painter.end()
