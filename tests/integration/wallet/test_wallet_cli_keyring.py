"""`hostapp wallet` end to end against the real Secret Service (gnome-keyring) and the local chain.

Each CLI call is a fresh process, so "restart" is real. Run via scripts/with-keyring.sh.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from solders.keypair import Keypair

from hostapp.chain import LocalChain, default_state_dir
from hostapp.config.paths import AppPaths
from hostapp.wallet.seed import from_mnemonic
from tests.reliability.keyring_lock import locked_default_collection
from tests.reliability.secret_scan import assert_no_secret_on_disk, keypair_forms, secret_forms

pytestmark = pytest.mark.keyring

ROOT = Path(__file__).resolve().parents[3]
ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
PHANTOM_ADDRESS = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"


def hostapp(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hostapp", "wallet", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def fails(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr  # one line, no traceback


@pytest.fixture
def home(hostapp_home: Path) -> Path:
    hostapp_home.mkdir(parents=True, exist_ok=True)
    return hostapp_home


@pytest.fixture
def locked_keyring() -> Iterator[None]:
    """Locks the default collection, and unlocks it again with the test password afterwards."""
    with locked_default_collection():
        yield


def test_create_confirm_and_show_across_restarts(home: Path) -> None:
    created = json.loads(ok(hostapp("create", "--json")))
    address, words, positions = created["address"], created["mnemonic"].split(), created["confirm_positions"]
    assert len(words) == 12 and len(positions) == 3

    shown = json.loads(ok(hostapp("show", "--json")))
    assert shown["address"] == address and shown["backup_confirmed"] is False
    assert shown["backend"] == "keyring.backends.SecretService.Keyring"

    wrong = ",".join(f"{p}:{'zoo' if words[p - 1] != 'zoo' else 'zebra'}" for p in positions)
    fails(hostapp("create", "--confirm-words", wrong), f"word {positions[0]} does not match")
    fails(hostapp("create", "--confirm-words", "banana"), "is not N:word")
    right = ",".join(f"{p}:{words[p - 1].upper()}" for p in positions)
    ok(hostapp("create", "--confirm-words", right))

    shown = json.loads(ok(hostapp("show", "--json")))  # a new process reads the key back from the keyring
    assert shown["address"] == address and shown["backup_confirmed"] is True
    assert from_mnemonic(created["mnemonic"]).pubkey == address
    fails(hostapp("create"), "a wallet already exists")
    assert_no_secret_on_disk(home, secret_forms(created["mnemonic"]))


def test_import_phantom_phrase_gives_phantoms_address(home: Path) -> None:
    out = json.loads(ok(hostapp("import", "--words-from-stdin", "--json", stdin=ABANDON + "\n")))
    assert out["address"] == PHANTOM_ADDRESS
    assert json.loads(ok(hostapp("show", "--json")))["address"] == PHANTOM_ADDRESS
    out = json.loads(
        ok(hostapp("import", "--words-from-stdin", "--path", "keygen", "--replace", "--json", stdin=ABANDON))
    )
    assert out["address"] == "EHqmfkN89RJ7Y33CXM6uCzhVeuywHoJXZZLszBHHZy7o"


def test_import_errors_are_one_line(home: Path, tmp_path: Path) -> None:
    fails(hostapp("import", "--words-from-stdin", stdin=ABANDON.replace("about", "abandon")), "checksum")
    fails(hostapp("import", "--words-from-stdin", stdin=ABANDON.replace("about", "abuot")), "'abuot'")
    fails(hostapp("import", "--words-from-stdin", stdin="abandon " * 11), "this one has 11")
    bad_file = tmp_path / "id.json"
    bad_file.write_text("[1, 2, 3]")
    fails(hostapp("import", "--keygen-json", str(bad_file)), "holds 3 bytes")
    fails(hostapp("import", "--keygen-json", str(tmp_path / "missing.json")), "cannot read")
    fails(hostapp("import", "--base58-from-stdin", stdin="not-base58-0OIl"), "not base58")
    fails(hostapp("show"), "no wallet yet")


def test_keygen_and_base58_imports_and_export(home: Path, tmp_path: Path) -> None:
    keypair = Keypair()
    key_file = tmp_path / "id.json"
    key_file.write_text(json.dumps(list(bytes(keypair))))
    assert str(keypair.pubkey()) in ok(hostapp("import", "--keygen-json", str(key_file)))
    fails(hostapp("export", "--format", "keygen-json"), "--yes")
    assert json.loads(ok(hostapp("export", "--format", "keygen-json", "--yes"))) == list(bytes(keypair))
    fails(hostapp("export", "--format", "mnemonic", "--yes"), "has no seed phrase")

    other = Keypair()
    ok(hostapp("import", "--base58-from-stdin", "--replace", stdin=str(other)))
    out = tmp_path / "backup.json"
    ok(hostapp("export", "--format", "keygen-json", "--yes", "--out", str(out)))
    assert json.loads(out.read_text()) == list(bytes(other)) and (out.stat().st_mode & 0o777) == 0o600
    secret = bytes(other)
    assert_no_secret_on_disk(home, keypair_forms(secret))


def test_payout_address(home: Path) -> None:
    ok(hostapp("import", "--words-from-stdin", stdin=ABANDON))
    cold = str(Keypair().pubkey())
    ok(hostapp("set-payout-address", cold))
    assert json.loads(ok(hostapp("show", "--json")))["payout_address"] == cold
    fails(hostapp("set-payout-address", "nope"), "not a Solana address")
    ok(hostapp("set-payout-address", "--clear"))
    assert json.loads(ok(hostapp("show", "--json")))["payout_address"] == PHANTOM_ADDRESS


def test_locked_keyring_is_a_clear_error(home: Path, locked_keyring: None) -> None:
    fails(hostapp("import", "--words-from-stdin", stdin=ABANDON), "the keyring is locked: unlock it")


def test_locked_keyring_on_read(home: Path) -> None:
    ok(hostapp("import", "--words-from-stdin", stdin=ABANDON))
    with_lock = locked_keyring.__wrapped__()  # type: ignore[attr-defined]
    next(with_lock)
    try:
        fails(hostapp("show"), "the keyring is locked")
    finally:
        next(with_lock, None)
    ok(hostapp("show"))


def test_no_secure_backend_uses_encrypted_file_or_refuses(home: Path) -> None:
    no_keyring = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    fails(hostapp("import", "--words-from-stdin", stdin=ABANDON, env=no_keyring), "no secure keyring")
    assert not (home / "config" / "wallet.json").exists()

    with_passphrase = {**no_keyring, "HOSTAPP_WALLET_PASSPHRASE": "correct horse battery"}
    ok(hostapp("import", "--words-from-stdin", stdin=ABANDON, env=with_passphrase))
    secret_file = home / "data" / "wallet-secret.json"
    assert (secret_file.stat().st_mode & 0o777) == 0o600
    assert json.loads(secret_file.read_text())["kdf"]["name"] == "scrypt"
    shown = json.loads(ok(hostapp("show", "--json", env=no_keyring)))
    assert shown["address"] == PHANTOM_ADDRESS and shown["backend"] == "hostapp.encrypted-file"
    assert ok(hostapp("export", "--yes", env=with_passphrase)).strip() == ABANDON
    fails(
        hostapp("export", "--yes", env={**no_keyring, "HOSTAPP_WALLET_PASSPHRASE": "wrong passphrase!"}),
        "wrong passphrase",
    )
    assert_no_secret_on_disk(home, secret_forms(ABANDON))


@pytest.mark.slow
def test_withdraw_on_the_local_chain_and_secret_scan(home: Path) -> None:
    paths = AppPaths(home / "config", home / "data", home / "cache", home / "logs", home / "run").ensure()
    created = json.loads(ok(hostapp("create", "--json", "--yes-i-wrote-it-down")))
    address = created["address"]
    destination = str(Keypair().pubkey())
    # The embedded chain in its default place: the CLI finds its URL and mint via endpoint.json.
    with LocalChain(default_state_dir(paths)) as chain:
        chain.airdrop(address, 3 * 10**9)
        payout = chain.pay(address, 4_500_000)

        balance = json.loads(ok(hostapp("balance", "--json")))
        assert balance["lamports"] == 3 * 10**9 and balance["token"]["amount"] == 4_500_000
        history = json.loads(ok(hostapp("history", "--json")))
        assert [(h["signature"], h["amount"]) for h in history] == [(payout, 4_500_000)]

        fails(hostapp("withdraw", "--sol", "1", "--to", destination), "--yes")
        fails(hostapp("withdraw", "--sol", "0.0000000001", "--to", destination, "--yes"), "decimal places")
        fails(hostapp("withdraw", "--sol", "10", "--to", destination, "--yes"), "not enough SOL")
        fails(hostapp("withdraw", "--sol", "1", "--to", "not-an-address", "--yes"), "not a Solana address")

        result = ok(hostapp("withdraw", "--sol", "1.25", "--to", destination, "--yes"))
        assert "network fee 0.000005 SOL" in result and "sent: " in result
        ok(hostapp("withdraw", "--token", "1.5", "--to", destination, "--yes", "--rpc-url", chain.rpc_url))
        assert chain.sol_balance(destination) == 1_250_000_000
        assert chain.token_balance(destination) == 1_500_000
        assert chain.token_balance(address) == 3_000_000
        assert chain.sol_balance(address) == 3 * 10**9 - 1_250_000_000 - 2 * 5000 - 2_039_280

    ok(hostapp("export", "--yes"))
    fails(hostapp("balance", "--rpc-url", "http://127.0.0.1:9"), "unreachable")
    assert_no_secret_on_disk(home, secret_forms(created["mnemonic"]))
