"""The node key as callers see it: an address and a signing function, never the secret bytes.

The grid client, the chain client and the GUI receive a `Keystore`; only the explicit export
flow in `WalletService` ever turns the secret back into text.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from solders.keypair import Keypair

from hostapp.logs import redactor
from hostapp.wallet.base58 import b58encode


@runtime_checkable
class Keystore(Protocol):
    @property
    def pubkey(self) -> str:
        """The base58 address."""
        ...

    def sign(self, message: bytes) -> bytes:
        """A 64-byte ed25519 signature over `message`."""
        ...


class KeypairKeystore:
    """A Keystore over an in-memory solders Keypair (loaded from the secret store)."""

    __slots__ = ("_keypair", "_pubkey")

    def __init__(self, keypair: Keypair) -> None:
        self._keypair = keypair
        self._pubkey = str(keypair.pubkey())
        register_secret_forms(bytes(keypair))

    @property
    def pubkey(self) -> str:
        return self._pubkey

    def sign(self, message: bytes) -> bytes:
        return bytes(self._keypair.sign_message(message))

    def __repr__(self) -> str:  # never the secret, even in a debugger or a log line
        return f"KeypairKeystore(pubkey={self._pubkey})"


def register_secret_forms(secret64: bytes) -> None:
    """Teach the log redactor this key's text forms without keeping them in memory.

    The 64-byte forms (base58, 128 hex digits, JSON arrays) are redacted by their shape whatever key
    they hold; the 32-byte seed's hex and base58 forms are registered as digests only.
    """
    redactor.register_hidden(secret64[:32].hex(), b58encode(secret64[:32]))
