"""The tunnel's plain shapes (what the runner's service host holds while no service runs): kept apart
from hostapp/services/tunnel.py so a node loads asyncssh and its cryptography only when a job
exposes a port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

POSTER_STOP = "stopped by the poster"


class Signer(Protocol):
    """The wallet's Keystore: a base58 public key and 64-byte Ed25519 signatures."""

    @property
    def pubkey(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass
class TunnelStats:
    connections: int = 0  # one per TCP connection from the poster (HTTP keep-alive carries several requests)
    bytes_in: int = 0  # poster -> container
    bytes_out: int = 0  # container -> poster
    refused: int = 0  # channels the edge opened for something this tunnel does not serve


@dataclass(frozen=True)
class EdgeAddress:
    host: str
    port: int
    host_key: str  # the edge's public host key, one OpenSSH line (from the grid API)


class TunnelError(Exception):
    """The tunnel could not be opened as asked (the message says why)."""
