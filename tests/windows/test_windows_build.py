"""The Windows build under Wine: the installed program, and the Windows code paths it runs.

`make test-windows` (scripts/test-windows.sh) builds dist/windows with `make windows`, then runs
this file. One fresh Wine prefix per run; the PyInstaller bundle goes where the installer puts it
(%LOCALAPPDATA%\\Programs\\HostApp). Skipped, with the reason, where Wine or the build is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from hostapp.autostart import WINDOWS_RUN_KEY, WINDOWS_VALUE_NAME
from hostapp.wallet.base58 import b58encode
from hostapp.wallet.seed import from_mnemonic
from tests.windows.wine import BUNDLE, EMBEDDED_PYTHON, WinePrefix

pytestmark = [
    pytest.mark.windows,
    pytest.mark.skipif(shutil.which("wine") is None, reason="Wine is not installed (apt-get install wine wine64)"),
    pytest.mark.skipif(
        not (BUNDLE / "hostapp.exe").is_file() or not EMBEDDED_PYTHON.is_file(),
        reason="no Windows build: run `make windows` first",
    ),
]

RUN_KEY = f"HKCU\\{WINDOWS_RUN_KEY}"


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinePrefix]:
    prefix = WinePrefix(tmp_path_factory.mktemp("wine") / "prefix")
    prefix.install()
    try:
        yield prefix
    finally:
        prefix.close()


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
    installed_files = sorted(p.relative_to(wine.install_dir) for p in wine.install_dir.rglob("*"))
    assert installed_files == bundle_files, "running hostapp wrote into its program folder"
    data = [p for p in (wine.roaming_appdata / "hostapp", wine.local_appdata / "hostapp") if p.is_dir()]
    assert data, "the wallet test above wrote the user's hostapp folders"
    written = [p.name for folder in data for p in folder.rglob("*") if p.is_file()]
    assert any(name.endswith(".json") for name in written), written  # settings and the wallet record
