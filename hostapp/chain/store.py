"""Persistence of the local chain: every touched account and the transaction history, in SQLite.

LiteSVM keeps state in memory only; replaying these rows with `set_account` on start gives the
same balances after a restart, and the history answers getTransaction/getSignaturesForAddress.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    pubkey TEXT PRIMARY KEY, lamports INTEGER NOT NULL, owner TEXT NOT NULL,
    executable INTEGER NOT NULL, rent_epoch TEXT NOT NULL, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, signature TEXT NOT NULL UNIQUE, slot INTEGER NOT NULL,
    block_time INTEGER NOT NULL, raw BLOB NOT NULL, meta TEXT NOT NULL, err TEXT
);
CREATE TABLE IF NOT EXISTS address_signatures (
    address TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (address, seq)
);
"""


@dataclass(frozen=True)
class StoredAccount:
    pubkey: str
    lamports: int
    owner: str
    executable: bool
    rent_epoch: int
    data: bytes


@dataclass(frozen=True)
class StoredTransaction:
    seq: int
    signature: str
    slot: int
    block_time: int
    raw: bytes
    meta: str  # the RPC meta object, JSON
    err: str | None  # the RPC err value, JSON; None when it succeeded


class ChainStore:
    """Used under the runtime's lock only, hence one connection shared across threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def executed_count(self) -> int:
        """Transactions executed on this chain (genesis funding entries carry no transaction bytes)."""
        return int(self._db.execute("SELECT COUNT(*) FROM transactions WHERE length(raw) > 0").fetchone()[0])

    def accounts(self) -> list[StoredAccount]:
        rows = self._db.execute("SELECT pubkey, lamports, owner, executable, rent_epoch, data FROM accounts")
        return [StoredAccount(r[0], r[1], r[2], bool(r[3]), int(r[4]), bytes(r[5])) for r in rows]

    def commit_transaction(
        self,
        tx: StoredTransaction,
        addresses: list[str],
        accounts: list[StoredAccount],
        removed: list[str],
        slot: int,
    ) -> None:
        """The transaction, its address index, the accounts it left behind and the slot: all or nothing."""
        with self._db:
            self._db.execute("BEGIN")
            cursor = self._db.execute(
                "INSERT INTO transactions (signature, slot, block_time, raw, meta, err) VALUES (?, ?, ?, ?, ?, ?)",
                (tx.signature, tx.slot, tx.block_time, tx.raw, tx.meta, tx.err),
            )
            seq = cursor.lastrowid
            self._db.executemany(
                "INSERT OR IGNORE INTO address_signatures (address, seq) VALUES (?, ?)",
                [(address, seq) for address in addresses],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO accounts (pubkey, lamports, owner, executable, rent_epoch, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(a.pubkey, a.lamports, a.owner, int(a.executable), str(a.rent_epoch), a.data) for a in accounts],
            )
            self._db.executemany("DELETE FROM accounts WHERE pubkey = ?", [(p,) for p in removed])
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('slot', ?)", (str(slot),))

    def transaction(self, signature: str) -> StoredTransaction | None:
        row = self._db.execute(
            "SELECT seq, signature, slot, block_time, raw, meta, err FROM transactions WHERE signature = ?",
            (signature,),
        ).fetchone()
        return None if row is None else _tx(row)

    def signatures_for(
        self, address: str, limit: int, before: str | None, until: str | None
    ) -> list[StoredTransaction]:
        """Newest first, like the RPC: strictly older than `before`, strictly newer than `until`."""
        upper = self._seq_of(before) if before else None
        lower = self._seq_of(until) if until else None
        rows = self._db.execute(
            "SELECT t.seq, t.signature, t.slot, t.block_time, t.raw, t.meta, t.err "
            "FROM address_signatures a JOIN transactions t ON t.seq = a.seq "
            "WHERE a.address = ? AND a.seq < ? AND a.seq > ? ORDER BY a.seq DESC LIMIT ?",
            (address, upper if upper is not None else 2**62, lower if lower is not None else -1, limit),
        )
        return [_tx(r) for r in rows]

    def _seq_of(self, signature: str) -> int | None:
        row = self._db.execute("SELECT seq FROM transactions WHERE signature = ?", (signature,)).fetchone()
        return None if row is None else int(row[0])


def _tx(row: tuple[object, ...]) -> StoredTransaction:
    seq, signature, slot, block_time, raw, meta, err = row
    return StoredTransaction(
        int(seq),  # type: ignore[call-overload]
        str(signature),
        int(slot),  # type: ignore[call-overload]
        int(block_time),  # type: ignore[call-overload]
        bytes(raw),  # type: ignore[call-overload]
        str(meta),
        None if err is None else str(err),
    )
