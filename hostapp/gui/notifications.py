"""Desktop notifications from core events, each kind switchable in settings.notifications.

The bridge delivers the events on the GUI thread; this only decides which are worth a balloon
(`QSystemTrayIcon.showMessage`, which the desktop turns into a native notification) and says
each once: a slot that repeats its state does not notify again. Routine news (a job started or
finished, a payout) comes at most once per kind per half hour: on a busy grid jobs end every few
seconds, and a balloon for each would bury the desktop. The next one says how many were quiet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QSystemTrayIcon

from hostapp.gui.bridge import EventBridge
from hostapp.gui.viewmodels import format_amount

if TYPE_CHECKING:
    from hostapp.config.settings import NotificationSettings

GAME_MARK = "game running"  # hostapp.schedule.policy's headline for a foreign GPU process
SHOW_MS = 8000
ROUTINE_QUIET_SECONDS = 30 * 60


@dataclass(frozen=True)
class Notification:
    kind: str  # the NotificationSettings field that switches it
    title: str
    text: str
    error: bool = False
    quiet_key: str = ""  # routine news: at most one balloon per key per ROUTINE_QUIET_SECONDS


class Notifier(QObject):
    def __init__(
        self,
        tray: QSystemTrayIcon,
        bridge: EventBridge,
        switches: Callable[[], NotificationSettings],
        token_decimals: int = 6,
        unit_symbol: str = "GRID",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(tray)
        self._tray = tray
        self._switches = switches
        self._decimals = token_decimals
        self._symbol = unit_symbol
        self._said: dict[str, str] = {}  # kind -> what was last said, so a repeated state is quiet
        self._clock = clock
        self._last_routine: dict[str, float] = {}  # quiet key -> when its last balloon showed
        self._quieted: dict[str, int] = {}  # quiet key -> how many were not shown since
        self.shown: list[Notification] = []  # what was shown (tests, diagnostics)
        bridge.on("node.job_started", self, self._job_started)
        bridge.on("node.job_finished", self, self._job_finished)
        bridge.on("node.payout", self, self._payout)
        bridge.on("node.state", self, self._state)

    def _show(self, note: Notification) -> None:
        if not getattr(self._switches(), note.kind, False):
            return
        if note.quiet_key:
            now, last = self._clock(), self._last_routine.get(note.quiet_key)
            if last is not None and now - last < ROUTINE_QUIET_SECONDS:
                self._quieted[note.quiet_key] = self._quieted.get(note.quiet_key, 0) + 1
                return
            self._last_routine[note.quiet_key] = now
            quiet = self._quieted.pop(note.quiet_key, 0)
            if quiet:
                note = replace(note, text=f"{note.text} (and {quiet} more since the last notice)")
        self.shown.append(note)
        icon = QSystemTrayIcon.MessageIcon.Warning if note.error else QSystemTrayIcon.MessageIcon.Information
        self._tray.showMessage(note.title, note.text, icon, SHOW_MS)

    def _job_started(self, data: dict[str, Any]) -> None:
        where = data.get("gpu") or "the CPU"
        text = f"Job {data.get('job_id')} is running on {where}"
        self._show(Notification("job_started", "Job started", text, quiet_key="job_started"))

    def _job_finished(self, data: dict[str, Any]) -> None:
        status = str(data.get("status") or "finished")
        # A failure is news of its own: never kept quiet by a success shown just before it.
        key = "job_succeeded" if status == "succeeded" else "job_failed"
        self._show(Notification("job_finished", "Job finished", f"Job {data.get('job_id')} {status}", quiet_key=key))

    def _payout(self, data: dict[str, Any]) -> None:
        amount = data.get("amount")
        shown = format_amount(amount if isinstance(amount, int) else None, self._decimals, self._symbol)
        text = f"{shown} for job {data.get('job_id')}"
        self._show(Notification("payout_received", "Payout received", text, quiet_key="payout_received"))

    def _state(self, data: dict[str, Any]) -> None:
        # Per slot (GPU): a game on one GPU pauses that GPU even while another one works.
        state = str(data.get("state") or "")
        headline = str(data.get("headline") or data.get("reason") or "")
        slot = str(data.get("gpu") or "cpu")
        game, error = f"paused_for_game:{slot}", f"error_needs_action:{slot}"
        if state == "paused" and GAME_MARK in headline:
            text = headline.removesuffix(" (job frozen)")
            if self._said.get(game) != text:
                self._said[game] = text
                self._show(Notification("paused_for_game", "Paused for a game", text))
        elif state != "paused":
            self._said.pop(game, None)
        if state == "error":
            if self._said.get(error) != headline:
                self._said[error] = headline
                self._show(Notification("error_needs_action", "hostapp needs you", headline or "Error", error=True))
        else:
            self._said.pop(error, None)
