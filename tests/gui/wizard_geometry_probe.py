"""Run as `python -m tests.gui.wizard_geometry_probe` (a fresh process per scaling: Qt reads
QT_SCALE_FACTOR / QT_FONT_DPI once, at QApplication start): opens the real first-run wizard at
its default size, creates a wallet through the real keyring, and prints as JSON every word label
and input of the seed-phrase and confirm pages that is narrower than 80 px, clipped, squashed or
outside the window."""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

MIN_WIDTH = 80


def problems_of(widget, window, what: str) -> list[str]:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QLabel

    found = []
    rect = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    if not widget.isVisible():
        found.append(f"{what}: not visible")
    if widget.width() < MIN_WIDTH:
        found.append(f"{what}: {widget.width()} px wide")
    if not window.rect().contains(rect):
        found.append(f"{what}: {rect.getRect()} outside the window {window.rect().getRect()}")
    if widget.visibleRegion().boundingRect() != widget.rect():
        found.append(f"{what}: clipped to {widget.visibleRegion().boundingRect().getRect()}")
    if widget.height() < widget.minimumSizeHint().height():
        found.append(f"{what}: {widget.height()} px tall, needs {widget.minimumSizeHint().height()}")
    if isinstance(widget, QLabel) and widget.fontMetrics().horizontalAdvance(widget.text()) > widget.width():
        found.append(f"{what}: text {widget.text()!r} wider than its {widget.width()} px")
    return found


def wait_until(app, condition, seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the wizard")
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()


def main() -> int:
    from PySide6.QtWidgets import QApplication, QLineEdit

    from hostapp.app import build_services
    from hostapp.gui.workers import wait_for_background
    from tests.support import in_process_node, tray_services

    app = QApplication(sys.argv[:1])
    daemon = in_process_node(build_services(setup_logs=False))
    services, link = tray_services(daemon.services.paths)
    from hostapp.gui.wizard import FirstRunWizard

    wizard = FirstRunWizard(services)
    wizard.show()
    wait_until(app, wizard.isVisible)
    result: dict[str, object] = {"size": [wizard.width(), wizard.height()], "ratio": wizard.devicePixelRatio()}
    while wizard.currentPage() is not wizard.wallet:
        wizard.next()
    wizard.wallet.create_wallet()
    wait_until(app, lambda: wizard.currentPage() is wizard.phrase)
    problems: list[str] = []
    labels = wizard.phrase.word_labels
    result["words"] = [label.text() for label in labels]
    for label in labels:
        problems += problems_of(label, wizard, f"word {label.text()!r}")
    wizard.next()
    wait_until(app, lambda: wizard.currentPage() is wizard.confirm)
    edits = wizard.confirm.findChildren(QLineEdit)
    result["inputs"] = len(edits)
    for position, edit in wizard.confirm.word_edits.items():
        problems += problems_of(edit, wizard, f"input for word {position}")
    problems += problems_of(wizard.confirm.check_button, wizard, "the Check button")
    result["problems"] = problems
    print(json.dumps(result))
    wizard.close()
    wait_for_background()
    link.close()
    daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
