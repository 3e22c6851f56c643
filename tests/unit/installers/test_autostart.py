"""Start-at-login entries: written where each platform reads them, in a form its real parser accepts."""

from __future__ import annotations

import json
import plistlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostapp import autostart
from hostapp.autostart import (
    APP_ID,
    AutostartError,
    MacLaunchAgent,
    NullAutostart,
    WindowsRunKey,
    XdgAutostart,
    render_desktop_entry,
    windows_run_value,
)

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "resources" / f"{APP_ID}.autostart.desktop"


@pytest.fixture
def xdg(tmp_path: Path) -> XdgAutostart:
    return XdgAutostart(["/usr/bin/hostapp", "gui"], config_home=tmp_path / "config", config_dirs=[tmp_path / "etc"])


def test_enable_writes_the_user_autostart_file_and_disable_removes_it(xdg: XdgAutostart, tmp_path: Path) -> None:
    assert not xdg.is_enabled()
    xdg.enable()
    assert xdg.path == tmp_path / "config" / "autostart" / f"{APP_ID}.desktop"
    assert xdg.is_enabled()
    assert "Exec=/usr/bin/hostapp gui\n" in xdg.path.read_text()
    xdg.disable()
    assert not xdg.path.exists()
    assert not xdg.is_enabled()
    xdg.disable()  # twice is fine


def test_written_entry_passes_desktop_file_validate(xdg: XdgAutostart) -> None:
    xdg.command = ["/opt/host app/hostapp", "gui", "--name=it's $HOME 100%"]
    xdg.enable()
    result = subprocess.run(["desktop-file-validate", str(xdg.path)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_shipped_template_is_what_the_app_writes_for_the_deb_install() -> None:
    assert TEMPLATE.read_text() == render_desktop_entry(["/usr/bin/hostapp", "gui"])


GIO_LAUNCH = r"""
import sys
from gi.repository import Gio
info = Gio.DesktopAppInfo.new_from_filename(sys.argv[1])
assert info is not None, "GLib refused the desktop file"
info.launch([], None)
"""


@pytest.mark.skipif(shutil.which("gio") is None, reason="GLib's gio tools are not installed")
def test_glib_launches_exactly_the_argv_we_asked_for(tmp_path: Path) -> None:
    """GLib's own launcher parses our Exec= quoting: awkward arguments arrive unchanged."""
    system_python = Path("/usr/bin/python3")
    if subprocess.run([str(system_python), "-c", "import gi"], capture_output=True).returncode != 0:
        pytest.skip("python3-gi (GLib bindings) is not installed")
    folder = tmp_path / "dir with space"
    folder.mkdir()
    out = tmp_path / "argv.json"
    script = folder / "record argv.py"
    script.write_text(f"import json, sys\nopen({str(out)!r}, 'w').write(json.dumps(sys.argv[1:]))\n")
    args = ["gui", "two words", 'say "hi"', "$HOME", "100%", "back\\slash", "tick`", "semi;colon", "ünï"]
    entry = XdgAutostart([str(system_python), str(script), *args], config_home=tmp_path / "cfg", config_dirs=[])
    entry.enable()
    subprocess.run([str(system_python), "-c", GIO_LAUNCH, str(entry.path)], check=True, timeout=30)
    deadline = time.monotonic() + 10
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads(out.read_text()) == args


def test_disable_hides_a_system_wide_entry_with_a_user_override(xdg: XdgAutostart, tmp_path: Path) -> None:
    system = tmp_path / "etc" / "autostart" / f"{APP_ID}.desktop"
    system.parent.mkdir(parents=True)
    system.write_text(render_desktop_entry(["/usr/bin/hostapp", "gui"]))
    assert xdg.is_enabled()
    xdg.disable()
    assert system.exists(), "the administrator's file is not ours to delete"
    assert "Hidden=true" in xdg.path.read_text()
    assert not xdg.is_enabled()
    xdg.enable()
    assert xdg.is_enabled()


def test_an_entry_switched_off_in_gnome_settings_counts_as_disabled(xdg: XdgAutostart) -> None:
    xdg.enable()
    xdg.path.write_text(xdg.path.read_text().replace("Autostart-enabled=true", "Autostart-enabled=false"))
    assert not xdg.is_enabled()


def test_unwritable_config_home_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "config"
    blocker.write_text("a file where the config folder should be")
    entry = XdgAutostart(["/usr/bin/hostapp"], config_home=blocker, config_dirs=[])
    with pytest.raises(AutostartError, match=r"cannot write .*autostart.*writable") as info:
        entry.enable()
    assert "\n" not in str(info.value)
    assert blocker.read_text().startswith("a file"), "nothing of the user's is lost"


def test_xdg_config_home_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    entry = autostart.for_this_platform(["/usr/bin/hostapp", "gui"])
    assert isinstance(entry, XdgAutostart) and entry.supported
    entry.enable()
    assert (tmp_path / "xdg" / "autostart" / f"{APP_ID}.desktop").is_file()


def test_launch_command_reruns_this_hostapp() -> None:
    assert autostart.launch_command() == [sys.executable, "-m", "hostapp", "gui"]


def test_a_frozen_windows_bundle_starts_its_windowed_twin_at_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    console, windowed = tmp_path / "hostapp.exe", tmp_path / "hostappw.exe"
    console.write_bytes(b"MZ")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(console))
    assert autostart.launch_command() == [str(console), "gui"], "no twin (a Linux or macOS bundle): itself"
    windowed.write_bytes(b"MZ")
    # The same value the installer's autostart task writes: no console window at every login.
    assert autostart.launch_command() == [str(windowed), "gui"]


def test_mac_launch_agent_plist(tmp_path: Path) -> None:
    agent = MacLaunchAgent(["/Applications/HostApp.app/Contents/MacOS/hostapp", "gui"], home=tmp_path)
    assert not agent.is_enabled()
    agent.enable()
    plist = plistlib.loads((tmp_path / "Library" / "LaunchAgents" / f"{APP_ID}.plist").read_bytes())
    assert plist["Label"] == APP_ID
    assert plist["ProgramArguments"] == ["/Applications/HostApp.app/Contents/MacOS/hostapp", "gui"]
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] is False
    assert agent.is_enabled()
    agent.path.write_bytes(b"not a plist")
    assert not agent.is_enabled(), "a damaged agent is reported off, not a crash"
    agent.disable()
    assert not agent.path.exists()


def test_windows_run_value_quotes_paths_with_spaces() -> None:
    assert windows_run_value([r"C:\Program Files\HostApp\hostapp.exe", "gui"]) == (
        r'"C:\Program Files\HostApp\hostapp.exe" gui'
    )


class RunKeyInMemory:
    """The registry exists only on Windows; this stands in for HKCU\\...\\Run off Windows."""

    def __init__(self, fail: bool = False) -> None:
        self.values: dict[str, str] = {}
        self.fail = fail

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        if self.fail:
            raise PermissionError(5, "Access is denied")
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


def test_windows_run_key_value_name_matches_the_installer() -> None:
    store = RunKeyInMemory()
    entry = WindowsRunKey([r"C:\Program Files\HostApp\hostapp.exe", "gui"], store=store)
    entry.enable()
    assert store.values == {"HostApp": r'"C:\Program Files\HostApp\hostapp.exe" gui'}
    iss = (ROOT / "installers" / "windows" / "hostapp.iss").read_text()
    assert 'ValueName: "HostApp"' in iss and r"CurrentVersion\Run" in iss
    assert entry.is_enabled()
    entry.disable()
    assert not entry.is_enabled()
    with pytest.raises(AutostartError, match="cannot change registry value"):
        WindowsRunKey(["x.exe"], store=RunKeyInMemory(fail=True)).enable()


def test_null_autostart_says_why() -> None:
    entry = NullAutostart("start at login is not supported on plan9")
    assert not entry.supported and not entry.is_enabled()
    with pytest.raises(AutostartError, match="plan9"):
        entry.enable()
    entry.disable()
