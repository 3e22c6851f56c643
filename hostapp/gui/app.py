"""Starts the tray app: one instance, the bridge, the tray icon, the window, the first-run wizard."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from hostapp.gui.bridge import EventBridge
from hostapp.gui.icons import icon
from hostapp.gui.main_window import MainWindow
from hostapp.gui.single_instance import SingleInstance
from hostapp.gui.tray import TrayController
from hostapp.gui.wiring import GuiServices

log = logging.getLogger(__name__)

FIRST_RUN_KEY = "gui.first_run_done"


@dataclass
class TrayApp:
    """Everything one running tray app holds; tests build it without entering the event loop."""

    services: GuiServices
    bridge: EventBridge
    window: MainWindow
    tray: TrayController

    def open_dashboard(self) -> None:
        self.window.show_page("Dashboard")
        self.window.bring_to_front()

    def quit(self) -> None:
        self.window.keep_in_tray = False
        self.tray.tray.hide()
        self.bridge.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()


def build_tray_app(services: GuiServices) -> TrayApp:
    bridge = EventBridge(services.bus)
    window = MainWindow(services, bridge)
    holder: dict[str, TrayApp] = {}
    tray = TrayController(
        services.node,
        bridge,
        open_dashboard=lambda: holder["app"].open_dashboard(),
        quit_app=lambda: holder["app"].quit(),
    )
    tray_app = TrayApp(services, bridge, window, tray)
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
    first_run = services.store.get_kv(FIRST_RUN_KEY) is None
    if first_run:
        from hostapp.gui.wizard import FirstRunWizard

        wizard = FirstRunWizard(services)
        wizard.finished.connect(lambda _code: services.store.set_kv(FIRST_RUN_KEY, "1"))
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
