"""The node's Ed25519 wallet key as an SSH client key: asyncssh asks it to sign, the secret stays in the keystore.

An `ssh-ed25519` signature is the plain Ed25519 signature of the data (RFC 8709), which is exactly what the
wallet's `Keystore.sign` returns, so the tunnel needs no copy of the private key and no second key to manage.
"""

from __future__ import annotations

import asyncssh
from asyncssh.packet import String
from asyncssh.public_key import decode_ssh_public_key
from solders.pubkey import Pubkey

from hostapp.services.tunnel_types import Signer as Signer

ALGORITHM = b"ssh-ed25519"


def public_blob(pubkey: str) -> bytes:
    """The SSH wire form of a base58 Ed25519 public key."""
    return String(ALGORITHM) + String(bytes(Pubkey.from_string(pubkey)))


def ssh_public_key(pubkey: str) -> asyncssh.SSHKey:
    key: asyncssh.SSHKey = decode_ssh_public_key(public_blob(pubkey))
    return key


def node_of(key: asyncssh.SSHKey) -> str | None:
    """The base58 node id of an `ssh-ed25519` key (None for any other algorithm)."""
    if key.algorithm != ALGORITHM:
        return None
    blob = key.public_data
    raw = blob[-32:]
    if blob != public_blob(str(Pubkey.from_bytes(raw))):
        return None
    return str(Pubkey.from_bytes(raw))


class NodeKeyPair(asyncssh.SSHKeyPair):
    """A client key pair whose signatures come from the node's keystore."""

    _key_type = "local"

    def __init__(self, signer: Signer) -> None:
        blob = public_blob(signer.pubkey)
        super().__init__(ALGORITHM, ALGORITHM, [ALGORITHM], [ALGORITHM], blob, signer.pubkey.encode())
        self._signer = signer

    def sign(self, data: bytes) -> bytes:
        return bytes(String(ALGORITHM) + String(self._signer.sign(data)))
