"""The Windows build under Wine: the installed program, and the Windows code paths it runs.

`make test-windows` (scripts/test-windows.sh) builds dist/windows with `make windows`, then runs
this file. One fresh Wine prefix per run: the setup.exe installs silently, the tests run the installed
program, and the last one uninstalls silently. Skipped, with the reason, where Wine or the build is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import PureWindowsPath

import pytest

from hostapp.autostart import WINDOWS_RUN_KEY, WINDOWS_VALUE_NAME
from hostapp.wallet.base58 import b58encode
from hostapp.wallet.seed import from_mnemonic
from tests.windows.wine import BUNDLE, EMBEDDED_PYTHON, ROOT, SETUP_EXES, WinePrefix

pytestmark = [
    pytest.mark.windows,
    pytest.mark.skipif(shutil.which("wine") is None, reason="Wine is not installed (apt-get install wine wine64)"),
    pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="no Xvfb for the installer (apt-get install xvfb)"),
    pytest.mark.skipif(
        not (BUNDLE / "hostapp.exe").is_file() or not EMBEDDED_PYTHON.is_file() or not SETUP_EXES,
        reason="no Windows build: run `make windows` first",
    ),
]

RUN_KEY = f"HKCU\\{WINDOWS_RUN_KEY}"
APP_ID = "{6F1C1E4B-2B2D-4E55-9A3C-6B1D3E0A7C21}"  # installers/windows/hostapp.iss
UNINSTALL_KEY = f"HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{APP_ID}_is1"
UNINSTALLER_FILES = {"unins000.exe", "unins000.dat"}  # what Inno Setup adds to the bundle in {app}


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinePrefix]:
    prefix = WinePrefix(tmp_path_factory.mktemp("wine") / "prefix")
    prefix.install(SETUP_EXES[-1])
    try:
        yield prefix
    finally:
        prefix.close()


def test_setup_installed_the_bundle_start_menu_and_uninstall_entry(wine: WinePrefix) -> None:
    bundle_files = {p.relative_to(BUNDLE).as_posix() for p in BUNDLE.rglob("*") if p.is_file()}
    installed = {p.relative_to(wine.install_dir).as_posix() for p in wine.install_dir.rglob("*") if p.is_file()}
    assert installed == bundle_files | UNINSTALLER_FILES
    assert sorted(p.name for p in wine.start_menu_dir.iterdir()) == [
        "HostApp doctor (check this PC).lnk",
        "HostApp.lnk",
        "Uninstall HostApp.lnk",
    ]
    assert wine.reg_query(UNINSTALL_KEY, "DisplayVersion") == "0.1.0"
    assert wine.reg_query(RUN_KEY, WINDOWS_VALUE_NAME) is None, "the autostart task is unchecked by default"


def test_version(wine: WinePrefix) -> None:
    result = wine.hostapp("--version")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "hostapp 0.1.0"


def test_doctor_json_gives_windows_fixes(wine: WinePrefix) -> None:
    result = wine.hostapp("doctor", "--json")
    assert result.stdout.lstrip().startswith("{"), result.stderr
    report = json.loads(result.stdout)
    checks = {check["id"]: check for check in report["checks"]}
    assert report["ok"] is False and result.code != 0, "no Docker engine in a fresh prefix"

    docker = checks["docker"]
    assert docker["status"] == "FAIL"
    assert "Docker Desktop" in docker["hint"] and "WSL 2" in docker["hint"], docker

    gpu = checks["gpu"]
    assert gpu["status"] in ("WARN", "FAIL")
    assert "NVIDIA driver" in (gpu["hint"] or ""), gpu

    keyring = checks["keyring"]
    assert keyring["status"] == "OK", keyring
    assert "WinVaultKeyring" in keyring["summary"]

    node = checks["node"]  # asked over the control channel (it crashed on import before: no AF_UNIX)
    assert node["summary"].startswith("no hostapp running to ask"), node


def test_wallet_lives_in_the_credential_store_and_no_key_material_on_disk(wine: WinePrefix) -> None:
    created = wine.hostapp("wallet", "create", "--json")
    assert created.code == 0, created.stderr
    new = json.loads(created.stdout)
    words = new["mnemonic"].split()
    confirm = ",".join(f"{p}:{words[p - 1]}" for p in new["confirm_positions"])
    confirmed = wine.hostapp("wallet", "create", "--confirm-words", confirm)
    assert confirmed.code == 0, confirmed.stderr

    shown = wine.hostapp("wallet", "show", "--json")
    assert shown.code == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["address"] == new["address"]
    assert "WinVaultKeyring" in info["backend"], info
    assert info["backup_confirmed"] is True

    secret = from_mnemonic(new["mnemonic"]).secret
    assert b58encode(secret[32:]) == new["address"]
    forbidden = {
        "seed phrase": new["mnemonic"].encode(),
        "seed phrase (UTF-16)": new["mnemonic"].encode("utf-16-le"),
        "secret bytes": secret[:32],
        "secret hex": secret[:32].hex().encode(),
        "secret base58": b58encode(secret).encode(),
        "seed base58": b58encode(secret[:32]).encode(),
    }
    leaks = []
    for path in wine.prefix.rglob("*"):
        if path.is_file() and not path.is_symlink() and "hostapp-test" not in path.parts:  # our own captured stdout
            data = path.read_bytes()
            leaks += [f"{name} in {path}" for name, needle in forbidden.items() if needle in data]
    assert leaks == []


def test_autostart_run_value_is_written_and_removed(wine: WinePrefix) -> None:
    console = wine.windows_path(wine.install_dir / "hostapp.exe")
    code = f"""
import sys
sys.frozen = True  # as in the bundle: autostart then starts the installed program
sys.executable = {console!r}
from hostapp.autostart import for_this_platform
entry = for_this_platform()
entry.enable()
print("enabled", entry.is_enabled())
"""
    result = wine.python(code)
    assert result.code == 0, result.stderr
    assert result.stdout.split() == ["enabled", "True"]
    windowed = wine.windows_path(wine.install_dir / "hostappw.exe")
    # The program installers/windows/hostapp.iss names for its "autostart" task (quoted when the path has spaces).
    assert wine.reg_query(RUN_KEY, WINDOWS_VALUE_NAME) == subprocess.list2cmdline([windowed, "gui"])

    result = wine.python(
        "from hostapp.autostart import for_this_platform\ne = for_this_platform()\ne.disable()\nprint(e.is_enabled())"
    )
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert wine.reg_query(RUN_KEY, WINDOWS_VALUE_NAME) is None


def test_idle_time_comes_from_getlastinputinfo_and_feeds_the_rules(wine: WinePrefix) -> None:
    result = wine.python(
        """
from hostapp.schedule.idle import WindowsIdleBackend, pick_idle_backend
backend = pick_idle_backend()
seconds = backend.idle_seconds()
print(type(backend).__name__, type(seconds).__name__, seconds >= 0, backend.unavailable_reason)
"""
    )
    assert result.code == 0, result.stderr
    assert result.stdout.split() == ["WindowsIdleBackend", "float", "True", "None"]


def test_control_channel_round_trips_over_loopback_with_a_token(wine: WinePrefix) -> None:
    endpoint = wine.windows_path(wine.local_appdata / "hostapp-test-control" / "control.sock")
    result = wine.python(
        f"""
import json, socket
from pathlib import Path
from hostapp.control.transport import HAVE_UNIX_SOCKETS, ControlError, ControlServer, call

class Echo:
    def handle_control(self, command, args, emit):
        emit({{"step": 1}})
        return {{"did": command}}

path = Path({endpoint!r})
server = ControlServer(path, Echo())
server.start()
endpoint = json.loads(path.read_text())
with socket.create_connection(("127.0.0.1", endpoint["port"])) as sock:
    sock.sendall(b'{{"command": "pause"}}\\n')
    refused = json.loads(sock.makefile("rb").readline())
events = []
print(json.dumps([HAVE_UNIX_SOCKETS, call(path, "status", on_event=events.append), events, refused]))
server.stop()
print(path.exists())
"""
    )
    assert result.code == 0, result.stderr
    first, second = result.stdout.splitlines()
    no_unix, answer, events, refused = json.loads(first)
    assert no_unix is False, "CPython on Windows has no AF_UNIX: the TCP transport is the one in use"
    assert answer == {"did": "status"} and events == [{"step": 1}]
    assert refused["ok"] is False and "token" in refused["error"]
    assert second == "False"


def test_wallet_settings_and_ledger_live_outside_the_program_folder(wine: WinePrefix) -> None:
    """The uninstaller deletes {app} only ([UninstallDelete]); what hostapp writes must be elsewhere."""
    bundle_files = sorted(p.relative_to(BUNDLE) for p in BUNDLE.rglob("*"))
    installed_files = sorted(
        p.relative_to(wine.install_dir) for p in wine.install_dir.rglob("*") if p.name not in UNINSTALLER_FILES
    )
    assert installed_files == bundle_files, "running hostapp wrote into its program folder"
    data = [p for p in (wine.roaming_appdata / "hostapp", wine.local_appdata / "hostapp") if p.is_dir()]
    assert data, "the wallet test above wrote the user's hostapp folders"
    written = [p.name for folder in data for p in folder.rglob("*") if p.is_file()]
    assert any(name.endswith(".json") for name in written), written  # settings and the wallet record


SCREENSHOTS = ROOT / "build" / "windows-screenshots"  # docs/install.md shows the one copied to docs/screenshots


@pytest.mark.skipif(
    shutil.which("xdotool") is None or shutil.which("import") is None,
    reason="the screenshot needs xdotool and ImageMagick (apt-get install xdotool imagemagick)",
)
def test_tray_app_window_renders_under_wine(wine: WinePrefix) -> None:
    """The installed tray app (hostappw.exe, as the Start menu starts it) with the wallet made above and
    the first-run wizard marked done: it starts its node (`hostapp node`, detached), puts its icon in the
    notification area, and a click on the icon opens the dashboard."""
    marker = wine.python(  # the file is hostapp/gui/app.py's FIRST_RUN_MARKER
        "from hostapp.config.paths import default_paths\nconfig = default_paths().config\n"
        "config.mkdir(parents=True, exist_ok=True)\n(config / 'first-run-done').touch()\n"
    )
    assert marker.code == 0, marker.stderr
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    png = SCREENSHOTS / "windows-dashboard.png"
    png.unlink(missing_ok=True)
    wine.screenshot(png, wine.windows_path(wine.install_dir / "hostappw.exe"), "gui")
    assert png.is_file(), "no screenshot taken"
    colours = subprocess.run(["convert", str(png), "-format", "%k", "info:"], capture_output=True, text=True)
    # A window with text, icons and anti-aliasing has hundreds of colours; a blank or failed desktop a few.
    assert int(colours.stdout or 0) > 100, f"{png} shows no window ({colours.stdout} colours)"


def _enable_autostart(wine: WinePrefix) -> None:
    console = wine.windows_path(wine.install_dir / "hostapp.exe")
    result = wine.python(
        f"import sys\nsys.frozen = True\nsys.executable = {console!r}\n"
        "from hostapp.autostart import for_this_platform\nfor_this_platform().enable()\n"
    )
    assert result.code == 0, result.stderr


def test_silent_uninstall_removes_the_program_and_keeps_wallet_settings_and_ledger(wine: WinePrefix) -> None:
    """Last in this file: it removes the program the tests above ran."""
    # The ledger database and a saved settings file, as the node and the Settings page write them.
    user_data = wine.python(
        "from hostapp.config.paths import default_paths\nfrom hostapp.config.settings import Settings, save_settings\n"
        "from hostapp.node.ledger import Ledger\nfrom hostapp.store import Store\npaths = default_paths()\n"
        "for folder in paths.all_dirs():\n    folder.mkdir(parents=True, exist_ok=True)\n"
        "Ledger(Store(paths.database))\nsave_settings(paths.settings_file, Settings())\n"
    )
    assert user_data.code == 0, user_data.stderr
    data_dirs = [wine.roaming_appdata / "hostapp", wine.local_appdata / "hostapp"]
    kept = sorted(str(p) for folder in data_dirs if folder.is_dir() for p in folder.rglob("*") if p.is_file())
    address = json.loads(wine.hostapp("wallet", "show", "--json").stdout)["address"]
    _enable_autostart(wine)  # from the app's switch, not the installer's task
    assert wine.reg_query(RUN_KEY, WINDOWS_VALUE_NAME) is not None

    log = wine.uninstall()

    assert "Running Exec parameters: pause" in log, "the uninstaller asks a running hostapp to stop its jobs"
    assert not wine.install_dir.exists(), log[-2000:]
    assert not wine.start_menu_dir.exists()
    assert wine.reg_query(UNINSTALL_KEY, "DisplayVersion") is None
    assert wine.reg_query(RUN_KEY, WINDOWS_VALUE_NAME) is None, "sign-in must not start a program that is gone"
    after = sorted(str(p) for folder in data_dirs if folder.is_dir() for p in folder.rglob("*") if p.is_file())
    assert after == kept, "wallet record, settings and ledger are kept"
    assert {"settings.json", "hostapp.sqlite3"} <= {PureWindowsPath(p).name for p in kept}, kept
    # The key itself stays in the Credential Manager: the same hostapp (the build's own Python) still opens it.
    shown = wine.python(
        "import sys\nfrom hostapp.__main__ import main\n"
        "sys.argv = ['hostapp', 'wallet', 'show', '--json']\nsys.exit(main())\n"
    )
    assert json.loads(shown.stdout)["address"] == address, shown.stderr
