"""IPFS CIDv0 <-> the 32 bytes Nosana stores on chain (`ipfs_job`, `ipfs_result`).

A CIDv0 is base58(0x12 0x20 || sha256 digest): multihash "sha2-256, 32 bytes". The program keeps
only the digest; the official client (`@nosana/ipfs`) adds and strips the two-byte prefix.
"""

from __future__ import annotations

from hostapp.wallet.base58 import b58decode, b58encode

MULTIHASH_SHA256 = b"\x12\x20"


class InvalidCid(ValueError):
    """One line saying what was wrong with a CID or hash and what a valid one looks like."""


def bytes_to_cid(digest: bytes) -> str:
    if len(digest) != 32:
        raise InvalidCid(f"an on-chain IPFS hash is 32 bytes, got {len(digest)}")
    return b58encode(MULTIHASH_SHA256 + digest)


def cid_to_bytes(cid: str) -> bytes:
    try:
        raw = b58decode(cid.strip())
    except ValueError as exc:
        raise InvalidCid(f"{cid!r} is not a CIDv0 ('Qm…', base58): {exc}") from None
    if len(raw) != 34 or raw[:2] != MULTIHASH_SHA256:
        raise InvalidCid(f"{cid!r} is not a CIDv0: expected a base58 sha2-256 multihash starting with 'Qm'")
    return raw[2:]
