"""The SQLite file: opening, migrating with a backup first, and serialised access."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hostapp.store.migrations import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The database cannot be used; the message says what to do."""


def connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Path | None, migrations: Sequence[str] = MIGRATIONS) -> int:
    """Bring the schema up to date; returns the version found. Backs the file up first."""
    found = schema_version(conn)
    target = len(migrations)
    if found > target:
        raise StoreError(
            f"database {path} has schema {found}, newer than this hostapp knows ({target}): "
            "upgrade hostapp or restore an older backup"
        )
    if found == target:
        return found
    if path is not None and found > 0:
        backup_path = path.with_name(f"{path.name}.v{found}.bak")
        backup = sqlite3.connect(str(backup_path))
        try:
            conn.backup(backup)
        finally:
            backup.close()
        log.info("database backed up to %s before migrating %d -> %d", backup_path, found, target)
    for version in range(found + 1, target + 1):
        script = migrations[version - 1]
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(
                f"database migration to schema {version} failed ({exc}); the database was left "
                f"at schema {version - 1}: report this, the backup beside {path} is intact"
            ) from exc
    return found


def _statements(script: str) -> Iterator[str]:
    # sqlite3.complete_statement lets us split a script without executescript's implicit COMMIT.
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            buffer = ""
            if statement and statement != ";":
                yield statement
    if buffer.strip():
        yield buffer.strip()


class Store:
    """One writer connection guarded by a lock; WAL lets readers open their own connections."""

    def __init__(self, path: Path, migrations: Sequence[str] = MIGRATIONS) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = connect(path)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open database {path} ({exc}): move it aside to start fresh, or restore a backup"
            ) from exc
        try:
            migrate(self._conn, path, migrations)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"database {path} is not usable ({exc}): move it aside or restore a backup") from exc
        self._lock = threading.RLock()

    @property
    def version(self) -> int:
        return schema_version(self._conn)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def reader(self) -> sqlite3.Connection:
        """A separate connection for long reads (dashboard aggregates) that never block the writer."""
        return connect(self.path)

    def get_kv(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM kv WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    def set_kv(self, key: str, value: str) -> None:
        self.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "connect", "migrate", "schema_version"]
