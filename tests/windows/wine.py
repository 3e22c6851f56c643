"""A fresh Wine prefix with the Windows build installed by its setup.exe, and ways to run its programs.

Windows console programs under Wine cannot use redirected Unix pipes as standard streams (the
interpreter stops with WinError 6), so each command runs from a .bat file through Wine's cmd.exe,
whose `>` gives the program real Windows file handles; the exit code comes back through `exit /b`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "windows" / "hostapp"
SETUP_EXES = sorted((ROOT / "dist" / "windows").glob("hostapp-*-setup.exe"))
EMBEDDED_PYTHON = ROOT / "build" / "windows" / "cp311" / "python.exe"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n") if path.exists() else ""


class WinePrefix:
    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        setup = subprocess.run(
            ["bash", "-c", '. scripts/wine-env.sh && use_wine_prefix "$1" && echo "$PATH"', "_", str(prefix)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert setup.returncode == 0, setup.stderr
        self.env = {
            **os.environ,
            "PATH": setup.stdout.strip().splitlines()[-1],  # `wine` & co. with Wine's 32-bit half (wine-env.sh)
            "WINEPREFIX": str(prefix),
            "WINEARCH": "win64",
            "WINEDEBUG": "-all",
            "WINEDLLOVERRIDES": "mscoree,mshtml=",
        }
        # Nothing of this machine's hostapp may leak in: the Windows program uses its own profile.
        leaks = ("HOSTAPP_HOME", "HOSTAPP_FAKE_NVML", "DOCKER_HOST", "XDG_RUNTIME_DIR", "WINEDLLPATH", "WINELOADER")
        for name in leaks:
            self.env.pop(name, None)
        self.drive_c = prefix / "drive_c"
        profiles = [p for p in (self.drive_c / "users").iterdir() if p.name not in ("Public", "crossover")]
        assert len(profiles) == 1, profiles
        self.profile = profiles[0]  # C:\users\<name>: Wine names it after the Unix user
        self.local_appdata = self.profile / "AppData" / "Local"
        self.roaming_appdata = self.profile / "AppData" / "Roaming"
        # /ALLUSERS: Wine 8 lacks the per-user Program Files folder (FOLDERID_UserProgramFiles) that the
        # default per-user install puts the program in (%LOCALAPPDATA%\Programs\HostApp on Windows).
        self.install_dir = self.drive_c / "Program Files" / "HostApp"
        start_menu = self.drive_c / "ProgramData" / "Microsoft" / "Windows" / "Start Menu" / "Programs"
        self.start_menu_dir = start_menu / "HostApp"
        self._runs = 0

    def windows_path(self, path: Path) -> str:
        """C:\\... for a path inside drive_c (the prefix's C: drive)."""
        return str(PureWindowsPath("C:\\", *path.relative_to(self.drive_c).parts))

    def _gui(self, *command: str, timeout: float) -> subprocess.CompletedProcess[bytes]:
        """A Windows GUI program (Inno Setup's setup and uninstaller are; silent, they still make windows),
        on Xvfb until every process it started has ended (`wineserver -w`): the uninstaller returns at
        once and finishes in a copy of itself, which must keep its display to the end."""
        return subprocess.run(
            ["xvfb-run", "-a", "bash", "-c", 'wine "$@"; wineserver -w', "wine", *command],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )

    def install(self, setup_exe: Path) -> str:
        """Runs the installer silently (machine-wide: see install_dir); returns its log."""
        log = self.drive_c / "hostapp-setup.log"
        args = ["/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", "/ALLUSERS", f"/LOG={self.windows_path(log)}"]
        done = self._gui(f"Z:{setup_exe}".replace("/", "\\"), *args, timeout=600)
        text = log.read_text("utf-8-sig", "replace") if log.exists() else ""
        assert "Installation process succeeded." in text, f"setup.exe exited {done.returncode}:\n{text[-3000:]}"
        return text

    def screenshot(self, png: Path, *command: str, settle_s: float = 60, size: tuple[int, int] = (1600, 960)) -> None:
        """Runs a tray program in a Wine virtual desktop (Wine draws the taskbar, its notification area and
        the window frames) on Xvfb; after `settle_s` seconds clicks the last icon of the notification area
        (the program's tray icon, bottom right) and saves the screen. The program gets a pseudo-terminal for
        its standard streams, as in wine-env.sh's wine_run (redirected, the bundle's Python cannot start)."""
        width, height = size
        launch = shlex.join(["wine", "explorer", f"/desktop=HostApp,{width}x{height}", *command])
        shot = (
            f"(script -qec {shlex.quote(launch)} /dev/null >/dev/null 2>&1 &); sleep {settle_s}; "
            f"xdotool mousemove {width - 10} {height - 10} click 1; sleep 15; "
            f"import -window root {shlex.quote(str(png))}"
        )
        try:
            subprocess.run(
                ["xvfb-run", "-a", "-s", f"-screen 0 {width}x{height}x24", "bash", "-c", shot],
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=settle_s + 120,
                check=False,
            )
        finally:
            subprocess.run(["wineserver", "-k"], env=self.env, capture_output=True, timeout=60, check=False)

    def uninstall(self, timeout: float = 300) -> str:
        """Runs the uninstaller silently; returns its log once it has finished."""
        log = self.drive_c / "hostapp-uninstall.log"
        uninstaller = self.windows_path(self.install_dir / "unins000.exe")
        args = ["/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", f"/LOG={self.windows_path(log)}"]
        self._gui(uninstaller, *args, timeout=timeout)
        text = log.read_text("utf-8-sig", "replace") if log.exists() else ""
        assert "Uninstallation process succeeded." in text, text[-3000:]
        return text

    def run(self, program: str, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> Result:
        self._runs += 1
        work = self.drive_c / "hostapp-test"
        work.mkdir(exist_ok=True)
        out, err, bat = (work / f"{self._runs}.{kind}" for kind in ("out", "err", "bat"))
        line = subprocess.list2cmdline([program, *args])
        # Standard input from an empty file, as in a script: no prompt can wait for ever. (Not NUL:
        # Windows reports NUL as a character device, so isatty() is True and getpass would wait.)
        empty = work / "empty.in"
        empty.write_bytes(b"")
        bat.write_bytes(
            f'@{line} < "{self.windows_path(empty)}" > "{self.windows_path(out)}" '
            f'2> "{self.windows_path(err)}"\r\n@exit /b %ERRORLEVEL%\r\n'.encode()
        )
        done = subprocess.run(
            ["wine", "cmd", "/c", self.windows_path(bat)],
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return Result(done.returncode, _read_text(out), _read_text(err))

    def hostapp(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> Result:
        return self.run(self.windows_path(self.install_dir / "hostapp.exe"), *args, env=env, timeout=timeout)

    def python(self, code: str, timeout: float = 180) -> Result:
        """Runs `code` in the build's embedded Windows CPython (hostapp from the same wheel as the bundle)."""
        script = self.drive_c / "hostapp-test" / f"script{self._runs + 1}.py"
        script.parent.mkdir(exist_ok=True)
        script.write_text(code)
        return self.run(f"Z:{EMBEDDED_PYTHON}".replace("/", "\\"), self.windows_path(script), timeout=timeout)

    def reg_query(self, key: str, value: str) -> str | None:
        done = subprocess.run(
            ["wine", "reg", "query", key, "/v", value],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            return None
        for row in done.stdout.decode("utf-8", "replace").splitlines():
            parts = row.strip().split(None, 2)
            if len(parts) == 3 and parts[0] == value:
                return parts[2]
        return None

    def close(self) -> None:
        subprocess.run(["wineserver", "-k"], env=self.env, capture_output=True, timeout=60, check=False)
