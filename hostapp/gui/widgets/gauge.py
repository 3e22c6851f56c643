"""A round gauge (value on an arc) for GPU temperature, utilisation, power and VRAM.

The arc, the value inside it and the title and caption under it each have their own rectangle
(`arc_rect`, `value_rect`, `label_rect`), laid out so that no text is ever painted over the arc.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

ARC_PEN = 10.0
MARGIN = 4.0


class Gauge(QWidget):
    def __init__(self, title: str, unit: str, maximum: float, warn_at: float | None = None) -> None:
        super().__init__()
        self.title = title
        self.unit = unit
        self.maximum = maximum
        self.warn_at = warn_at
        self.value: float | None = None
        self.caption = ""
        self.setMinimumSize(QSize(120, 150))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_value(self, value: float | None, maximum: float | None = None, caption: str = "") -> None:
        if maximum:
            self.maximum = maximum
        self.value = value
        self.caption = caption
        self.update()

    def text(self) -> str:
        return "—" if self.value is None else f"{self.value:.0f} {self.unit}".strip()

    def _value_font(self) -> QFont:
        big = QFont(self.font())
        big.setPointSizeF(self.font().pointSizeF() * 1.3)
        big.setBold(True)
        return big

    def label_rect(self) -> QRectF:
        """Title and caption: a band at the bottom, below the arc; two lines whether or not there is a
        caption, so gauges side by side have arcs of one size."""
        height = QFontMetricsF(self.font()).lineSpacing() * 2 + MARGIN
        return QRectF(0, self.height() - height, self.width(), height)

    def arc_rect(self) -> QRectF:
        """The square the arc (with its pen) is painted in: above the label band, centred."""
        side = max(20.0, min(float(self.width()), self.label_rect().top()) - 2 * MARGIN)
        return QRectF((self.width() - side) / 2, MARGIN, side, side)

    def value_rect(self) -> QRectF:
        """The value's text, inside the ring (the ring's inner square, so the text never reaches it)."""
        inner = self.arc_rect().adjusted(ARC_PEN * 1.5, ARC_PEN * 1.5, -ARC_PEN * 1.5, -ARC_PEN * 1.5)
        inset = inner.width() * 0.146  # the square inscribed in the inner circle: (1 - 1/√2) / 2
        return inner.adjusted(inset, inset, -inset, -inset)

    def value_fits(self) -> bool:
        width = QFontMetricsF(self._value_font()).horizontalAdvance(self.text())
        return width <= self.value_rect().width() + 1

    def paintEvent(self, event: QPaintEvent) -> None:
        rect = self.arc_rect().adjusted(ARC_PEN / 2, ARC_PEN / 2, -ARC_PEN / 2, -ARC_PEN / 2)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = QPen(self.palette().mid().color(), ARC_PEN, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        painter.setPen(track)
        painter.drawArc(rect, 225 * 16, -270 * 16)
        if self.value is not None and self.maximum > 0:
            fraction = max(0.0, min(1.0, self.value / self.maximum))
            hot = self.warn_at is not None and self.value >= self.warn_at
            colour = QColor("#d64541" if hot else "#2e9d4f")
            painter.setPen(QPen(colour, ARC_PEN, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.drawArc(rect, 225 * 16, int(-270 * 16 * fraction))
        painter.setPen(self.palette().text().color())
        big = self._value_font()
        value_rect = self.value_rect()
        width = QFontMetricsF(big).horizontalAdvance(self.text())
        if width > value_rect.width() > 0:  # a small gauge: shrink the value rather than cross the ring
            big.setPointSizeF(max(6.0, big.pointSizeF() * value_rect.width() / width))
        painter.setFont(big)
        painter.drawText(value_rect, Qt.AlignmentFlag.AlignCenter, self.text())
        painter.setFont(self.font())
        painter.drawText(
            self.label_rect(),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
            self.title + (f"\n{self.caption}" if self.caption else ""),
        )
        painter.end()
