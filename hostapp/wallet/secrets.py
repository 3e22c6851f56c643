"""Where the wallet secret lives: a secure OS keyring, else a passphrase-encrypted file. Never plaintext.

A small non-secret record (config/wallet.json, 0600) remembers the address, which backend holds
the key and whether the seed phrase backup was confirmed, so `show` works without unlocking.

The secret is kept in two parts: the signing key (keyring item `wallet:<address>`, the file's
`ciphertext`) and the seed phrase (`wallet-backup:<address>`, the file's `backup_ciphertext`).
`load_signing` reads the first only: the node and the tray app never hold the phrase in memory; only
confirming or exporting the backup reads it. A wallet stored by an earlier version (one item with
both) is split the first time its signing key is loaded from the keyring.
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
            _keyring_store(backend, material)
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

    def load_signing(self, record: WalletRecord) -> KeyMaterial:
        """The signing key only: never reads the seed phrase (what a running node or tray app loads)."""
        return self.load(record, with_backup=False)

    def load(self, record: WalletRecord, with_backup: bool = True) -> KeyMaterial:
        """The key and, with `with_backup`, its seed phrase (to confirm or export the backup)."""
        if record.backend == ENCRYPTED_FILE:
            passphrase = self._passphrase(False) if self._passphrase else None
            if passphrase is None:
                raise SecretStoreError(
                    "the wallet key is in a passphrase-encrypted file: run interactively or set "
                    "HOSTAPP_WALLET_PASSPHRASE"
                )
            material = decrypt_secret(self.encrypted_file.read_bytes(), passphrase, with_backup)
        else:
            material = self._keyring_load(record, with_backup)
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
            for username in (_username(record.pubkey), _backup_username(record.pubkey)):
                _keyring_delete(backend, username)
        self.record_file.unlink(missing_ok=True)

    def _keyring_load(self, record: WalletRecord, with_backup: bool) -> KeyMaterial:
        backend = _backend_by_name(record.backend)
        _ensure_unlocked(record.backend)
        text = _keyring_get(backend, _username(record.pubkey))
        if text is None:
            raise SecretStoreError(
                f"the keyring ({record.backend}) has no key for {record.pubkey}: was the keyring reset? "
                "Import your seed phrase again"
            )
        material = KeyMaterial.from_json(text)
        if material.mnemonic is not None:  # stored by an earlier version: one item with both parts
            _keyring_store(backend, material)
            return material if with_backup else material.signing_only()
        if with_backup:
            backup = _keyring_get(backend, _backup_username(record.pubkey))
            if backup is not None:
                material = material.with_backup(backup)
        return material


def _username(pubkey: str) -> str:
    return f"wallet:{pubkey}"


def _backup_username(pubkey: str) -> str:
    return f"wallet-backup:{pubkey}"


def _keyring_store(backend: Any, material: KeyMaterial) -> None:
    """The signing part, then the phrase under its own item (or none, for a key without one)."""
    backup = material.backup_json()
    try:
        backend.set_password(KEYRING_SERVICE, _username(material.pubkey), material.signing_json())
        if backup is not None:
            backend.set_password(KEYRING_SERVICE, _backup_username(material.pubkey), backup)
    except Exception as exc:  # keyring backends raise their own error types
        raise SecretStoreError(f"could not store the key in the keyring ({_first_line(exc)})") from None
    if backup is None:
        _keyring_delete(backend, _backup_username(material.pubkey))


def _keyring_get(backend: Any, username: str) -> str | None:
    try:
        text = backend.get_password(KEYRING_SERVICE, username)
    except Exception as exc:
        raise SecretStoreError(f"could not read the key from the keyring ({_first_line(exc)})") from None
    return None if text is None else str(text)


def _keyring_delete(backend: Any, username: str) -> None:
    try:
        backend.delete_password(KEYRING_SERVICE, username)
    except Exception as exc:
        if type(exc).__name__ != "PasswordDeleteError":  # already gone is fine
            raise SecretStoreError(f"could not remove the old key ({_first_line(exc)})") from None


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
    """The file: the signing part in `ciphertext`, the seed phrase (if any) apart in `backup_ciphertext`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce = os.urandom(16), os.urandom(12)
    key = _kdf(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    ciphertext = AESGCM(key).encrypt(nonce, material.signing_json().encode(), _aad(material.pubkey))
    document: dict[str, Any] = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "pubkey": material.pubkey,
        "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt)},
        "cipher": {"name": "aes-256-gcm", "nonce": _b64(nonce)},
        "ciphertext": _b64(ciphertext),
    }
    backup = material.backup_json()
    if backup is not None:
        backup_nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(backup_nonce, backup.encode(), _aad(material.pubkey) + b"/backup")
        document["backup_nonce"], document["backup_ciphertext"] = _b64(backup_nonce), _b64(sealed)
    return (json.dumps(document, indent=2) + "\n").encode()


def decrypt_secret(blob: bytes, passphrase: str, with_backup: bool = True) -> KeyMaterial:
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
        backup = None
        if with_backup and "backup_ciphertext" in doc:
            backup = AESGCM(key).decrypt(
                base64.b64decode(doc["backup_nonce"]),
                base64.b64decode(doc["backup_ciphertext"]),
                _aad(doc["pubkey"]) + b"/backup",
            )
    except InvalidTag:
        raise SecretStoreError("wrong passphrase for the wallet secret file (or the file was altered)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise SecretStoreError(f"the wallet secret file is damaged ({_first_line(exc)})") from None
    try:
        material = KeyMaterial.from_json(plain.decode())
        if backup is not None:
            material = material.with_backup(backup.decode())
        return material if with_backup else material.signing_only()  # a file of an earlier version holds both
    except (KeyInputError, ValueError, KeyError) as exc:
        raise SecretStoreError(f"the wallet secret file holds an unreadable key ({_first_line(exc)})") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
