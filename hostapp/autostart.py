"""Start hostapp at login, per user: an XDG autostart file, a Windows Run value, a macOS LaunchAgent.

Autostart is always per user and off until the user turns it on (the installers never enable it
for everybody). Each platform gets one small implementation of `Autostart`; `for_this_platform()`
picks it, and `NullAutostart` says why there is none. Qt-free: the GUI's checkbox and the CLI
call the same objects.
"""

from __future__ import annotations

import importlib
import os
import plistlib
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

APP_ID = "io.hostapp.HostApp"
"""Reverse-DNS id shared by the .desktop entry, the icon, the AppStream metainfo and the LaunchAgent label."""

DISPLAY_NAME = "HostApp"
COMMENT = "Rent out your idle NVIDIA GPU to an AI inference grid"
WINDOWS_RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
WINDOWS_VALUE_NAME = "HostApp"
"""The same value name the Inno Setup installer's optional "autostart" task writes."""

_T = TypeVar("_T")

DEFAULT_ARGS: tuple[str, ...] = ("gui",)
# Seconds GNOME waits before starting us: the tray and the keyring come up first.
XDG_START_DELAY_S = 10


class AutostartError(Exception):
    """Autostart could not be changed; the message says what and what to do."""


class Autostart(Protocol):
    """Turns start-at-login on or off for the current user."""

    @property
    def supported(self) -> bool: ...

    @property
    def reason(self) -> str:
        """Where the entry lives, or why autostart is unavailable."""
        ...

    def is_enabled(self) -> bool: ...

    def enable(self) -> None: ...

    def disable(self) -> None: ...


def launch_command(args: Sequence[str] = DEFAULT_ARGS) -> list[str]:
    """The argv that starts this same hostapp again: the frozen bundle's executable, or this Python."""
    if getattr(sys, "frozen", False):
        return [str(windowed_twin(Path(sys.executable))), *args]
    return [sys.executable, "-m", "hostapp", *args]


def windowed_twin(executable: Path) -> Path:
    """hostappw.exe beside a Windows bundle's hostapp.exe: started at login, the console program
    would open a console window next to the tray icon (the installer's Run value names the twin too)."""
    if executable.name.lower() == "hostapp.exe":
        twin = executable.with_name("hostappw.exe")
        if twin.is_file():
            return twin
    return executable


# ---------------------------------------------------------------- XDG (Linux and other freedesktops)

_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def _quote_exec_arg(arg: str) -> str:
    """Quotes one argument per the Desktop Entry spec's Exec rules (before string-value escaping)."""
    arg = arg.replace("%", "%%")  # a lone % would start a field code
    if arg and not (set(arg) & _EXEC_RESERVED):
        return arg
    escaped = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
    return f'"{escaped}"'


def desktop_exec(command: Sequence[str]) -> str:
    """The Exec= value for `command`: quoted per argument, then escaped as a desktop-file string."""
    if not command:
        raise ValueError("an autostart command needs at least the executable")
    value = " ".join(_quote_exec_arg(a) for a in command)
    # A desktop-file string value escapes backslashes, and cannot hold raw newlines or tabs.
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def render_desktop_entry(command: Sequence[str]) -> str:
    """The autostart .desktop file; resources/io.hostapp.HostApp.autostart.desktop is this for /usr/bin."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={DISPLAY_NAME}\n"
        f"Comment={COMMENT}\n"
        f"Exec={desktop_exec(command)}\n"
        f"Icon={APP_ID}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
        f"X-GNOME-Autostart-Delay={XDG_START_DELAY_S}\n"
    )


def _desktop_keys(text: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    in_main = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            in_main = line == "[Desktop Entry]"
        elif in_main and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            keys[key.strip()] = value.strip()
    return keys


def _entry_is_active(path: Path) -> bool:
    try:
        keys = _desktop_keys(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return False
    return (
        keys.get("Hidden", "false").lower() != "true"
        and keys.get("X-GNOME-Autostart-enabled", "true").lower() != "false"
    )


class XdgAutostart:
    """$XDG_CONFIG_HOME/autostart/<APP_ID>.desktop (the freedesktop Autostart spec)."""

    def __init__(
        self,
        command: Sequence[str] | None = None,
        config_home: Path | None = None,
        config_dirs: Sequence[Path] | None = None,
    ) -> None:
        env = os.environ
        self.command = list(command) if command is not None else launch_command()
        self.config_home = config_home or Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        if config_dirs is None:
            config_dirs = [Path(p) for p in (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":") if p]
        self.config_dirs = list(config_dirs)

    @property
    def path(self) -> Path:
        return self.config_home / "autostart" / f"{APP_ID}.desktop"

    @property
    def supported(self) -> bool:
        return True

    @property
    def reason(self) -> str:
        return f"autostart entry {self.path}"

    def _system_entry(self) -> Path | None:
        for directory in self.config_dirs:
            candidate = directory / "autostart" / f"{APP_ID}.desktop"
            if candidate.is_file():
                return candidate
        return None

    def is_enabled(self) -> bool:
        if self.path.exists():  # a user file overrides a system-wide one of the same name
            return _entry_is_active(self.path)
        system = self._system_entry()
        return system is not None and _entry_is_active(system)

    def enable(self) -> None:
        _atomic_write(self.path, render_desktop_entry(self.command).encode())

    def disable(self) -> None:
        if self._system_entry() is not None:
            # An administrator installed one for everybody: only a Hidden=true user copy turns it off.
            _atomic_write(self.path, b"[Desktop Entry]\nType=Application\nName=HostApp\nHidden=true\n")
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise AutostartError(f"cannot remove {self.path}: {exc.strerror}; delete it by hand") from exc


# ---------------------------------------------------------------- macOS


def render_launch_agent(command: Sequence[str]) -> bytes:
    """~/Library/LaunchAgents/<APP_ID>.plist: run once at login, in the user's GUI session."""
    return plistlib.dumps(
        {
            "Label": APP_ID,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "KeepAlive": False,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }
    )


class MacLaunchAgent:
    """A per-user LaunchAgent; launchd reads it at the next login (we do not load it now)."""

    def __init__(self, command: Sequence[str] | None = None, home: Path | None = None) -> None:
        self.command = list(command) if command is not None else launch_command()
        self.home = home or Path.home()

    @property
    def path(self) -> Path:
        return self.home / "Library" / "LaunchAgents" / f"{APP_ID}.plist"

    @property
    def supported(self) -> bool:
        return True

    @property
    def reason(self) -> str:
        return f"LaunchAgent {self.path}"

    def is_enabled(self) -> bool:
        try:
            agent = plistlib.loads(self.path.read_bytes())
        except (OSError, plistlib.InvalidFileException, ValueError):
            return False
        return bool(agent.get("RunAtLoad")) and not agent.get("Disabled", False)

    def enable(self) -> None:
        _atomic_write(self.path, render_launch_agent(self.command))

    def disable(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise AutostartError(f"cannot remove {self.path}: {exc.strerror}; delete it by hand") from exc


# ---------------------------------------------------------------- Windows


class RunKeyStore(Protocol):
    """The HKCU Run key: one string value per program."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


def _winreg() -> Any:
    # Imported by name: the module exists only on Windows, and typeshed hides it from mypy elsewhere.
    return importlib.import_module("winreg")


class WinRegRunKey:
    """HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run through winreg (Windows only)."""

    def get(self, name: str) -> str | None:
        winreg = _winreg()

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY) as key:
                value, _kind = winreg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        return str(value)

    def set(self, name: str, value: str) -> None:
        winreg = _winreg()

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> None:
        winreg = _winreg()

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            pass


def windows_run_value(command: Sequence[str]) -> str:
    """The Run value's data: a command line with the Windows (MSVCRT) quoting rules."""
    return subprocess.list2cmdline(list(command))


class WindowsRunKey:
    """HKCU ...\\Run value "HostApp" = "C:\\...\\hostapp.exe" gui."""

    def __init__(self, command: Sequence[str] | None = None, store: RunKeyStore | None = None) -> None:
        self.command = list(command) if command is not None else launch_command()
        self.store: RunKeyStore = store or WinRegRunKey()

    @property
    def supported(self) -> bool:
        return True

    @property
    def reason(self) -> str:
        return f"registry value HKCU\\{WINDOWS_RUN_KEY}\\{WINDOWS_VALUE_NAME}"

    def is_enabled(self) -> bool:
        return self._call(lambda: self.store.get(WINDOWS_VALUE_NAME)) is not None

    def enable(self) -> None:
        self._call(lambda: self.store.set(WINDOWS_VALUE_NAME, windows_run_value(self.command)))

    def disable(self) -> None:
        self._call(lambda: self.store.delete(WINDOWS_VALUE_NAME))

    def _call(self, action: Callable[[], _T]) -> _T:
        try:
            return action()
        except OSError as exc:
            raise AutostartError(f"cannot change {self.reason}: {exc}") from exc


# ---------------------------------------------------------------- none


class NullAutostart:
    """No autostart on this platform; `reason` says why, and enable() raises with it."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    @property
    def supported(self) -> bool:
        return False

    @property
    def reason(self) -> str:
        return self._reason

    def is_enabled(self) -> bool:
        return False

    def enable(self) -> None:
        raise AutostartError(self._reason)

    def disable(self) -> None:
        return None


def for_this_platform(command: Sequence[str] | None = None) -> Autostart:
    """The implementation for the running OS (the command defaults to this hostapp + `gui`)."""
    if sys.platform == "win32":
        return WindowsRunKey(command)
    if sys.platform == "darwin":
        return MacLaunchAgent(command)
    if os.name == "posix":
        return XdgAutostart(command)
    return NullAutostart(f"start at login is not supported on {sys.platform}; start hostapp from your session")


def _atomic_write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise AutostartError(f"cannot write {path}: {exc.strerror or exc}; check that the folder is writable") from exc
