"""The real tray app (`hostapp gui --show`) with a test's hands on it: run as its own process.

    python tests/journeys/tray_driver.py        (QT_QPA_PLATFORM=xcb, DISPLAY, HOSTAPP_HOME set)

It calls hostapp.gui.app.run(show_window=True), the very function `hostapp gui --show` calls,
so the app starts as a user's does: tray icon first, then the core, the node on a worker thread,
the window. Once the app has finished starting, commands arrive as JSON lines on stdin and are
carried out on the GUI thread through the app's own widgets (a button's click(), a mouse click on
a schedule cell, the tray menu's action); each answer is one line `journey> {json}` on stdout.

Why not xdotool on pixels: the schedule grid and the menus have no stable screen coordinates
under a bare X server, and a missed click would read as an app bug. Why not in the test process:
a crash of the app (an abort in Qt) must fail the journey with its exit code, not kill pytest.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import hostapp.gui.app as gui_app

PREFIX = "journey> "
commands: queue.Queue[dict[str, Any]] = queue.Queue()
_kept: list[Driver] = []


def _read_stdin() -> None:
    for line in sys.stdin:
        if line.strip():
            commands.put(json.loads(line))
    commands.put({"cmd": "quit"})  # the test went away: quit as the menu's Quit does


class Driver:
    def __init__(self, started: gui_app.Launch) -> None:
        self.started = started
        self.tray_app = started.tray_app

    def answer(self, reply: dict[str, Any]) -> None:
        print(PREFIX + json.dumps(reply, default=str), flush=True)

    def pump(self) -> None:
        while True:
            try:
                command = commands.get_nowait()
            except queue.Empty:
                return
            try:
                self.answer({"ok": True, **getattr(self, "do_" + command["cmd"])(command)})
            except Exception as exc:  # the test reads this and fails with it
                self.answer({"ok": False, "error": f"{type(exc).__name__}: {exc}"})

    # ---------------------------------------------------------------- commands

    def do_state(self, _command: dict[str, Any]) -> dict[str, Any]:
        from PySide6.QtWidgets import QSystemTrayIcon

        tray = self.tray_app.tray
        notifier = self.tray_app.notifier
        window = self.tray_app._window  # None until first opened: reading it must not build it
        page = None
        if window is not None:
            page = list(window.pages)[window.stack.currentIndex()]
        return {
            "tray_state": tray.status.state.value,
            "tray_headline": tray.status.headline,
            "state_shown_at": tray.state_shown_at,  # time.time() the icon first showed a state past Starting
            "tray_visible": tray.tray.isVisible(),
            "tray_available": QSystemTrayIcon.isSystemTrayAvailable(),
            "window_visible": window is not None and window.isVisible(),
            "page": page,
            "notifications": [f"{n.title}: {n.text}" for n in (notifier.shown if notifier else [])],
        }

    def do_page(self, command: dict[str, Any]) -> dict[str, Any]:
        window = self.tray_app.window
        window.show_page(command["title"])
        window.bring_to_front()
        return {}

    def do_schedule_off_now(self, _command: dict[str, Any]) -> dict[str, Any]:
        """On the Schedule page: preset Always, the Off brush, click this hour's and the next hour's
        cells (an hour boundary mid-check stays covered), Save. Returns when Save was clicked."""
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        from hostapp.schedule.grid import Cell, Preset

        page = self._schedule_page()
        page.preset_buttons[Preset.ALWAYS].click()
        page.brush_buttons[Cell.OFF].click()
        now = time.localtime()
        cells = [(now.tm_wday, now.tm_hour)]
        cells.append((now.tm_wday, now.tm_hour + 1) if now.tm_hour < 23 else ((now.tm_wday + 1) % 7, 0))
        for day, hour in cells:
            point = page.editor.cell_rect(day, hour).center().toPoint()
            QTest.mouseClick(page.editor, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
        painted = [page.editor.grid().rows[day][hour].value for day, hour in cells]
        return self._save(page) | {"painted": painted}

    def do_schedule_preset(self, command: dict[str, Any]) -> dict[str, Any]:
        from hostapp.schedule.grid import Preset

        page = self._schedule_page()
        page.preset_buttons[Preset(command["preset"])].click()
        return self._save(page)

    def _schedule_page(self) -> Any:
        window = self.tray_app.window
        page = window.show_page("Schedule")
        window.bring_to_front()
        return page

    def _save(self, page: Any) -> dict[str, Any]:
        page.save_button.click()
        return {"saved_at": time.monotonic(), "message": page.message.text()}

    def do_pause(self, _command: dict[str, Any]) -> dict[str, Any]:
        """The tray menu's Pause ▸ Indefinitely, as a right-click on the icon offers it."""
        from hostapp.gui.viewmodels import PauseChoice

        self.tray_app.tray.action(PauseChoice.INDEFINITELY.label).trigger()
        return {}

    def do_screenshot(self, command: dict[str, Any]) -> dict[str, Any]:
        """The whole X screen (trayer's panel with the icon, the window, any balloon)."""
        from PySide6.QtGui import QGuiApplication

        screen = QGuiApplication.primaryScreen()
        saved = screen.grabWindow(0).save(command["path"])
        return {"saved": bool(saved)}

    def do_start(self, _command: dict[str, Any]) -> dict[str, Any]:
        """The tray menu's Start (offered while the node is stopped or gone)."""
        self.tray_app.tray.action("Start").trigger()
        return {"refusal": self.tray_app.tray.start_refusal}

    def do_quit(self, _command: dict[str, Any]) -> dict[str, Any]:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, self.tray_app.quit)  # after this answer is out: the menu's Quit
        return {}


def install(started: gui_app.Launch) -> None:
    from PySide6.QtCore import QTimer

    driver = Driver(started)
    _kept.append(driver)  # a connected bound method does not keep its object alive
    timer = QTimer(started.app)
    timer.timeout.connect(driver.pump)
    timer.start(50)
    threading.Thread(target=_read_stdin, name="journey-stdin", daemon=True).start()
    driver.answer({"ok": True, "ready": True})


def main() -> int:
    finish_start = gui_app.finish_start

    def finish_then_drive(started: gui_app.Launch, show_window: bool = False) -> None:
        finish_start(started, show_window)
        install(started)

    # run() looks finish_start up when its first event-loop turn comes: the app starts unchanged,
    # and the driver joins it once started.
    gui_app.finish_start = finish_then_drive  # type: ignore[assignment]
    sys.argv[0] = "hostapp"  # as the installed command: Qt names the X window class after it
    return gui_app.run(show_window=True)


if __name__ == "__main__":
    sys.exit(main())
