"""The wallet key in memory: no core dumps of the processes that hold it, and never the seed phrase.

Issue #15 item 8: after `kill -ABRT` of the node, its core file held the 12-word phrase, the seed and
the 64-byte key in raw, base58, hex and JSON forms. A real `hostapp node` process with a real keyring
wallet is checked from outside: its core limit, its live memory (read through /proc/<pid>/mem, as
root) and, where this machine writes core files at all, what `kill -ABRT` leaves behind.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from hostapp.app import build_services
from hostapp.config.paths import default_paths
from hostapp.localgrid.server import LocalGrid
from hostapp.wallet.secrets import KEYRING_SERVICE, SecretStore, WalletRecord
from hostapp.wallet.seed import from_mnemonic, generate_mnemonic
from tests.support import wait_for

pytestmark = pytest.mark.keyring
LINUX_ROOT = sys.platform.startswith("linux") and os.geteuid() == 0


def _unlimited_core() -> None:
    """What a user with `ulimit -c unlimited` starts processes with (as far as this process may raise it:
    an in-process `hostapp wallet` test before this one has already set this pytest's own limit to 0)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    for limit in ((resource.RLIM_INFINITY, resource.RLIM_INFINITY), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_CORE, limit)
            return
        except (ValueError, OSError):
            continue


def _core_limit(pid: int) -> str:
    line = next(x for x in Path(f"/proc/{pid}/limits").read_text().splitlines() if x.startswith("Max core file size"))
    return " ".join(line.split()[4:6])


def _memory_holds(pid: int, needles: list[bytes]) -> set[bytes]:
    """Which needles occur in the process's readable memory (root reads /proc/<pid>/mem of any process)."""
    found: set[bytes] = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("r") or "[vvar]" in line or "[vsyscall]" in line:
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except OSError:
                continue
            found.update(n for n in needles if n in chunk)
    return found


@pytest.fixture
def wallet_phrase(hostapp_home: Path) -> str:
    services = build_services(setup_logs=False)
    try:
        created = services.wallet.create()
        services.wallet.skip_backup_confirmation()
        return created.mnemonic
    finally:
        services.close()


@pytest.fixture
def node_process(wallet_phrase: str, grid: LocalGrid, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    cwd = tmp_path / "node-cwd"  # core_pattern "core" writes into the crashing process's folder
    cwd.mkdir()
    log = (tmp_path / "node.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "hostapp", "node", "--grid-url", grid.url],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
        preexec_fn=_unlimited_core,
    )
    try:
        wait_for(lambda: "hostapp node: wallet" in (tmp_path / "node.log").read_text(), what="the node loaded its key")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        log.close()


@pytest.mark.skipif(not LINUX_ROOT, reason="reads another process's memory through /proc (Linux, as root)")
def test_the_node_never_holds_the_phrase_and_writes_no_core(
    node_process: subprocess.Popen[str], wallet_phrase: str, tmp_path: Path
) -> None:
    pid = node_process.pid
    assert _core_limit(pid) == "0 0", Path(f"/proc/{pid}/limits").read_text()
    words = wallet_phrase.encode()
    assert _memory_holds(pid, [words, words.replace(b" ", b'", "')]) == set(), "the seed phrase is in the node"

    control = _core_from_a_plain_abort(tmp_path / "control")
    node_process.send_signal(signal.SIGABRT)
    node_process.wait(60)
    cores = list((tmp_path / "node-cwd").glob("core*"))
    if control is None:
        pytest.skip("this machine writes no core files at all (core_pattern); the core limit above is the check")
    assert cores == [], f"the node left a core file: {cores} ({_scan(cores[0], wallet_phrase)})"


def _core_from_a_plain_abort(folder: Path) -> Path | None:
    """Does an unprotected process leave a core file here? (If not, no ABRT test can show anything.)"""
    folder.mkdir()
    subprocess.run([sys.executable, "-c", "import os; os.abort()"], cwd=folder, preexec_fn=_unlimited_core)
    cores = list(folder.glob("core*"))
    for core in cores:
        core.unlink()
    return cores[0] if cores else None


def _scan(core: Path, phrase: str) -> str:
    data = core.read_bytes()
    return f"{len(data)} bytes, phrase {'present' if phrase.encode() in data else 'absent'}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_key_holding_commands_disable_core_dumps_before_anything_runs(hostapp_home: Path) -> None:
    # The real CLI dispatch of a wallet command, then what the kernel says about the process.
    probe = (
        "import resource, sys; from hostapp.cli import run; from hostapp.wallet.hardening import dumpable;"
        "code = run(['wallet', 'show']);"
        "print('RESULT', code, dumpable(), resource.getrlimit(resource.RLIMIT_CORE))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, preexec_fn=_unlimited_core
    )
    result = re.search(r"RESULT (\d+) (\d+) \((\d+), (\d+)\)", done.stdout)
    assert result is not None, done.stdout + done.stderr
    assert result.groups()[1:] == ("0", "0", "0"), done.stdout  # not dumpable, core limit 0/0
    plain = subprocess.run(
        [sys.executable, "-c", "from hostapp.wallet.hardening import dumpable; print('RESULT', dumpable())"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "RESULT 1" in plain.stdout  # a process is dumpable unless told otherwise: the 0 above is the command's


def test_the_signing_key_loads_without_the_phrase(wallet_phrase: str, hostapp_home: Path) -> None:
    store = SecretStore(default_paths())
    record = store.read_record()
    assert record is not None
    signing = store.load_signing(record)
    assert signing.mnemonic is None and len(signing.secret) == 64
    assert store.load(record).mnemonic == wallet_phrase  # the backup is still there for export


def test_a_wallet_stored_by_an_earlier_version_is_split_on_first_load(hostapp_home: Path) -> None:
    phrase = generate_mnemonic()
    material = from_mnemonic(phrase)
    combined = json.loads(material.signing_json()) | {"mnemonic": phrase}  # one item with both, as before
    store = SecretStore(default_paths().ensure())
    record = store.save(material, WalletRecord(material.pubkey, "", "mnemonic", material.path))
    keyring.set_password(KEYRING_SERVICE, f"wallet:{material.pubkey}", json.dumps(combined))
    keyring.delete_password(KEYRING_SERVICE, f"wallet-backup:{material.pubkey}")

    assert store.load_signing(record).mnemonic is None
    signing_item = keyring.get_password(KEYRING_SERVICE, f"wallet:{material.pubkey}")
    assert signing_item is not None and phrase not in signing_item  # split: the phrase left the signing item
    assert store.load(record).mnemonic == phrase  # and is still there for export
