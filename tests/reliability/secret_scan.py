"""One secret scan for every scenario: the wallet secret must never be written anywhere in HOSTAPP_HOME.

The forms searched are the ones a leak would take: the BIP39 phrase, the 64-byte keypair and its
32-byte seed in hex and base58, and solana-keygen's JSON array (with and without spaces).
"""

from __future__ import annotations

import json
from pathlib import Path

from hostapp.wallet.base58 import b58encode
from hostapp.wallet.seed import from_mnemonic


def secret_forms(mnemonic: str, path: str | None = None) -> dict[str, str]:
    """Every encoding of a phrase-derived wallet secret, by name (failures name the form, never print it)."""
    return {"mnemonic": mnemonic, **keypair_forms(from_mnemonic(mnemonic, path=path).secret)}


def keypair_forms(secret: bytes) -> dict[str, str]:
    """The 64-byte keypair (seed + public key) and its seed in every encoding a leak could take."""
    numbers = list(secret)
    return {
        "keypair hex": secret.hex(),
        "seed hex": secret[:32].hex(),
        "keypair base58": b58encode(secret),
        "seed base58": b58encode(secret[:32]),
        "keygen JSON array": json.dumps(numbers),
        "compact JSON array": json.dumps(numbers, separators=(",", ":")),
    }


def find_secrets(root: Path, forms: dict[str, str]) -> list[str]:
    """'file: form' for each secret form found in any file under `root` (config, data, cache, logs, run)."""
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files, f"nothing to scan under {root}"
    found = []
    for file in files:
        content = file.read_bytes()
        found.extend(f"{file}: {name}" for name, value in forms.items() if value.encode() in content)
    return found


def assert_no_secret_on_disk(root: Path, forms: dict[str, str]) -> int:
    """Fails naming the file and form; returns how many files were scanned (so a test can show it scanned)."""
    leaks = find_secrets(root, forms)
    assert not leaks, f"wallet secret written to disk: {leaks}"
    return sum(1 for p in root.rglob("*") if p.is_file())
