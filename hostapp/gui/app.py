"""Starts the tray app: one instance, the bridge, the tray icon, the window, the first-run wizard."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from hostapp.gui.bridge import EventBridge
from hostapp.gui.icons import icon
from hostapp.gui.notifications import Notifier
from hostapp.gui.single_instance import SingleInstance
from hostapp.gui.tray import TrayController
from hostapp.gui.wiring import GuiServices

if TYPE_CHECKING:
    from hostapp.gui.main_window import MainWindow

log = logging.getLogger(__name__)

FIRST_RUN_KEY = "gui.first_run_done"


@dataclass
class TrayApp:
    """Everything one running tray app holds; tests build it without entering the event loop."""

    services: GuiServices
    bridge: EventBridge
    tray: TrayController
    notifier: Notifier
    _window: MainWindow | None = field(default=None, repr=False)
    wizard: QWidget | None = field(default=None, repr=False)

    @property
    def window(self) -> MainWindow:
        """Built on first use: the tray icon appears before the pages (and their imports) exist."""
        if self._window is None:
            from hostapp.gui.main_window import MainWindow

            self._window = MainWindow(self.services, self.bridge)
        return self._window

    def open_dashboard(self) -> None:
        self.window.show_page("Dashboard")
        self.window.bring_to_front()

    def quit(self) -> None:
        if self._window is not None:
            self._window.keep_in_tray = False
        self.tray.tray.hide()
        self.bridge.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()


def build_tray_app(services: GuiServices) -> TrayApp:
    bridge = EventBridge(services.bus)
    holder: dict[str, TrayApp] = {}
    tray = TrayController(
        services.node,
        bridge,
        open_dashboard=lambda: holder["app"].open_dashboard(),
        quit_app=lambda: holder["app"].quit(),
    )
    notifier = Notifier(
        tray.tray,
        bridge,
        lambda: services.settings.notifications,
        services.token_decimals,
        services.unit_symbol,
    )
    tray_app = TrayApp(services, bridge, tray, notifier)
    holder["app"] = tray_app
    return tray_app


def ensure_application(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(argv or ["hostapp"])
    app.setApplicationName("hostapp")
    app.setDesktopFileName("io.hostapp.HostApp")
    app.setWindowIcon(icon("hostapp"))
    app.setQuitOnLastWindowClosed(False)  # the tray keeps the app alive
    return app


NO_WALLET = "set up a wallet first: the setup window is open"


def wallet_ready(services: GuiServices) -> bool:
    """A wallet whose seed backup is confirmed exists (reads the keyring record: a worker-thread call)."""
    summary = services.wallet.summary() if services.wallet is not None else None
    return summary is not None and summary.backup_confirmed


def start_or_set_up(services: GuiServices, tray_app: TrayApp, set_up: Callable[[], None]) -> None:
    """After the tray icon shows: on a worker thread, start the core node (Docker, grid, wallet key)
    if a wallet is ready; otherwise call `set_up` (the first-run wizard) on the GUI thread. A node
    that cannot start (Docker down, grid refused) shows as *Stopped — reason* in the tray."""
    from hostapp.gui.wiring import CoreNode
    from hostapp.gui.workers import run_in_background

    node = services.node
    if not isinstance(node, CoreNode):
        return

    def check_and_start() -> bool:
        if not wallet_ready(services):
            return False
        node.start_blocking()
        return True

    def done(started: bool) -> None:
        if not started:
            node.problem = NO_WALLET
            set_up()
        tray_app.tray.apply_status(node.status())

    run_in_background(check_and_start, done, lambda _exc: tray_app.tray.apply_status(node.status()))


def show_wizard(services: GuiServices, tray_app: TrayApp) -> None:
    from hostapp.gui.wizard import FirstRunWizard

    wizard = FirstRunWizard(services)
    tray_app.wizard = wizard  # kept alive while open

    def finished(_code: int) -> None:
        services.store.set_kv(FIRST_RUN_KEY, "1")
        # Started only with a confirmed wallet; otherwise the tray keeps saying why it is stopped.
        start_or_set_up(services, tray_app, lambda: None)

    wizard.finished.connect(finished)
    wizard.show()


def run(show_window: bool = False) -> int:
    """`hostapp gui`: returns the process exit code."""
    from hostapp.app import build_services
    from hostapp.gui.wiring import build_gui_services

    app = ensure_application(sys.argv[:1])
    core = build_services()
    instance = SingleInstance(str(core.paths.data))
    if not instance.claim():
        print("hostapp is already running: its window was brought to the front")
        core.close()
        return 0
    services = build_gui_services(core)
    tray_app = build_tray_app(services)
    instance.raise_requested.connect(tray_app.open_dashboard)
    tray_app.tray.show()
    # The window (every page) is built right after the event loop starts, not before the icon.
    QTimer.singleShot(0, lambda: tray_app.window)
    QTimer.singleShot(0, lambda: start_or_set_up(services, tray_app, lambda: show_wizard(services, tray_app)))
    if show_window or not QSystemTrayIcon.isSystemTrayAvailable():
        if not QSystemTrayIcon.isSystemTrayAvailable():
            log.warning("no system tray on this desktop: closing the window quits hostapp")
            tray_app.window.keep_in_tray = False
        tray_app.open_dashboard()
    try:
        return int(app.exec())
    finally:
        tray_app.bridge.close()
        instance.release()
        core.close()
