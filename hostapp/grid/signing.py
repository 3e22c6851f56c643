"""Request signing for the grid protocol: every node request carries a fresh Ed25519 signature.

The node signs a canonical string of the request (method, path, sorted query, timestamp, nonce,
sha256 of the body) with its wallet key. A captured header is worth nothing to an observer: it
covers only that exact request, goes stale after the window, and its nonce is refused the second
time. (Nosana's node signs one static message, which anyone who sees it once can replay forever.)

Pure: no I/O besides the `NonceStore` the caller passes in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl, urlencode

from solders.pubkey import Pubkey
from solders.signature import Signature

SCHEME = "hostapp-grid-v1"
HEADER_NODE = "X-Hostapp-Node"
HEADER_TIMESTAMP = "X-Hostapp-Timestamp"
HEADER_NONCE = "X-Hostapp-Nonce"
HEADER_SIGNATURE = "X-Hostapp-Signature"
DEFAULT_WINDOW_SECONDS = 60
_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class Signer(Protocol):
    """What signs: the wallet's Keystore satisfies it (base58 pubkey, 64-byte ed25519 signature)."""

    @property
    def pubkey(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


class SignatureRejected(Exception):
    """The request is not authentic or not fresh; `.reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NonceStore(Protocol):
    def remember(self, node: str, nonce: str, expires_at: float, now: float) -> bool:
        """Record the nonce; False if it was already recorded and has not expired by `now`."""
        ...


class MemoryNonceStore:
    """Nonces kept in memory until their timestamp leaves the window; enough for one process."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def remember(self, node: str, nonce: str, expires_at: float, now: float) -> bool:
        with self._lock:
            if now >= self._next_purge:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                self._next_purge = now + 10
            key = (node, nonce)
            if self._seen.get(key, 0.0) > now:
                return False
            self._seen[key] = expires_at
            return True


def canonical_query(query: str) -> str:
    """The query string with its parameters sorted, so encoding order cannot break a signature."""
    return urlencode(sorted(parse_qsl(query, keep_blank_values=True)))


def canonical_message(
    *, node: str, method: str, path: str, query: str, timestamp: int, nonce: str, body: bytes
) -> bytes:
    lines = [
        SCHEME,
        node,
        method.upper(),
        path,
        canonical_query(query),
        str(timestamp),
        nonce,
        hashlib.sha256(body).hexdigest(),
    ]
    return "\n".join(lines).encode("utf-8")


def new_nonce() -> str:
    return secrets.token_hex(16)


def sign_request(
    signer: Signer,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that authenticate this one request."""
    timestamp = int(time.time() if now is None else now)
    nonce = nonce or new_nonce()
    message = canonical_message(
        node=signer.pubkey, method=method, path=path, query=query, timestamp=timestamp, nonce=nonce, body=body
    )
    signature = Signature.from_bytes(signer.sign(message))
    return {
        HEADER_NODE: signer.pubkey,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: str(signature),
    }


@dataclass(frozen=True)
class VerifiedRequest:
    node: str
    timestamp: int
    nonce: str


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name) or headers.get(name.lower())
    if not value:
        raise SignatureRejected("missing_header", f"missing {name} header: node requests must be signed")
    return value


def verify_request(
    headers: Mapping[str, str],
    method: str,
    path: str,
    query: str,
    body: bytes,
    nonces: NonceStore,
    *,
    now: float | None = None,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> VerifiedRequest:
    """Checks the signature, the timestamp window and nonce freshness, in that order.

    The nonce is recorded only after the signature verifies, so a forger cannot burn a node's
    nonces; and it is kept as long as its timestamp stays inside the window, after which the
    timestamp check alone refuses a replay.
    """
    now = time.time() if now is None else now
    node_text = _header(headers, HEADER_NODE)
    timestamp_text = _header(headers, HEADER_TIMESTAMP)
    nonce = _header(headers, HEADER_NONCE)
    signature_text = _header(headers, HEADER_SIGNATURE)
    try:
        node = Pubkey.from_string(node_text)
    except ValueError:
        raise SignatureRejected("bad_node", f"{HEADER_NODE} is not a base58 public key") from None
    if not re.fullmatch(r"-?[0-9]{1,12}", timestamp_text):
        raise SignatureRejected("bad_timestamp", f"{HEADER_TIMESTAMP} must be Unix seconds")
    timestamp = int(timestamp_text)
    if abs(now - timestamp) > window_seconds:
        raise SignatureRejected(
            "stale",
            f"request timestamp is {int(now - timestamp)} s off the server clock (allowed ±{window_seconds} s): "
            "check the system clock",
        )
    if not _NONCE_RE.fullmatch(nonce):
        raise SignatureRejected("bad_nonce", f"{HEADER_NONCE} must be 16-64 characters of [A-Za-z0-9_-]")
    try:
        signature = Signature.from_string(signature_text)
    except ValueError:
        raise SignatureRejected("bad_signature", f"{HEADER_SIGNATURE} is not a base58 signature") from None
    message = canonical_message(
        node=node_text, method=method, path=path, query=query, timestamp=timestamp, nonce=nonce, body=body
    )
    if not signature.verify(node, message):
        raise SignatureRejected("bad_signature", "signature does not match the request and node key")
    if not nonces.remember(node_text, nonce, float(timestamp + window_seconds + 1), now):
        raise SignatureRejected("replayed", "nonce already used: a request is never accepted twice")
    return VerifiedRequest(node_text, timestamp, nonce)
