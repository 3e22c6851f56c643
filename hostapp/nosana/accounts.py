"""Decoders (and encoders) for the Nosana accounts a node reads: Market, Job, Run, Stake.

Anchor layout: an 8-byte discriminator sha256("account:<Name>")[:8], then the fields in Borsh
(little-endian integers, 32-byte public keys, u32-length-prefixed vectors). Accounts may be
allocated larger than their content (a market reserves room for its queue), so trailing bytes are
ignored, as Anchor and the official client do. Field order follows `@nosana/jobs-program` and
`@nosana/stake-program`; tests/nosana checks both directions against them byte for byte.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import ClassVar

from solders.pubkey import Pubkey

# Run.node sits after the discriminator and Run.job: a node finds its runs with a memcmp here.
RUN_NODE_OFFSET = 8 + 32
# Job.node sits after the discriminator, ipfs_job, ipfs_result and market (the kit filters jobs here too).
JOB_NODE_OFFSET = 8 + 32 + 32 + 32
# Job.state values, from `@nosana/kit`'s JobState: a job is paid when it reaches COMPLETED (`finish`).
JOB_QUEUED, JOB_RUNNING, JOB_COMPLETED, JOB_STOPPED = 0, 1, 2, 3


def account_discriminator(name: str) -> bytes:
    return hashlib.sha256(f"account:{name}".encode()).digest()[:8]


class AccountDecodeError(ValueError):
    """One line: which account could not be decoded and why."""


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._at = 0
        self._what = what

    def take(self, size: int) -> bytes:
        end = self._at + size
        if end > len(self._data):
            raise AccountDecodeError(
                f"{self._what}: data ends at byte {len(self._data)}, the layout needs at least {end}"
            )
        chunk = self._data[self._at : end]
        self._at = end
        return chunk

    def pubkey(self) -> Pubkey:
        return Pubkey.from_bytes(self.take(32))

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def i64(self) -> int:
        return int(struct.unpack("<q", self.take(8))[0])

    def u128(self) -> int:
        return int.from_bytes(self.take(16), "little")


def _open(data: bytes, name: str) -> _Reader:
    reader = _Reader(bytes(data), name)
    found = reader.take(8)
    if found != account_discriminator(name):
        raise AccountDecodeError(f"not a Nosana {name}: discriminator {found.hex()} does not match")
    return reader


def _u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def _i64(value: int) -> bytes:
    return struct.pack("<q", value)


@dataclass(frozen=True)
class MarketAccount:
    NAME: ClassVar[str] = "MarketAccount"
    authority: Pubkey
    job_expiration: int
    job_price: int  # NOS base units per second of job time
    job_timeout: int  # seconds
    job_type: int
    vault: Pubkey
    vault_bump: int
    node_access_key: Pubkey  # the access-key NFT collection a node must hold to work here
    node_xnos_minimum: int
    queue_type: int  # which side waits in `queue`: jobs or nodes (the program's QueueType)
    queue: tuple[Pubkey, ...]

    @classmethod
    def decode(cls, data: bytes) -> MarketAccount:
        r = _open(data, cls.NAME)
        authority, expiration, price, timeout = r.pubkey(), r.i64(), r.u64(), r.i64()
        job_type, vault, bump, access_key = r.u8(), r.pubkey(), r.u8(), r.pubkey()
        xnos, queue_type, count = r.u128(), r.u8(), r.u32()
        queue = tuple(r.pubkey() for _ in range(count))
        return cls(authority, expiration, price, timeout, job_type, vault, bump, access_key, xnos, queue_type, queue)

    def encode(self) -> bytes:
        return b"".join(
            [
                account_discriminator(self.NAME),
                bytes(self.authority),
                _i64(self.job_expiration),
                _u64(self.job_price),
                _i64(self.job_timeout),
                bytes([self.job_type]),
                bytes(self.vault),
                bytes([self.vault_bump]),
                bytes(self.node_access_key),
                self.node_xnos_minimum.to_bytes(16, "little"),
                bytes([self.queue_type]),
                struct.pack("<I", len(self.queue)),
                *(bytes(k) for k in self.queue),
            ]
        )


@dataclass(frozen=True)
class JobAccount:
    NAME: ClassVar[str] = "JobAccount"
    SIZE: ClassVar[int] = 233
    ipfs_job: bytes  # 32-byte sha256 digest; cid.bytes_to_cid gives the IPFS address
    ipfs_result: bytes
    market: Pubkey
    node: Pubkey
    payer: Pubkey
    price: int  # NOS base units per second
    project: Pubkey
    state: int
    time_end: int
    time_start: int
    timeout: int

    @classmethod
    def decode(cls, data: bytes) -> JobAccount:
        r = _open(data, cls.NAME)
        ipfs_job, ipfs_result, market, node, payer = r.take(32), r.take(32), r.pubkey(), r.pubkey(), r.pubkey()
        price, project, state, time_end, time_start, timeout = r.u64(), r.pubkey(), r.u8(), r.i64(), r.i64(), r.i64()
        return cls(ipfs_job, ipfs_result, market, node, payer, price, project, state, time_end, time_start, timeout)

    def encode(self) -> bytes:
        return b"".join(
            [
                account_discriminator(self.NAME),
                self.ipfs_job,
                self.ipfs_result,
                bytes(self.market),
                bytes(self.node),
                bytes(self.payer),
                _u64(self.price),
                bytes(self.project),
                bytes([self.state]),
                _i64(self.time_end),
                _i64(self.time_start),
                _i64(self.timeout),
            ]
        )

    def payment(self) -> int:
        """NOS base units the node earns on `finish`: price × min(time_end − time_start, timeout)."""
        seconds = max(0, min(self.time_end - self.time_start, self.timeout))
        return self.price * seconds


@dataclass(frozen=True)
class RunAccount:
    NAME: ClassVar[str] = "RunAccount"
    SIZE: ClassVar[int] = 113
    job: Pubkey
    node: Pubkey
    payer: Pubkey
    state: int
    time: int  # unix seconds the node claimed the job

    @classmethod
    def decode(cls, data: bytes) -> RunAccount:
        r = _open(data, cls.NAME)
        return cls(r.pubkey(), r.pubkey(), r.pubkey(), r.u8(), r.i64())

    def encode(self) -> bytes:
        return b"".join(
            [
                account_discriminator(self.NAME),
                bytes(self.job),
                bytes(self.node),
                bytes(self.payer),
                bytes([self.state]),
                _i64(self.time),
            ]
        )


@dataclass(frozen=True)
class StakeAccount:
    NAME: ClassVar[str] = "StakeAccount"
    amount: int  # NOS base units staked
    authority: Pubkey
    duration: int  # seconds
    time_unstake: int  # 0 while staked
    vault: Pubkey
    vault_bump: int
    xnos: int

    @classmethod
    def decode(cls, data: bytes) -> StakeAccount:
        r = _open(data, cls.NAME)
        return cls(r.u64(), r.pubkey(), r.u64(), r.i64(), r.pubkey(), r.u8(), r.u128())

    def encode(self) -> bytes:
        return b"".join(
            [
                account_discriminator(self.NAME),
                _u64(self.amount),
                bytes(self.authority),
                _u64(self.duration),
                _i64(self.time_unstake),
                bytes(self.vault),
                bytes([self.vault_bump]),
                self.xnos.to_bytes(16, "little"),
            ]
        )
