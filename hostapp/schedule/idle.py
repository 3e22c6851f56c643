"""How long the user has not touched the computer: one interface, a backend per desktop, picked at run time.

Backends: X11 (XScreenSaver extension via ctypes), GNOME on Wayland (Mutter IdleMonitor over D-Bus),
the freedesktop ScreenSaver D-Bus interface (KDE, Xfce, others), Windows (GetLastInputInfo), and a
null backend that says why idle time is unknown. A locked screen counts as idle (math.inf): whoever
locked it is not using the GPU. Every backend answers None rather than raising, with the reason in
`unavailable_reason`, so the policy can say "idle time unknown: <why>".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

DBUS_TIMEOUT_SECONDS = 1.0


@runtime_checkable
class IdleBackend(Protocol):
    name: str

    def idle_seconds(self) -> float | None:
        """Seconds since the last input; math.inf when the screen is locked; None when unknown."""
        ...

    @property
    def unavailable_reason(self) -> str | None:
        """Why the last answer was None (None while answers are good)."""
        ...


class NullIdleBackend:
    """No idle source on this machine: says why, and the policy treats "Only when idle" hours as off."""

    name = "none"

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def idle_seconds(self) -> float | None:
        return None

    @property
    def unavailable_reason(self) -> str | None:
        return self._reason

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# X11: XScreenSaverQueryInfo on the root window


class _XScreenSaverInfo(ctypes.Structure):
    _fields_ = [
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),
        ("event_mask", ctypes.c_ulong),
    ]


_SCREEN_SAVER_ON = 1  # XScreenSaverInfo.state: the X screensaver (blanker/locker) is running


class BackendUnavailable(Exception):
    """A backend cannot work here; the message says why (shown to the user)."""


class X11IdleBackend:
    """The X server's own input idle counter (libXss), for X11 sessions."""

    name = "x11"

    def __init__(self, display: str | None = None) -> None:
        self._display_name = display if display is not None else os.environ.get("DISPLAY")
        if not self._display_name:
            raise BackendUnavailable("X11: DISPLAY is not set")
        self._x11 = _load_library("X11", "libX11.so.6")
        self._xss = _load_library("Xss", "libXss.so.1", hint="install libxss1")
        self._x11.XOpenDisplay.restype = ctypes.c_void_p
        self._x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self._x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self._x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self._x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self._x11.XFree.argtypes = [ctypes.c_void_p]
        self._xss.XScreenSaverQueryExtension.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_int),
        ]
        self._xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(_XScreenSaverInfo)
        self._xss.XScreenSaverQueryInfo.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.POINTER(_XScreenSaverInfo),
        ]
        # Xlib connections are not thread-safe; every call on this one goes through the lock.
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._display = self._x11.XOpenDisplay(self._display_name.encode())
        if not self._display:
            raise BackendUnavailable(f"X11: cannot open display {self._display_name}")
        event_base, error_base = ctypes.c_int(), ctypes.c_int()
        if not self._xss.XScreenSaverQueryExtension(self._display, ctypes.byref(event_base), ctypes.byref(error_base)):
            self.close()
            raise BackendUnavailable(f"X11: display {self._display_name} lacks the MIT-SCREEN-SAVER extension")
        self._info = self._xss.XScreenSaverAllocInfo()
        self._root = self._x11.XDefaultRootWindow(self._display)

    def idle_seconds(self) -> float | None:
        with self._lock:
            if not self._display:
                self._reason = "X11: display closed"
                return None
            if not self._xss.XScreenSaverQueryInfo(self._display, self._root, self._info):
                self._reason = f"X11: screen saver query failed on {self._display_name}"
                return None
            info = self._info.contents
        self._reason = None
        if info.state == _SCREEN_SAVER_ON:
            return math.inf
        return float(info.idle) / 1000.0

    @property
    def unavailable_reason(self) -> str | None:
        return self._reason

    def close(self) -> None:
        with self._lock:
            if getattr(self, "_info", None):
                self._x11.XFree(self._info)
                self._info = None
            if self._display:
                self._x11.XCloseDisplay(self._display)
                self._display = None


def _load_library(short: str, soname: str, hint: str | None = None) -> ctypes.CDLL:
    path = ctypes.util.find_library(short) or soname
    try:
        return ctypes.CDLL(path)
    except OSError:
        extra = f" ({hint})" if hint else ""
        raise BackendUnavailable(f"X11: lib{short} not found{extra}") from None


# ---------------------------------------------------------------------------------------------
# D-Bus: GNOME Mutter IdleMonitor and freedesktop ScreenSaver (session bus, via jeepney)


class _SessionBus:
    """One blocking session-bus connection shared by a backend; reopened after it breaks."""

    def __init__(self, address: str | None) -> None:
        self._address = address
        self._lock = threading.Lock()
        self._connection: Any = None

    def call(self, destination: str, path: str, interface: str, method: str) -> tuple[Any, ...]:
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import unwrap_msg

        message = new_method_call(DBusAddress(path, bus_name=destination, interface=interface), method)
        with self._lock:
            connection = self._connect()
            try:
                reply = connection.send_and_get_reply(message, timeout=DBUS_TIMEOUT_SECONDS)
            except (OSError, TimeoutError, ConnectionError):
                self._drop()
                raise
        body: tuple[Any, ...] = unwrap_msg(reply)
        return body

    def _connect(self) -> Any:
        if self._connection is None:
            from jeepney.io.blocking import open_dbus_connection

            self._connection = open_dbus_connection(bus=self._address or "SESSION")
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def close(self) -> None:
        with self._lock:
            self._drop()


def _dbus_problem(exc: BaseException) -> str:
    from jeepney.wrappers import DBusErrorResponse

    if isinstance(exc, DBusErrorResponse):
        return f"{exc.name}"
    if isinstance(exc, OSError) and not isinstance(exc, TimeoutError | ConnectionError):
        return f"session bus unreachable ({exc.strerror or exc})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _DBusIdleBackend:
    """Shared plumbing: ask, remember why it failed, never raise."""

    name = "dbus"

    def __init__(self, bus: _SessionBus) -> None:
        self._bus = bus
        self._reason: str | None = None

    def _query(self) -> float:
        raise NotImplementedError

    def idle_seconds(self) -> float | None:
        from jeepney.wrappers import DBusErrorResponse

        try:
            value = self._query()
        except (DBusErrorResponse, OSError, TimeoutError, ConnectionError, ValueError) as exc:
            self._reason = f"{self.name}: {_dbus_problem(exc)}"
            return None
        self._reason = None
        return value

    @property
    def unavailable_reason(self) -> str | None:
        return self._reason

    def close(self) -> None:
        self._bus.close()


class MutterIdleBackend(_DBusIdleBackend):
    """GNOME (Wayland or X11): Mutter's IdleMonitor; GNOME's ScreenSaver GetActive for the lock."""

    name = "gnome-mutter"
    BUS_NAME = "org.gnome.Mutter.IdleMonitor"
    PATH = "/org/gnome/Mutter/IdleMonitor/Core"
    LOCK_BUS_NAME = "org.gnome.ScreenSaver"
    LOCK_PATH = "/org/gnome/ScreenSaver"

    def _query(self) -> float:
        if self._locked():
            return math.inf
        (milliseconds,) = self._bus.call(self.BUS_NAME, self.PATH, "org.gnome.Mutter.IdleMonitor", "GetIdletime")
        return float(milliseconds) / 1000.0

    def _locked(self) -> bool:
        from jeepney.wrappers import DBusErrorResponse

        try:
            (active,) = self._bus.call(self.LOCK_BUS_NAME, self.LOCK_PATH, "org.gnome.ScreenSaver", "GetActive")
        except DBusErrorResponse:
            return False  # no GNOME screensaver service: fall back to the idle counter alone
        return bool(active)


class FreedesktopScreenSaverBackend(_DBusIdleBackend):
    """org.freedesktop.ScreenSaver (KDE Plasma, Xfce, LXQt, …): GetActive, then GetSessionIdleTime.

    The interface documents GetSessionIdleTime in seconds; hostapp takes it at its word.
    """

    name = "freedesktop-screensaver"
    BUS_NAME = "org.freedesktop.ScreenSaver"
    PATH = "/org/freedesktop/ScreenSaver"
    INTERFACE = "org.freedesktop.ScreenSaver"

    def _query(self) -> float:
        (active,) = self._bus.call(self.BUS_NAME, self.PATH, self.INTERFACE, "GetActive")
        if active:
            return math.inf
        (seconds,) = self._bus.call(self.BUS_NAME, self.PATH, self.INTERFACE, "GetSessionIdleTime")
        return float(seconds)


# ---------------------------------------------------------------------------------------------
# Windows: GetLastInputInfo


class WindowsIdleBackend:
    name = "windows"

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise BackendUnavailable("Windows idle detection runs only on Windows")
        self._reason: str | None = None

    def idle_seconds(self) -> float | None:
        if sys.platform != "win32":
            return None

        class _LastInputInfo(ctypes.Structure):
            _fields_ = [("cbSize", ctypes.c_uint), ("dwTime", ctypes.c_uint)]

        info = _LastInputInfo()
        info.cbSize = ctypes.sizeof(info)
        if not ctypes.windll.user32.GetLastInputInfo(ctypes.byref(info)):
            self._reason = "Windows: GetLastInputInfo failed"
            return None
        # Both are 32-bit millisecond tick counts; the mask keeps the difference right across wrap.
        elapsed = (ctypes.windll.kernel32.GetTickCount() - info.dwTime) & 0xFFFFFFFF
        self._reason = None
        return elapsed / 1000.0

    @property
    def unavailable_reason(self) -> str | None:
        return self._reason

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Picking


def pick_idle_backend(environ: Mapping[str, str] | None = None) -> IdleBackend:
    """The first backend that answers in this session, else a null backend listing what was tried."""
    env = os.environ if environ is None else environ
    if sys.platform == "win32":
        return WindowsIdleBackend()
    problems: list[str] = []
    for factory in _candidates(env, problems):
        try:
            backend = factory()
        except BackendUnavailable as exc:
            problems.append(str(exc))
            continue
        if backend.idle_seconds() is not None:
            log.info("idle detection: %s", backend.name)
            return backend
        problems.append(backend.unavailable_reason or f"{backend.name}: no answer")
        _close(backend)
    reason = "; ".join(problems) or "no desktop session"
    log.info("idle detection unavailable: %s", reason)
    return NullIdleBackend(reason)


def _candidates(env: Mapping[str, str], problems: list[str]) -> list[Callable[[], IdleBackend]]:
    wayland = bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE") == "wayland"
    bus_address = env.get("DBUS_SESSION_BUS_ADDRESS")
    dbus: list[Callable[[], IdleBackend]] = []
    if bus_address:
        dbus = [
            lambda: MutterIdleBackend(_SessionBus(bus_address)),
            lambda: FreedesktopScreenSaverBackend(_SessionBus(bus_address)),
        ]
    else:
        problems.append("D-Bus: no session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
    display = env.get("DISPLAY")
    x11: list[Callable[[], IdleBackend]] = []
    if wayland:
        # Under Wayland the X server (Xwayland) sees only X clients' input: its idle time lies.
        problems.append("X11: not used in a Wayland session")
    elif display:
        x11 = [lambda: X11IdleBackend(display)]
    else:
        problems.append("X11: DISPLAY is not set")
    return [*x11, *dbus]


def _close(backend: object) -> None:
    close = getattr(backend, "close", None)
    if callable(close):
        close()
