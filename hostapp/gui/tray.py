"""The tray icon: one icon per node state, a tooltip with the reason, a menu rebuilt on open."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from hostapp.gui.bridge import EventBridge
from hostapp.gui.icons import icon
from hostapp.gui.viewmodels import (
    STATE_ICONS,
    NodeControl,
    NodeState,
    NodeStatus,
    PauseChoice,
)

log = logging.getLogger(__name__)

RESUMABLE = {NodeState.PAUSED, NodeState.SNOOZED}
STARTABLE = {NodeState.STOPPED, NodeState.ERROR, NodeState.OFFLINE}


def size_text(size: int) -> str:
    """Bytes as a person reads a download: 512 KB, 1.2 GB (decimal units, like registries show)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def pull_progress_text(data: dict[str, Any]) -> str:
    """A job.pull.progress event (hostapp/events/topics.py JobPullProgress) as one line, e.g.
    `Pulling image pytorch/pytorch:2.4: 1.2 GB / 3.4 GB (3 of 7 layers)`; "" once the pull finished."""
    if data.get("finished"):
        return ""
    image = str(data.get("image") or "image")
    done, total = int(data.get("bytes_done") or 0), int(data.get("bytes_total") or 0)
    layers_done, layers_total = int(data.get("layers_done") or 0), int(data.get("layers_total") or 0)
    amount = f"{size_text(done)} / {size_text(total)}" if total else "starting"
    layers = f" ({layers_done} of {layers_total} layers)" if layers_total else ""
    return f"Pulling image {image}: {amount}{layers}"


def serving_text(data: dict[str, Any]) -> str:
    """A service.traffic event (hostapp/events/topics.py ServiceTraffic) as one line, e.g.
    `Serving hostapp/demo-service:1 — 12 connections, 3.4 MB`."""
    image = str(data.get("image") or "a service")
    connections = int(data.get("connections") or 0)
    moved = int(data.get("bytes_in") or 0) + int(data.get("bytes_out") or 0)
    plural = "" if connections == 1 else "s"
    return f"Serving {image} — {connections} connection{plural}, {size_text(moved)}"


def resource_progress_text(data: dict[str, Any]) -> str:
    """A resource.progress event (hostapp/events/topics.py ResourceProgress) as one line, e.g.
    `Fetching model org/tiny: 3.2 GB / 7.8 GB`; "" once the fetch finished."""
    if data.get("finished"):
        return ""
    resource = str(data.get("resource") or "model")[:120]
    done, total = int(data.get("bytes_done") or 0), int(data.get("bytes_total") or 0)
    amount = f"{size_text(done)} / {size_text(total)}" if total else "starting"
    return f"Fetching model {resource}: {amount}"


def next_change_text(timestamp: float | None, now: dt.datetime | None = None) -> str:
    if timestamp is None:
        return ""
    now = now or dt.datetime.now().astimezone()
    when = dt.datetime.fromtimestamp(timestamp, now.tzinfo)
    if when.date() == now.date():
        return when.strftime("%H:%M")
    if when.date() == (now + dt.timedelta(days=1)).date():
        return "tomorrow " + when.strftime("%H:%M")
    return when.strftime("%a %d %b %H:%M")


class TrayController(QWidget):
    """Owns the QSystemTrayIcon; every action calls a NodeControl method, nothing else.

    A QWidget (never shown) only so the menu has a parent that outlives each rebuild.
    """

    def __init__(
        self,
        node: NodeControl | None,
        bridge: EventBridge,
        open_dashboard: Callable[[], None],
        quit_app: Callable[[], None],
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone(),
        stop_and_quit: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._node = node
        self._open_dashboard = open_dashboard
        self._quit_app = quit_app  # the tray only: the node keeps earning (it is its own process)
        self._stop_and_quit = stop_and_quit  # the node too: no more jobs until hostapp starts again
        self._clock = clock
        self.start_refusal: str | None = None  # what the last Start said instead of starting
        self.pull_text = ""  # an image pull in progress: a multi-GB pull is not "Working, 0 %"
        self.fetch_text = ""  # a model resource being fetched into the model cache, likewise
        self.serving_text = ""  # a service job: what it serves, and its traffic through the grid
        self.state_shown_at: float | None = None  # time.time() the icon first showed a state past Starting
        # Without a node yet (the app shows the icon before it builds the core) the state is Starting.
        self.status = node.status() if node is not None else NodeStatus(NodeState.STARTING)
        self.tray = QSystemTrayIcon(self)
        self.menu = QMenu(self)
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.tray.setContextMenu(self.menu)
        self.tray.activated.connect(self._on_activated)
        bridge.on("node.state", self, self._on_state_event)
        bridge.on("job.pull.progress", self, self._on_pull_progress)
        bridge.on("resource.progress", self, self._on_resource_progress)
        bridge.on("service.traffic", self, self._on_service_traffic)
        self.apply_status(self.status)
        self.rebuild_menu()

    def show(self) -> None:
        self.tray.show()

    def attach(self, node: NodeControl) -> None:
        """The node to steer, once the core exists (hostapp/gui/app.py builds it after the icon shows)."""
        self._node = node
        status = node.status()
        if status.state is not NodeState.STARTING or self.status.state is NodeState.STARTING:
            self.apply_status(status)  # a link not yet attached says Starting: the first status read stays

    def _on_state_event(self, data: dict[str, Any]) -> None:
        status = NodeStatus.from_event(data)
        if status.state is not NodeState.WORKING:
            self.pull_text = ""  # a failed pull sends no "finished": the job's end clears the line
            self.fetch_text = ""  # nor does a failed model fetch
            self.serving_text = ""  # nor a service's tunnel, which ends with its job
        self.apply_status(status)

    def _on_pull_progress(self, data: dict[str, Any]) -> None:
        self.pull_text = pull_progress_text(data)
        self.apply_status(self.status)

    def _on_service_traffic(self, data: dict[str, Any]) -> None:
        self.serving_text = serving_text(data)
        self.apply_status(self.status)

    def _on_resource_progress(self, data: dict[str, Any]) -> None:
        self.fetch_text = resource_progress_text(data)
        self.apply_status(self.status)

    def apply_status(self, status: NodeStatus) -> None:
        self.status = status
        if self.state_shown_at is None and status.state is not NodeState.STARTING:
            self.state_shown_at = time.time()  # launch → state (docs/benchmarks.md, target ≤ 1 s)
        self.icon_name = STATE_ICONS[status.state]
        self.tray.setIcon(icon(self.icon_name))
        tooltip = status.headline
        if status.fix:
            tooltip += f"\nFix: {status.fix}"
        if status.next_change is not None:
            tooltip += f"\nNext change: {next_change_text(status.next_change, self._clock())}"
        if self.pull_text:
            tooltip += f"\n{self.pull_text}"
        if self.fetch_text:
            tooltip += f"\n{self.fetch_text}"
        if self.serving_text:
            tooltip += f"\n{self.serving_text}"
        self.tray.setToolTip(tooltip)

    def rebuild_menu(self) -> None:
        """Built when opened, so it always matches the state of this moment."""
        self.menu.clear()
        status_line = self.menu.addAction(self.status.headline)
        status_line.setEnabled(False)
        self.menu.addSeparator()
        node = self._node
        if node is not None:
            if self.status.state in RESUMABLE:
                self.menu.addAction("Resume", node.resume)
            elif self.status.state in STARTABLE:
                self.menu.addAction("Start", self.start)
            pause_menu = self.menu.addMenu("Pause")
            for choice in PauseChoice:
                action = pause_menu.addAction(choice.label)
                action.triggered.connect(lambda _checked=False, c=choice: self.pause(c))
            self.menu.addSeparator()
        self.menu.addAction("Open dashboard", self._open_dashboard)
        self.menu.addAction("Quit", self._quit_app)
        if self._stop_and_quit is not None:
            self.menu.addAction("Stop earning and quit", self._stop_and_quit)

    def start(self) -> None:
        """Start; when the node cannot (it is in Error), say why and what fixes it instead of nothing."""
        if self._node is None:
            return
        why = self._node.start()
        self.start_refusal = why
        if why:
            self.tray.showMessage("hostapp can't start", why, QSystemTrayIcon.MessageIcon.Warning)

    def pause(self, choice: PauseChoice) -> None:
        if self._node is not None:
            self._node.pause(choice)

    def action(self, text: str) -> QAction:
        """The menu entry named `text` (tests and the screenshot script use this)."""
        self.rebuild_menu()
        for action in self.menu.actions():
            if action.text() == text:
                return action
            submenu = action.menu()
            if isinstance(submenu, QMenu):
                for sub in submenu.actions():
                    if sub.text() == text:
                        return sub
        raise KeyError(text)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self._open_dashboard()
