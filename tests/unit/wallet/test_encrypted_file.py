"""The no-keyring fallback: a versioned scrypt + AES-GCM file, never the secret in clear."""

from __future__ import annotations

import json

import pytest

from hostapp.wallet import secrets as store
from hostapp.wallet.base58 import b58encode
from hostapp.wallet.seed import from_mnemonic

ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


@pytest.fixture(autouse=True)
def cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    # The cost parameters are stored in the file, so a lower cost here exercises the same code.
    monkeypatch.setattr(store, "SCRYPT_N", 2**12)


def test_round_trip_and_no_plaintext() -> None:
    material = from_mnemonic(ABANDON)
    blob = store.encrypt_secret(material, "correct horse battery")
    for form in (b58encode(material.secret), material.secret.hex(), "abandon", json.dumps(list(material.secret))):
        assert form.encode() not in blob
    doc = json.loads(blob)
    assert doc["format"] == store.FILE_FORMAT and doc["version"] == 1 and doc["kdf"]["name"] == "scrypt"
    again = store.decrypt_secret(blob, "correct horse battery")
    assert again.secret == material.secret and again.mnemonic == ABANDON


def test_wrong_passphrase_tampering_and_versions() -> None:
    blob = store.encrypt_secret(from_mnemonic(ABANDON), "correct horse battery")
    with pytest.raises(store.SecretStoreError, match="wrong passphrase"):
        store.decrypt_secret(blob, "wrong horse battery")
    doc = json.loads(blob)
    doc["pubkey"] = "EHqmfkN89RJ7Y33CXM6uCzhVeuywHoJXZZLszBHHZy7o"  # header swap breaks the AAD
    with pytest.raises(store.SecretStoreError, match="wrong passphrase"):
        store.decrypt_secret(json.dumps(doc).encode(), "correct horse battery")
    doc["version"] = 99
    with pytest.raises(store.SecretStoreError, match="format version 99"):
        store.decrypt_secret(json.dumps(doc).encode(), "correct horse battery")
    with pytest.raises(store.SecretStoreError, match="damaged"):
        store.decrypt_secret(b"{not json", "correct horse battery")
