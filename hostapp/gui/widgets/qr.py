"""A QR code painted from qrcode's module matrix (no Pillow needed)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget


def qr_matrix(text: str) -> list[list[bool]]:
    import qrcode  # only where a QR code is drawn (the Wallet page, the wizard): not in every tray

    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


class QrCode(QWidget):
    def __init__(self, size: int = 180) -> None:
        super().__init__()
        self.matrix: list[list[bool]] = []
        self.text: str | None = None
        self.setFixedSize(QSize(size, size))

    def set_text(self, text: str | None) -> None:
        if text == self.text:
            return  # the same address again (every wallet event re-reads it): ~60 ms of encoding saved
        self.text = text
        self.matrix = qr_matrix(text) if text else []
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        if not self.matrix:
            painter.setPen(QColor("#666666"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no wallet")
            painter.end()
            return
        count = len(self.matrix)
        cell = min(self.width(), self.height()) / count
        for y, row in enumerate(self.matrix):
            for x, dark in enumerate(row):
                if dark:
                    painter.fillRect(QRectF(x * cell, y * cell, cell + 0.5, cell + 0.5), QColor("black"))
        painter.end()
