"""GUI test setup: offscreen Qt, Qt warnings fail the test, services over a temporary HOSTAPP_HOME."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

# Messages of the offscreen platform itself, not of hostapp: a window shown offscreen has no
# window manager to pass size hints to.
# ("This plugin does not support raise()", "… propagateSizeHints()").
PLATFORM_NOISE = ("This plugin does not support ",)


def pytest_configure(config: pytest.Config) -> None:
    # pytest-qt would install its own message handler per test and replace ours.
    config.option.qt_log = False


@pytest.fixture(autouse=True)
def fail_on_qt_warnings() -> Iterator[list[str]]:
    recorded: list[str] = []

    def handler(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
        if kind in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            if not any(noise in message for noise in PLATFORM_NOISE):
                recorded.append(message)

    previous = qInstallMessageHandler(handler)
    yield recorded
    qInstallMessageHandler(previous)
    if recorded:
        pytest.fail("Qt warnings: " + " | ".join(recorded))


@pytest.fixture
def gui_services(hostapp_home: Path, qapp: object, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    # The autostart toggle writes real XDG autostart files: into this test's folder, not ~/.config.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(hostapp_home / "xdg-config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(hostapp_home / "xdg-config-dirs"))
    from hostapp.app import build_services
    from hostapp.gui.wiring import build_gui_services

    core = build_services(setup_logs=False)
    services = build_gui_services(core)
    yield services
    from hostapp.gui.workers import wait_for_background

    wait_for_background()
    core.close()


@pytest.fixture
def tray_app(gui_services, qtbot):  # type: ignore[no-untyped-def]
    from hostapp.gui.app import build_tray_app

    app = build_tray_app(gui_services)
    qtbot.addWidget(app.window)
    qtbot.addWidget(app.tray)
    yield app
    app.tray.tray.hide()
    app.bridge.close()
