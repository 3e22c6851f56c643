"""Starts the tray app: one instance, the tray icon, then the core, the window, the node or the wizard.

Start order (target: start to tray ≤ 0.5 s, docs/benchmarks.md): only Qt, the event bus and the paths are
imported before the icon shows. Settings, the schedule policy, the link to the node and the window
come after it, on the event loop's first turn. The node runs in its own process (`hostapp node`);
the tray loads none of its modules (tests/unit/test_tray_boundary.py).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from hostapp.events import EventBus
from hostapp.gui.bridge import EventBridge
from hostapp.gui.icons import icon
from hostapp.gui.single_instance import SingleInstance
from hostapp.gui.tray import TrayController
from hostapp.gui.viewmodels import NodeState, NodeStatus

if TYPE_CHECKING:
    from pathlib import Path

    from hostapp.config.paths import AppPaths
    from hostapp.gui.main_window import MainWindow
    from hostapp.gui.notifications import Notifier
    from hostapp.gui.remote import NodeLink
    from hostapp.gui.wiring import GuiServices

log = logging.getLogger(__name__)

FIRST_RUN_MARKER = "first-run-done"  # in the config folder: the wizard ran once
FIRST_STATUS_TIMEOUT = 3.0  # a node that does not answer the first status in this is left to the stream


@dataclass
class TrayApp:
    """Everything one running tray app holds; tests build it without entering the event loop.

    It exists before the core does (`start_tray`): `attach` hands it the services once built."""

    bridge: EventBridge
    tray: TrayController
    _services: GuiServices | None = field(default=None, repr=False)
    notifier: Notifier | None = field(default=None, repr=False)
    _window: MainWindow | None = field(default=None, repr=False)
    wizard: QWidget | None = field(default=None, repr=False)

    @property
    def services(self) -> GuiServices:
        if self._services is None:
            raise RuntimeError("the tray app's services are not built yet")
        return self._services

    def attach(self, services: GuiServices) -> None:
        from hostapp.gui.notifications import Notifier

        self._services = services
        self.notifier = Notifier(
            self.tray.tray,
            self.bridge,
            lambda: services.settings.notifications,
            services.token_decimals,
            services.unit_symbol,
        )
        self.tray.attach(services.node)

    @property
    def window(self) -> MainWindow:
        """Built on first use: the tray icon appears before the pages (and their imports) exist."""
        if self._window is None:
            from hostapp.gui.main_window import MainWindow

            self._window = MainWindow(self.services, self.bridge)
        return self._window

    def open_dashboard(self) -> None:
        if self._services is None:
            return  # still starting: the next event-loop turn builds it
        self.window.show_page("Dashboard")
        self.window.bring_to_front()

    def stop_node_and_quit(self) -> None:
        """The menu's "Stop earning and quit": the node stops (its jobs are stopped and released), then the tray."""
        from hostapp.gui.remote import RemoteNode

        node = self._services.node if self._services is not None else None
        if isinstance(node, RemoteNode):
            try:
                node.link.shutdown()
            except Exception as exc:  # already gone: quitting the tray is all that is left
                log.info("the node did not take shutdown: %s", exc)
        self.quit()

    def quit(self) -> None:
        if self._window is not None:
            self._window.keep_in_tray = False
        self.tray.tray.hide()
        self.bridge.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()


def start_tray(bus: EventBus) -> TrayApp:
    """The bridge and the tray icon (state Starting) over `bus`, before any core service exists."""
    bridge = EventBridge(bus)
    holder: dict[str, TrayApp] = {}
    tray = TrayController(
        None,
        bridge,
        open_dashboard=lambda: holder["app"].open_dashboard(),
        quit_app=lambda: holder["app"].quit(),
        stop_and_quit=lambda: holder["app"].stop_node_and_quit(),
    )
    tray_app = TrayApp(bridge, tray)
    holder["app"] = tray_app
    return tray_app


def build_tray_app(services: GuiServices) -> TrayApp:
    tray_app = start_tray(services.bus)
    tray_app.attach(services)
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


NO_WALLET = "the setup window is open: create or import a wallet there"


def wallet_ready(services: GuiServices) -> bool:
    """A wallet whose seed backup is confirmed exists (asks the node: a worker-thread call)."""
    try:
        summary = services.wallet.summary() if services.wallet is not None else None
    except ValueError:
        return False  # no node answers: the tray says so, the wizard cannot help
    return summary is not None and summary.backup_confirmed


def start_or_set_up(services: GuiServices, tray_app: TrayApp, set_up: Callable[[], None]) -> None:
    """After the tray icon shows: on a worker thread, find or start the node and follow its events;
    then, if it has no wallet with a confirmed backup, call `set_up` (the first-run wizard) on the GUI
    thread. The node waits for the wallet on its own and starts working once it exists."""
    from hostapp.gui.remote import RemoteNode
    from hostapp.gui.workers import run_in_background

    if not isinstance(services.node, RemoteNode):
        return
    link = services.node.link

    def attach_and_check() -> bool:
        link.start()
        return (not link.up and link.snapshot.state.value == "stopped") or wallet_ready(services)

    def done(ready: bool) -> None:
        if not ready:
            set_up()
        tray_app.tray.apply_status(services.node.status())

    run_in_background(attach_and_check, done, lambda _exc: tray_app.tray.apply_status(services.node.status()))


def show_wizard(services: GuiServices, tray_app: TrayApp) -> None:
    from hostapp.gui.wizard import FirstRunWizard

    wizard = FirstRunWizard(services)
    tray_app.wizard = wizard  # kept alive while open

    def finished(_code: int) -> None:
        mark_first_run_done(services.paths)
        tray_app.tray.apply_status(services.node.status())

    wizard.finished.connect(finished)
    wizard.show()


def mark_first_run_done(paths: AppPaths) -> None:
    (paths.config / FIRST_RUN_MARKER).touch()


def connect_to_node(paths: AppPaths, bus: EventBus) -> NodeLink:
    """The tray's link to the node process (started detached when none answers)."""
    from hostapp.control.client import NodeClient, NodeSupervisor
    from hostapp.gui.remote import NodeLink

    client = NodeClient(paths.control_socket)
    return NodeLink(client, NodeSupervisor(client, paths.logs / "node-console.log"), bus)


@dataclass
class Launch:
    app: QApplication
    instance: SingleInstance
    tray_app: TrayApp
    paths: AppPaths
    link: NodeLink | None = None

    def close(self, stop_node: bool = False) -> None:
        """After the event loop: the bridge, the instance claim, the link; the node too only if asked
        (a tray's Quit leaves it earning; a script over a throw-away home stops the node it started)."""
        self.tray_app.bridge.close()
        self.instance.release()
        if self.link is not None:
            if stop_node:
                with contextlib.suppress(Exception):  # already gone: nothing to stop
                    self.link.shutdown()
            self.link.close()  # the node keeps running unless stopped above: it is its own process


def launch() -> Launch | None:
    """QApplication, one-instance claim, tray icon shown. None if another instance took the call."""
    from hostapp.config.paths import default_paths

    app = ensure_application(sys.argv[:1])
    paths = default_paths().ensure()
    instance = SingleInstance(str(paths.data))
    if not instance.claim():
        return None
    tray_app = start_tray(EventBus())
    tray_app.tray.show()
    show_first_status(tray_app.tray, paths.control_socket)
    return Launch(app, instance, tray_app, paths)


def show_first_status(tray: TrayController, socket_path: Path) -> None:
    """One status request right after the icon shows, on a worker thread: the icon and tooltip show
    the node's state (a running job, a pause) from its first answer, while settings, the link to the
    node and the pages are still being built. A tray killed mid-job and started again shows the job
    at once, not after its start-up. The event stream's statuses follow as usual; this one is shown
    only if none came first. No node answering: the tray stays Starting (the supervisor starts one)."""
    from hostapp.gui.workers import run_in_background

    def ask() -> NodeStatus | None:
        from hostapp.control.client import NodeClient
        from hostapp.control.transport import ControlError

        try:
            return NodeStatus.from_snapshot(NodeClient(socket_path).status(timeout=FIRST_STATUS_TIMEOUT))
        except ControlError:
            return None

    def show(status: NodeStatus | None) -> None:
        if status is not None and tray.status.state is NodeState.STARTING:
            tray.apply_status(status)

    run_in_background(ask, show, lambda exc: log.info("first status not read: %s", exc))


def finish_start(started: Launch, show_window: bool = False) -> None:
    """After the icon shows: settings, the link to the node, the GUI services, then the wizard or the
    window. The node itself runs in its own process (`hostapp node`); closing the tray never stops it."""
    from hostapp.config.settings import load_settings
    from hostapp.gui.wiring import build_gui_services
    from hostapp.logs import setup_logging

    tray_app = started.tray_app
    paths = started.paths
    setup_logging(paths.logs, file_name="tray.log")
    settings = load_settings(paths.settings_file).settings
    link = connect_to_node(paths, tray_app.bridge.bus)
    started.link = link
    services = build_gui_services(paths, settings, link)
    tray_app.attach(services)
    started.instance.raise_requested.connect(tray_app.open_dashboard)
    start_or_set_up(services, tray_app, lambda: show_wizard(services, tray_app))
    if show_window or not QSystemTrayIcon.isSystemTrayAvailable():
        keep_in_tray = QSystemTrayIcon.isSystemTrayAvailable()
        if not keep_in_tray:
            log.warning("no system tray on this desktop: closing the window quits hostapp")
        # On the next turn: the node's first status (asked when the icon showed) reaches the tray
        # before the window and its Dashboard are built.
        QTimer.singleShot(0, lambda: open_window(tray_app, keep_in_tray))
    # Otherwise the window (the Dashboard; each other page when first shown) is built when first opened:
    # most days the app lives in the tray only (idle RSS target ≤ 80 MB), and opening it takes well
    # under a second.


def open_window(tray_app: TrayApp, keep_in_tray: bool = True) -> None:
    tray_app.window.keep_in_tray = keep_in_tray  # False: no tray to return to, closing quits
    tray_app.open_dashboard()


def run(show_window: bool = False) -> int:
    """`hostapp gui`: returns the process exit code."""
    from hostapp.gui.binding_check import binding_fault

    fault = binding_fault()  # a binding that loses None references would abort the tray minutes later
    if fault is not None:
        print(f"hostapp: {fault}", file=sys.stderr)
        return 1
    started = launch()
    if started is None:
        print("hostapp is already running: its window was brought to the front")
        return 0
    QTimer.singleShot(0, lambda: finish_start(started, show_window))
    try:
        return int(started.app.exec())
    finally:
        started.close()
