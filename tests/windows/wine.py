"""A fresh Wine prefix with the Windows build installed, and ways to run its programs.

Windows console programs under Wine cannot use redirected Unix pipes as standard streams (the
interpreter stops with WinError 6), so each command runs from a .bat file through Wine's cmd.exe,
whose `>` gives the program real Windows file handles; the exit code comes back through `exit /b`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "windows" / "hostapp"
EMBEDDED_PYTHON = ROOT / "build" / "windows" / "cp311" / "python.exe"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


class WinePrefix:
    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        setup = subprocess.run(
            ["bash", "-c", '. scripts/wine-env.sh && use_wine_prefix "$1" && echo "$WINEDLLPATH"', "_", str(prefix)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert setup.returncode == 0, setup.stderr
        self.env = {
            **os.environ,
            "WINEPREFIX": str(prefix),
            "WINEARCH": "win64",
            "WINEDEBUG": "-all",
            "WINEDLLOVERRIDES": "mscoree,mshtml=",
            "WINEDLLPATH": setup.stdout.strip(),
        }
        # Nothing of this machine's hostapp may leak in: the Windows program uses its own profile.
        for name in ("HOSTAPP_HOME", "HOSTAPP_FAKE_NVML", "DOCKER_HOST", "XDG_RUNTIME_DIR"):
            self.env.pop(name, None)
        self.drive_c = prefix / "drive_c"
        profiles = [p for p in (self.drive_c / "users").iterdir() if p.name not in ("Public", "crossover")]
        assert len(profiles) == 1, profiles
        self.profile = profiles[0]  # C:\users\<name>: Wine names it after the Unix user
        self.local_appdata = self.profile / "AppData" / "Local"
        self.roaming_appdata = self.profile / "AppData" / "Roaming"
        self.install_dir = self.local_appdata / "Programs" / "HostApp"
        self._runs = 0

    def windows_path(self, path: Path) -> str:
        """C:\\... for a path inside drive_c (the prefix's C: drive)."""
        return str(PureWindowsPath("C:\\", *path.relative_to(self.drive_c).parts))

    def install(self) -> None:
        """Puts the bundle where the installer puts it ({autopf} per user: %LOCALAPPDATA%\\Programs\\HostApp)."""
        shutil.copytree(BUNDLE, self.install_dir)

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
        read = lambda p: p.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n") if p.exists() else ""  # noqa: E731
        return Result(done.returncode, read(out), read(err))

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
