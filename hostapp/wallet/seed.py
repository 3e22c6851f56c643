"""Where a key comes from: BIP39 seed phrases, solana-keygen JSON files, base58 secrets.

Every parse error is a `KeyInputError` whose message is one line saying what was wrong
(bad checksum, which word is unknown, wrong length, wrong file shape) and what to do.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from typing import Literal

from mnemonic import Mnemonic
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from hostapp.logs import redactor
from hostapp.wallet.base58 import b58decode, b58encode
from hostapp.wallet.keystore import register_secret_forms

# Phantom, Solflare and Backpack derive account 0 here; solana-keygen without --derivation-path
# uses no path at all (the first 32 bytes of the BIP39 seed are the ed25519 seed).
PHANTOM_PATH = "m/44'/501'/0'/0'"
KEYGEN_NO_PATH = "keygen"
WORD_COUNTS = (12, 15, 18, 21, 24)
_STRENGTH = {12: 128, 24: 256}
_WORDLIST = Mnemonic("english")

KeySource = Literal["created", "mnemonic", "keygen-json", "base58"]


class KeyInputError(ValueError):
    """A user-supplied key, phrase, path or address is unusable; str() is one line."""


@dataclass(frozen=True, repr=False)
class KeyMaterial:
    """What the secret store keeps: enough to rebuild the keypair and to export it again.

    Stored in two parts (secrets.py): the signing part (`signing_json`), which the node and the
    tray app load, and the backup part (`backup_json`: the seed phrase), loaded only to confirm or
    export the backup, so a running node never has the phrase in memory.
    """

    source: KeySource
    secret: bytes  # the 64-byte solana keypair (seed || pubkey)
    mnemonic: str | None = None
    bip39_passphrase: str = ""
    path: str | None = None  # PHANTOM_PATH, another m/44'/501'/... path, or KEYGEN_NO_PATH

    @property
    def pubkey(self) -> str:
        return str(Pubkey.from_bytes(self.secret[32:]))

    def keypair(self) -> Keypair:
        return Keypair.from_bytes(self.secret)

    def register_with_redactor(self) -> None:
        register_secret_forms(self.secret)
        if self.mnemonic:
            redactor.register_phrase(self.mnemonic)  # a digest, not the words
        if self.bip39_passphrase:
            redactor.register(self.bip39_passphrase)

    def signing_json(self) -> str:
        """What signing needs: the key, its source and path; no seed phrase (format version 1, mnemonic null)."""
        return json.dumps(
            {
                "version": 1,
                "source": self.source,
                "secret": b58encode(self.secret),
                "mnemonic": None,
                "bip39_passphrase": "",
                "path": self.path,
            }
        )

    def backup_json(self) -> str | None:
        """The seed phrase part, or None for a key imported without one."""
        if self.mnemonic is None:
            return None
        return json.dumps({"version": 1, "mnemonic": self.mnemonic, "bip39_passphrase": self.bip39_passphrase})

    def signing_only(self) -> KeyMaterial:
        return replace(self, mnemonic=None, bip39_passphrase="")

    def with_backup(self, text: str) -> KeyMaterial:
        raw = json.loads(text)
        if raw.get("version") != 1:
            raise KeyInputError(f"stored seed phrase has unknown format version {raw.get('version')!r}")
        material = replace(self, mnemonic=raw.get("mnemonic"), bip39_passphrase=raw.get("bip39_passphrase") or "")
        material.register_with_redactor()
        return material

    @classmethod
    def from_json(cls, text: str) -> KeyMaterial:
        raw = json.loads(text)
        if raw.get("version") != 1:
            raise KeyInputError(f"stored key has unknown format version {raw.get('version')!r}")
        material = cls(
            source=raw["source"],
            secret=b58decode(raw["secret"]),
            mnemonic=raw.get("mnemonic"),
            bip39_passphrase=raw.get("bip39_passphrase") or "",
            path=raw.get("path"),
        )
        material.register_with_redactor()
        return material

    def __repr__(self) -> str:
        return f"KeyMaterial(source={self.source}, pubkey={self.pubkey}, path={self.path})"


def generate_mnemonic(words: int = 12) -> str:
    if words not in _STRENGTH:
        raise KeyInputError(f"a new seed phrase has 12 or 24 words, not {words}")
    return _WORDLIST.to_mnemonic(secrets.token_bytes(_STRENGTH[words] // 8))


def normalize_mnemonic(phrase: str) -> str:
    """Lower-case, single-spaced words, validated: length, each word, then the checksum."""
    words = phrase.strip().lower().split()
    if len(words) not in WORD_COUNTS:
        raise KeyInputError(
            f"a seed phrase has 12, 15, 18, 21 or 24 words; this one has {len(words)}: check for missing words"
        )
    known = set(_WORDLIST.wordlist)
    for position, word in enumerate(words, start=1):
        if word not in known:
            raise KeyInputError(f"word {position} ({word!r}) is not in the BIP39 English word list: check its spelling")
    normalized = " ".join(words)
    if not _WORDLIST.check(normalized):
        raise KeyInputError(
            "the seed phrase checksum does not match: a word is wrong or the order differs; "
            "re-check it against your backup"
        )
    return normalized


def parse_path(path: str | None) -> str:
    """'phantom' (default), 'keygen' (no path), or an explicit m/44'/501'/... hardened path."""
    if path is None or path.lower() in ("phantom", "solflare", PHANTOM_PATH):
        return PHANTOM_PATH
    if path.lower() in (KEYGEN_NO_PATH, "none", "no-path"):
        return KEYGEN_NO_PATH
    parts = path.split("/")
    if parts[0] != "m" or len(parts) < 3 or parts[1:3] != ["44'", "501'"]:
        raise KeyInputError(f"derivation path {path!r} is not supported: use 'phantom', 'keygen' or m/44'/501'/N'/0'")
    for part in parts[1:]:
        if not part.endswith("'") or not part[:-1].isdigit():
            raise KeyInputError(f"derivation path {path!r}: every ed25519 level must be hardened (N')")
    return path


def from_mnemonic(
    phrase: str, bip39_passphrase: str = "", path: str | None = None, source: KeySource = "mnemonic"
) -> KeyMaterial:
    normalized = normalize_mnemonic(phrase)
    chosen = parse_path(path)
    seed = Mnemonic.to_seed(normalized, bip39_passphrase)
    if chosen == KEYGEN_NO_PATH:
        keypair = Keypair.from_seed(seed[:32])
    else:
        keypair = Keypair.from_seed_and_derivation_path(seed, chosen)
    material = KeyMaterial(source, bytes(keypair), normalized, bip39_passphrase, chosen)
    material.register_with_redactor()
    return material


def from_keygen_json(text: str) -> KeyMaterial:
    """A solana-keygen file: a JSON array of 64 integers 0..255 (secret seed then public key)."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raise KeyInputError("the keypair file is not JSON: expected a solana-keygen array of 64 numbers") from None
    if not isinstance(raw, list) or not all(isinstance(n, int) and 0 <= n <= 255 for n in raw):
        raise KeyInputError("the keypair file is not an array of byte values (0-255): wrong file?")
    if len(raw) != 64:
        raise KeyInputError(f"the keypair file holds {len(raw)} bytes; a solana-keygen keypair has 64")
    return _from_secret(bytes(raw), "keygen-json", "the keypair file")


def from_base58_secret(text: str) -> KeyMaterial:
    """A base58 secret as Phantom's "Export private key" shows it (64 bytes)."""
    try:
        secret = b58decode(text.strip())
    except ValueError as exc:
        raise KeyInputError(f"the private key is not base58 ({exc})") from None
    if len(secret) != 64:
        raise KeyInputError(f"the private key decodes to {len(secret)} bytes; a Solana private key has 64")
    return _from_secret(secret, "base58", "the private key")


def _from_secret(secret: bytes, source: KeySource, what: str) -> KeyMaterial:
    keypair = Keypair.from_seed(secret[:32])
    if bytes(keypair.pubkey()) != secret[32:]:
        raise KeyInputError(f"{what} is damaged: its public half does not match its secret half")
    material = KeyMaterial(source, bytes(keypair))
    material.register_with_redactor()
    return material


def validate_address(text: str) -> str:
    """A payout/withdraw address: base58, 32 bytes, and an ed25519 point (a wallet, not a PDA)."""
    candidate = text.strip()
    try:
        raw = b58decode(candidate)
    except ValueError as exc:
        raise KeyInputError(f"{candidate!r} is not a Solana address: {exc}") from None
    if len(raw) != 32:
        raise KeyInputError(f"{candidate!r} is not a Solana address: it decodes to {len(raw)} bytes, not 32")
    pubkey = Pubkey.from_bytes(raw)
    if not pubkey.is_on_curve():
        raise KeyInputError(
            f"{candidate!r} is a program-derived address, not a wallet: use the address your wallet app shows"
        )
    return str(pubkey)
