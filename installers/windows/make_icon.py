"""Renders resources/icons/io.hostapp.HostApp.svg to installers/windows/hostapp.ico (256 px).

Windows wants an .ico for the executable and the installer; the SVG stays the only source.
Run with the build venv (PySide6 installed): python installers/windows/make_icon.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "resources" / "icons" / "io.hostapp.HostApp.svg"
TARGET = ROOT / "installers" / "windows" / "hostapp.ico"
SIZE = 256


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt  # noqa: TID251 (a build tool, not the core)
    from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: TID251
    from PySide6.QtSvg import QSvgRenderer  # noqa: TID251

    _app = QGuiApplication([])
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        print(f"make_icon: cannot read {SOURCE}", file=sys.stderr)
        return 1
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    if not image.save(str(TARGET), "ICO"):
        print(f"make_icon: Qt could not write {TARGET} (no ICO image plugin?)", file=sys.stderr)
        return 1
    print(TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
