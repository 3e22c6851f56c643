"""A small bar chart painted with QPainter (QtCharts is not in PySide6-Essentials)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MAX_BAR_WIDTH = 48.0


class BarChart(QWidget):
    """Bars of integer values with a label under each; the caller formats the axis text."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []
        self.values: list[int] = []
        self.max_label = ""
        self.empty_text = "No earnings in this period yet"
        self.setMinimumSize(QSize(320, 180))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_data(self, labels: Sequence[str], values: Sequence[int], max_label: str = "") -> None:
        self.labels = list(labels)
        self.values = list(values)
        self.max_label = max_label
        self.update()

    def label_every(self) -> int:
        """Every n-th bar gets its label, so labels (about 60 px each) never overlap."""
        width = self.width() - 16.0
        return max(1, -(-len(self.values) // max(1, int(width / 60))))

    def shown_labels(self) -> list[str]:
        every = self.label_every()
        return [label for i, label in enumerate(self.labels) if i % every == 0]

    def bar_width(self) -> float:
        slot = (self.width() - 16.0) / max(1, len(self.values))
        return max(1.0, min(slot * 0.7, MAX_BAR_WIDTH))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        text_colour = self.palette().text().color()
        if not self.values or max(self.values) <= 0:
            painter.setPen(text_colour)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            painter.end()
            return
        top, bottom, left, right = 22.0, 26.0, 8.0, 8.0
        plot = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        peak = max(self.values)
        slot = plot.width() / len(self.values)
        # A bar is at most MAX_BAR_WIDTH wide: a period with one bar must not paint one wide block.
        bar_width = max(1.0, min(slot * 0.7, MAX_BAR_WIDTH))
        painter.setPen(text_colour)
        painter.drawText(QRectF(left, 2, plot.width(), top - 4), Qt.AlignmentFlag.AlignLeft, self.max_label)
        # The axes: a line at the top (the max label's value) and the time axis at the bottom.
        grid_colour = self.palette().mid().color()
        painter.setPen(QPen(grid_colour, 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(plot.left(), plot.top()), QPointF(plot.right(), plot.top()))
        painter.setPen(QPen(text_colour, 1))
        painter.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        label_every = self.label_every()
        for i, value in enumerate(self.values):
            height = plot.height() * value / peak  # display only: the amounts stay integers
            x = plot.left() + i * slot + (slot - bar_width) / 2
            painter.fillRect(QRectF(x, plot.bottom() - height, bar_width, height), QColor("#3a7bd5"))
            if i % label_every == 0 and i < len(self.labels):
                painter.drawText(
                    QRectF(plot.left() + i * slot - 20, plot.bottom() + 4, slot + 40, bottom - 4),
                    Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                    self.labels[i],
                )
        painter.end()
