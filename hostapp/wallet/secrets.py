"""Where the wallet secret lives: a secure OS keyring, else a passphrase-encrypted file. Never plaintext.

A small non-secret record (config/wallet.json, 0600) remembers the address, which backend holds
the key and whether the seed phrase backup was confirmed, so `show` works without unlocking.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hostapp.config.atomic import write_private
from hostapp.config.paths import AppPaths
from hostapp.wallet.seed import KeyInputError, KeyMaterial

KEYRING_SERVICE = "hostapp"
ENCRYPTED_FILE = "hostapp.encrypted-file"
FILE_FORMAT = "hostapp-wallet-secret"
FILE_VERSION = 1
# scrypt cost: OWASP's minimum for interactive logins (2^17, r=8: 128 MiB, ~0.3 s).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
MIN_PASSPHRASE_CHARS = 8

# Called with confirm=True when a new passphrase is being chosen; returns None if none can be given.
PassphraseProvider = Callable[[bool], "str | None"]


class SecretStoreError(Exception):
    """A one-line, user-facing problem with where the secret is kept."""


@dataclass
class WalletRecord:
    pubkey: str
    backend: str
    source: str
    path: str | None = None
    backup_confirmed: bool = True
    confirm_positions: list[int] = field(default_factory=list)
    created_at: int = field(default_factory=lambda: int(time.time()))
    version: int = 1


class SecretStore:
    def __init__(self, paths: AppPaths, passphrase: PassphraseProvider | None = None) -> None:
        self._paths = paths
        self._passphrase = passphrase

    @property
    def record_file(self) -> Path:
        return self._paths.config / "wallet.json"

    @property
    def encrypted_file(self) -> Path:
        return self._paths.data / "wallet-secret.json"

    # -- the non-secret record -------------------------------------------------------------
    def read_record(self) -> WalletRecord | None:
        if not self.record_file.exists():
            return None
        try:
            raw = json.loads(self.record_file.read_text(encoding="utf-8"))
            return WalletRecord(**raw)
        except (OSError, ValueError, TypeError) as exc:
            raise SecretStoreError(
                f"wallet record {self.record_file} is unreadable ({exc}): restore it from a backup, "
                "or move it away and import your seed phrase again"
            ) from None

    def write_record(self, record: WalletRecord) -> None:
        write_private(self.record_file, (json.dumps(asdict(record), indent=2) + "\n").encode())

    # -- the secret ------------------------------------------------------------------------
    def save(self, material: KeyMaterial, record: WalletRecord) -> WalletRecord:
        """Store the secret in the best secure place available, then the record naming it."""
        from hostapp.wallet.backends import secure_backend

        backend, name = secure_backend()
        if backend is not None:
            _ensure_unlocked(name)
            try:
                backend.set_password(KEYRING_SERVICE, _username(material.pubkey), material.to_json())
            except Exception as exc:  # keyring backends raise their own error types
                raise SecretStoreError(f"could not store the key in the keyring ({_first_line(exc)})") from None
            record.backend = name
        else:
            passphrase = self._passphrase(True) if self._passphrase else None
            if passphrase is None:
                raise SecretStoreError(
                    f"no secure keyring ({name}); to keep the key in a passphrase-encrypted file "
                    "instead, run interactively or set HOSTAPP_WALLET_PASSPHRASE"
                )
            if len(passphrase) < MIN_PASSPHRASE_CHARS:
                raise SecretStoreError(f"the passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters")
            write_private(self.encrypted_file, encrypt_secret(material, passphrase))
            record.backend = ENCRYPTED_FILE
        record.pubkey = material.pubkey
        self.write_record(record)
        return record

    def load(self, record: WalletRecord) -> KeyMaterial:
        if record.backend == ENCRYPTED_FILE:
            passphrase = self._passphrase(False) if self._passphrase else None
            if passphrase is None:
                raise SecretStoreError(
                    "the wallet key is in a passphrase-encrypted file: run interactively or set "
                    "HOSTAPP_WALLET_PASSPHRASE"
                )
            material = decrypt_secret(self.encrypted_file.read_bytes(), passphrase)
        else:
            text = self._keyring_get(record)
            material = KeyMaterial.from_json(text)
        if material.pubkey != record.pubkey:
            raise SecretStoreError(
                f"the stored key is for {material.pubkey}, not {record.pubkey}: the wallet record and "
                "the keyring disagree; import your seed phrase again"
            )
        return material

    def delete(self, record: WalletRecord) -> None:
        if record.backend == ENCRYPTED_FILE:
            self.encrypted_file.unlink(missing_ok=True)
        else:
            backend = _backend_by_name(record.backend)
            _ensure_unlocked(record.backend)
            try:
                backend.delete_password(KEYRING_SERVICE, _username(record.pubkey))
            except Exception as exc:
                if type(exc).__name__ != "PasswordDeleteError":  # already gone is fine
                    raise SecretStoreError(f"could not remove the old key ({_first_line(exc)})") from None
        self.record_file.unlink(missing_ok=True)

    def _keyring_get(self, record: WalletRecord) -> str:
        backend = _backend_by_name(record.backend)
        _ensure_unlocked(record.backend)
        try:
            text = backend.get_password(KEYRING_SERVICE, _username(record.pubkey))
        except Exception as exc:
            raise SecretStoreError(f"could not read the key from the keyring ({_first_line(exc)})") from None
        if text is None:
            raise SecretStoreError(
                f"the keyring ({record.backend}) has no key for {record.pubkey}: was the keyring reset? "
                "Import your seed phrase again"
            )
        return str(text)


def _username(pubkey: str) -> str:
    return f"wallet:{pubkey}"


def _backend_by_name(name: str) -> Any:
    from hostapp.wallet.backends import backend_name, secure_backend

    backend, found = secure_backend()
    if backend is None or backend_name(backend) != name:
        raise SecretStoreError(
            f"the wallet key is kept in {name}, which is not available now ({found}): "
            "log in to the desktop session that has it, or import your seed phrase again"
        )
    return backend


def _ensure_unlocked(name: str) -> None:
    if name != "keyring.backends.SecretService.Keyring":
        return
    from hostapp.wallet.backends import secret_service_locked

    try:
        locked = secret_service_locked()
    except Exception as exc:
        raise SecretStoreError(f"the Secret Service is not usable ({_first_line(exc)})") from None
    if locked:
        raise SecretStoreError(
            "the keyring is locked: unlock it (log in to the desktop, or open Passwords and Keys / "
            "seahorse and unlock the Login keyring), then retry"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


# -- the encrypted file format -----------------------------------------------------------
def _kdf(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _aad(pubkey: str) -> bytes:
    # Binds the ciphertext to its header: swapping in another wallet's blob fails to decrypt.
    return f"{FILE_FORMAT}/{FILE_VERSION}/{pubkey}".encode()


def encrypt_secret(material: KeyMaterial, passphrase: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce = os.urandom(16), os.urandom(12)
    key = _kdf(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    ciphertext = AESGCM(key).encrypt(nonce, material.to_json().encode(), _aad(material.pubkey))
    document = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "pubkey": material.pubkey,
        "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt)},
        "cipher": {"name": "aes-256-gcm", "nonce": _b64(nonce)},
        "ciphertext": _b64(ciphertext),
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def decrypt_secret(blob: bytes, passphrase: str) -> KeyMaterial:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        doc = json.loads(blob)
        if doc.get("format") != FILE_FORMAT:
            raise SecretStoreError("the wallet secret file is not a hostapp wallet file")
        if doc.get("version") != FILE_VERSION:
            raise SecretStoreError(
                f"the wallet secret file has format version {doc.get('version')}; this hostapp reads "
                f"version {FILE_VERSION}: update hostapp"
            )
        kdf, cipher = doc["kdf"], doc["cipher"]
        if kdf["name"] != "scrypt" or cipher["name"] != "aes-256-gcm":
            raise SecretStoreError("the wallet secret file uses an unknown cipher: update hostapp")
        key = _kdf(passphrase, base64.b64decode(kdf["salt"]), int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
        plain = AESGCM(key).decrypt(
            base64.b64decode(cipher["nonce"]), base64.b64decode(doc["ciphertext"]), _aad(doc["pubkey"])
        )
    except InvalidTag:
        raise SecretStoreError("wrong passphrase for the wallet secret file (or the file was altered)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise SecretStoreError(f"the wallet secret file is damaged ({_first_line(exc)})") from None
    try:
        return KeyMaterial.from_json(plain.decode())
    except (KeyInputError, ValueError, KeyError) as exc:
        raise SecretStoreError(f"the wallet secret file holds an unreadable key ({_first_line(exc)})") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
