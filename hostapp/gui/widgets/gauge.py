"""A round gauge (value on an arc) for GPU temperature, utilisation, power and VRAM."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class Gauge(QWidget):
    def __init__(self, title: str, unit: str, maximum: float, warn_at: float | None = None) -> None:
        super().__init__()
        self.title = title
        self.unit = unit
        self.maximum = maximum
        self.warn_at = warn_at
        self.value: float | None = None
        self.caption = ""
        self.setMinimumSize(QSize(120, 120))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_value(self, value: float | None, maximum: float | None = None, caption: str = "") -> None:
        if maximum:
            self.maximum = maximum
        self.value = value
        self.caption = caption
        self.update()

    def text(self) -> str:
        return "—" if self.value is None else f"{self.value:.0f} {self.unit}".strip()

    def paintEvent(self, event: QPaintEvent) -> None:
        side = min(self.width(), self.height()) - 16
        rect = QRectF((self.width() - side) / 2, 8, side, side)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = QPen(self.palette().mid().color(), 10, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        painter.setPen(track)
        painter.drawArc(rect.adjusted(6, 6, -6, -6), 225 * 16, -270 * 16)
        if self.value is not None and self.maximum > 0:
            fraction = max(0.0, min(1.0, self.value / self.maximum))
            hot = self.warn_at is not None and self.value >= self.warn_at
            colour = QColor("#d64541" if hot else "#2e9d4f")
            painter.setPen(QPen(colour, 10, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.drawArc(rect.adjusted(6, 6, -6, -6), 225 * 16, int(-270 * 16 * fraction))
        painter.setPen(self.palette().text().color())
        big = QFont(self.font())
        big.setPointSizeF(self.font().pointSizeF() * 1.4)
        big.setBold(True)
        painter.setFont(big)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.text())
        painter.setFont(self.font())
        below = QRectF(rect.left(), rect.center().y() + side * 0.18, rect.width(), side * 0.3)
        painter.drawText(
            below,
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
            self.title + (f"\n{self.caption}" if self.caption else ""),
        )
        painter.end()
