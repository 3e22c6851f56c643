"""Starts the tray app: one instance, the bridge, the tray icon, the window, the first-run wizard."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

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


def start_node(services: GuiServices, tray_app: TrayApp) -> None:
    """Starts the core node off the GUI thread; its problem (no wallet yet, Docker down) shows in the tray."""
    from hostapp.gui.wiring import CoreNode
    from hostapp.gui.workers import run_in_background

    node = services.node
    if not isinstance(node, CoreNode):
        return

    def show(_result: object) -> None:
        tray_app.tray.apply_status(node.status())

    run_in_background(node.start_blocking, show, lambda _exc: tray_app.tray.apply_status(node.status()))


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
    start_node(services, tray_app)
    first_run = services.store.get_kv(FIRST_RUN_KEY) is None
    if first_run:
        from hostapp.gui.wizard import FirstRunWizard

        wizard = FirstRunWizard(services)
        wizard.finished.connect(lambda _code: services.store.set_kv(FIRST_RUN_KEY, "1"))
        wizard.finished.connect(lambda _code: services.node.start())  # a wallet may exist now
        wizard.show()
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
