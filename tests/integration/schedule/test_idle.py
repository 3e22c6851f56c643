"""Idle backends against real servers: Xvfb + xdotool for X11, a private dbus-daemon for D-Bus.

No GNOME or KDE runs here, so the D-Bus tests publish a small org.freedesktop.ScreenSaver /
org.gnome.Mutter.IdleMonitor service on a real bus: what is under test is hostapp's D-Bus client
(connection, call, reply unwrapping, lock handling, errors), which is the code that would talk to them.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hostapp.schedule.idle import (
    FreedesktopScreenSaverBackend,
    MutterIdleBackend,
    NullIdleBackend,
    X11IdleBackend,
    _SessionBus,
    pick_idle_backend,
)


def _free_display() -> int:
    for number in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number")


@pytest.fixture(scope="module")
def xvfb_display() -> Iterator[str]:
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed (apt-get install xvfb)")
    number = _free_display()
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 10
    while not socket.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"Xvfb :{number} did not start")
        time.sleep(0.05)
    yield f":{number}"
    server.terminate()
    server.wait(10)


def _move_mouse(display: str, x: int) -> None:
    subprocess.run(["xdotool", "mousemove", str(x), "100"], env={**os.environ, "DISPLAY": display}, check=True)


def test_x11_idle_grows_and_resets_after_input(xvfb_display: str) -> None:
    backend = X11IdleBackend(xvfb_display)
    try:
        _move_mouse(xvfb_display, 10)
        start = backend.idle_seconds()
        assert start is not None and start < 1.0
        time.sleep(1.2)
        grown = backend.idle_seconds()
        assert grown is not None and grown >= start + 1.0
        _move_mouse(xvfb_display, 200)
        reset = backend.idle_seconds()
        assert reset is not None and reset < 0.5 < grown
        assert backend.unavailable_reason is None
    finally:
        backend.close()
    assert backend.idle_seconds() is None and backend.unavailable_reason == "X11: display closed"


def test_pick_uses_x11_in_an_x_session(xvfb_display: str) -> None:
    backend = pick_idle_backend({"DISPLAY": xvfb_display, "XDG_SESSION_TYPE": "x11"})
    assert isinstance(backend, X11IdleBackend)
    backend.close()


def test_pick_falls_back_to_null_with_every_reason() -> None:
    backend = pick_idle_backend({})
    assert isinstance(backend, NullIdleBackend) and backend.idle_seconds() is None
    assert backend.unavailable_reason == (
        "D-Bus: no session bus (DBUS_SESSION_BUS_ADDRESS is not set); X11: DISPLAY is not set"
    )
    broken = pick_idle_backend({"DISPLAY": ":1999", "WAYLAND_DISPLAY": "wayland-0"})
    assert "X11: not used in a Wayland session" in (broken.unavailable_reason or "")


# ---------------------------------------------------------------------------------------------
# D-Bus


@dataclass
class FakeDesktop:
    """What the desktop reports; the service thread answers from it."""

    idle_seconds: int = 42
    locked: bool = False
    calls: list[str] = field(default_factory=list)


@pytest.fixture
def session_bus(tmp_path: Path) -> Iterator[str]:
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1", f"--address=unix:path={tmp_path}/bus"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    yield address
    daemon.terminate()
    daemon.wait(10)
    daemon.stdout.close()


def _serve(address: str, desktop: FakeDesktop, names: list[str], ready: threading.Event, stop: threading.Event) -> None:
    from jeepney import HeaderFields, MessageType, new_error, new_method_return
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    with open_dbus_connection(bus=address) as connection:
        for name in names:
            connection.send_and_get_reply(message_bus.RequestName(name))
        ready.set()
        while not stop.is_set():
            try:
                message = connection.receive(timeout=0.1)
            except TimeoutError:
                continue
            if message.header.message_type != MessageType.method_call:
                continue
            member = message.header.fields.get(HeaderFields.member)
            desktop.calls.append(str(member))
            if member == "GetActive":
                connection.send(new_method_return(message, "b", (desktop.locked,)))
            elif member == "GetSessionIdleTime":
                connection.send(new_method_return(message, "u", (desktop.idle_seconds,)))
            elif member == "GetIdletime":
                connection.send(new_method_return(message, "t", (desktop.idle_seconds * 1000,)))
            else:
                connection.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod"))


Service = tuple[str, FakeDesktop, Callable[..., None]]


@pytest.fixture
def desktop_service(session_bus: str) -> Iterator[Service]:
    names: list[str] = []
    desktop = FakeDesktop()
    ready, stop = threading.Event(), threading.Event()
    started: list[threading.Thread] = []

    def start(*bus_names: str) -> None:
        names.extend(bus_names)
        thread = threading.Thread(target=_serve, args=(session_bus, desktop, names, ready, stop), daemon=True)
        thread.start()
        started.append(thread)
        assert ready.wait(5)

    yield session_bus, desktop, start
    stop.set()
    for thread in started:
        thread.join(5)


def test_freedesktop_screensaver_idle_and_lock(desktop_service: Service) -> None:
    address, desktop, start = desktop_service
    start("org.freedesktop.ScreenSaver")
    backend = FreedesktopScreenSaverBackend(_SessionBus(address))
    try:
        assert backend.idle_seconds() == 42.0
        desktop.locked = True
        assert backend.idle_seconds() == math.inf  # a locked screen is idle
        assert desktop.calls[:3] == ["GetActive", "GetSessionIdleTime", "GetActive"]
    finally:
        backend.close()


def test_mutter_idle_monitor_in_milliseconds(desktop_service: Service) -> None:
    address, desktop, start = desktop_service
    start("org.gnome.Mutter.IdleMonitor", "org.gnome.ScreenSaver")
    backend = MutterIdleBackend(_SessionBus(address))
    try:
        desktop.idle_seconds = 7
        assert backend.idle_seconds() == 7.0
        desktop.locked = True
        assert backend.idle_seconds() == math.inf
    finally:
        backend.close()


def test_pick_prefers_mutter_on_gnome_wayland_and_reports_missing_services(desktop_service: Service) -> None:
    address, _desktop, start = desktop_service
    nothing = pick_idle_backend({"DBUS_SESSION_BUS_ADDRESS": address, "WAYLAND_DISPLAY": "wayland-0"})
    assert isinstance(nothing, NullIdleBackend)
    reason = nothing.unavailable_reason or ""
    assert "gnome-mutter: org.freedesktop.DBus.Error.ServiceUnknown" in reason
    assert "freedesktop-screensaver: org.freedesktop.DBus.Error.ServiceUnknown" in reason
    start("org.gnome.Mutter.IdleMonitor")
    picked = pick_idle_backend({"DBUS_SESSION_BUS_ADDRESS": address, "WAYLAND_DISPLAY": "wayland-0"})
    assert isinstance(picked, MutterIdleBackend) and picked.idle_seconds() == 42.0
    picked.close()
