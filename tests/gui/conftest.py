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
# ("This plugin does not support raise()", "… propagateSizeHints()"); nor a tray host to follow when
# a tray icon shows (`hostapp gui`'s own launch()).
PLATFORM_NOISE = ("This plugin does not support ", "QPlatformNativeInterface::systemTrayWindowChanged")


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


@pytest.fixture(autouse=True)
def refresh_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A page on screen refreshes on each change, not at most every few seconds: tests wait on each
    refresh (the interval itself: tests/gui/test_page_refreshes.py)."""
    from hostapp.gui.pages.common import Coalesced

    monkeypatch.setattr(Coalesced, "visible_interval_ms", 0)


@pytest.fixture
def node_daemon(hostapp_home: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The node process's control side, in this process: the real NodeDaemon over real services and a
    real control socket (tests/support.py in_process_node). The tray under test reaches it only
    through that socket, as it does in use."""
    # The autostart toggle writes real XDG autostart files: into this test's folder, not ~/.config.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(hostapp_home / "xdg-config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(hostapp_home / "xdg-config-dirs"))
    from hostapp.app import build_services
    from tests.support import in_process_node

    daemon = in_process_node(build_services(setup_logs=False))
    yield daemon
    daemon.stop()


@pytest.fixture
def node_store(node_daemon):  # type: ignore[no-untyped-def]
    """The node's store: where tests put the jobs and ledger rows the pages then ask the node for."""
    return node_daemon.services.store


@pytest.fixture
def gui_services(node_daemon, qapp: object):  # type: ignore[no-untyped-def]
    from hostapp.gui.workers import wait_for_background
    from tests.support import tray_services

    services, link = tray_services(node_daemon.services.paths)
    yield services
    wait_for_background()
    link.close()
    node_daemon.stop()  # ends the event stream at once (the fixture's own stop then finds it stopped)
    link.close(wait=10)  # no thread of this test left to touch objects in the next one


@pytest.fixture
def no_embedded_grid(gui_services) -> None:  # type: ignore[no-untyped-def]
    """For tests that run their own LocalChain: the node gets a grid URL where nothing listens. Once a
    wallet is imported the node starts, and with no grid URL it would start the embedded grid, whose
    chain would take over the test chain's state folder and endpoint (a withdrawal then lands on the
    other chain: a flaky balance)."""
    settings = gui_services.settings.model_copy(deep=True)
    settings.grid.url = "http://127.0.0.1:9"
    gui_services.save_settings(settings)


@pytest.fixture
def tray_app(gui_services, qtbot):  # type: ignore[no-untyped-def]
    from hostapp.gui.app import build_tray_app

    app = build_tray_app(gui_services)
    qtbot.addWidget(app.window)
    qtbot.addWidget(app.tray)
    yield app
    app.tray.tray.hide()
    app.bridge.close()
