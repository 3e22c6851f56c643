"""A small bar chart painted with QPainter (QtCharts is not in PySide6-Essentials)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget


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
        bar_width = max(1.0, slot * 0.7)
        painter.setPen(text_colour)
        painter.drawText(QRectF(left, 2, plot.width(), top - 4), Qt.AlignmentFlag.AlignLeft, self.max_label)
        label_every = max(1, int(len(self.values) / max(1.0, plot.width() / 60)))
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
