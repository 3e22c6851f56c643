import shutil
import sqlite3
from pathlib import Path

import pytest

from hostapp.store import Store, StoreError
from hostapp.store.db import connect, migrate, schema_version
from hostapp.store.migrations import MIGRATIONS, SCHEMA_VERSION

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "store-v1.sqlite3"


def test_new_database_is_current_and_wal(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    assert store.version == SCHEMA_VERSION
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    store.set_kv("a", "1")
    store.set_kv("a", "2")
    assert store.get_kv("a") == "2"
    store.close()


def test_old_version_file_is_migrated_with_a_backup(tmp_path: Path) -> None:
    db = tmp_path / "hostapp.sqlite3"
    shutil.copy(FIXTURE, db)
    store = Store(db)
    assert store.version == SCHEMA_VERSION
    # old data survives, new tables exist
    assert store.get_kv("node_state") == "paused"
    assert store.query("SELECT job_id FROM jobs")[0]["job_id"] == "job-old-1"
    assert store.query("SELECT count(*) FROM ledger")[0][0] == 0
    backup = tmp_path / "hostapp.sqlite3.v1.bak"
    assert backup.exists()
    assert schema_version(sqlite3.connect(backup)) == 1
    store.close()


def test_failing_migration_leaves_the_database_intact(tmp_path: Path) -> None:
    db = tmp_path / "hostapp.sqlite3"
    shutil.copy(FIXTURE, db)
    broken = (*MIGRATIONS[:1], "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);")
    conn = connect(db)
    with pytest.raises(StoreError, match="migration to schema 2 failed"):
        migrate(conn, db, broken)
    assert schema_version(conn) == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half_done" not in tables
    assert conn.execute("SELECT value FROM kv WHERE key='node_state'").fetchone()[0] == "paused"
    conn.close()


def test_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    db = tmp_path / "hostapp.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="upgrade hostapp"):
        Store(db)


def test_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "hostapp.sqlite3"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="move it aside"):
        Store(db)


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute("INSERT INTO kv VALUES ('x', '1')")
        raise RuntimeError("boom")
    assert store.get_kv("x") is None
    store.close()
