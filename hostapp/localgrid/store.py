"""The grid server's SQLite state: nodes, jobs, leases, results, credits and seen nonces.

Every state change is one `BEGIN IMMEDIATE` transaction, so a crash leaves either the old or
the new state; a job attempt is credited at most once because `credits` is keyed by
(job_id, attempt) and written in the same transaction as its result.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostapp.grid.billing import billed_amount
from hostapp.resources.identity import definition_resource_ids
from hostapp.store.db import Store

GRID_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE nodes (
        node TEXT PRIMARY KEY,
        payout_address TEXT,
        gpus TEXT NOT NULL,
        driver_version TEXT,
        cuda_version TEXT,
        app_version TEXT,
        registered_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        price_per_second INTEGER NOT NULL,
        timeout_seconds INTEGER NOT NULL,
        gpu INTEGER NOT NULL,
        min_vram_mb INTEGER,
        min_cuda TEXT,
        demo INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'succeeded', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX jobs_queued ON jobs (state, created_at);
    CREATE TABLE leases (
        job_id TEXT NOT NULL REFERENCES jobs (job_id),
        attempt INTEGER NOT NULL,
        node TEXT NOT NULL,
        gpu_uuid TEXT,
        state TEXT NOT NULL CHECK (state IN ('active', 'expired', 'released', 'completed', 'superseded')),
        leased_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        heartbeat TEXT,
        PRIMARY KEY (job_id, attempt)
    );
    CREATE INDEX leases_active ON leases (state, expires_at);
    CREATE TABLE results (
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        node TEXT NOT NULL,
        status TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at REAL NOT NULL,
        PRIMARY KEY (job_id, attempt)
    );
    CREATE TABLE credits (
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        node TEXT NOT NULL,
        seconds_billed INTEGER NOT NULL,
        price_per_second INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        payout_address TEXT NOT NULL,
        credited_at REAL NOT NULL,
        payout_signature TEXT,
        paid_at REAL,
        payout_error TEXT,
        PRIMARY KEY (job_id, attempt)
    );
    CREATE INDEX credits_node ON credits (node);
    CREATE TABLE nonces (
        node TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (node, nonce)
    ) WITHOUT ROWID;
    """,
    # 2: payouts are sent with their signature recorded first (a retry asks the chain whether it
    # landed before paying again), and each unpaid credit knows when the next try is due
    """
    ALTER TABLE credits ADD COLUMN payout_pending TEXT;
    ALTER TABLE credits ADD COLUMN next_payout_at REAL;
    UPDATE credits SET next_payout_at = credited_at WHERE payout_signature IS NULL;
    """,
)

# How long a queued job may be passed over for one whose models the leasing node already holds.
LOCALITY_WINDOW_SECONDS = 120

# Back to the queue, but only if this attempt is still the job's current one (not re-leased since).
_REQUEUE_CURRENT = (
    "UPDATE jobs SET state = 'queued', updated_at = ? WHERE job_id = ? AND state = 'leased' AND attempts = ?"
)


class GridError(Exception):
    """A refused call: HTTP status, a stable code, and a message saying what to do."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True)
class Lease:
    job_id: str
    attempt: int
    price_per_second: int
    timeout_seconds: int
    definition: dict[str, Any]
    gpu_uuid: str | None
    expires_at: float
    demo: bool


@dataclass(frozen=True)
class Credit:
    job_id: str
    attempt: int
    node: str
    amount: int
    payout_address: str
    payout_pending: str | None = None  # signature of a payout sent (or about to be) whose fate is unknown


def _cuda_pair(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    major, _, minor = text.partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return None


class GridStore:
    def __init__(self, path: Path) -> None:
        # The same SQLite plumbing as the app's own store (WAL, migrations with a backup, one locked writer).
        self._db = Store(path, GRID_MIGRATIONS)
        self.path = path
        self._next_nonce_purge = 0.0

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._db.transaction()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._db.query(sql, params)

    # ------------------------------------------------------------ nonces

    def remember(self, node: str, nonce: str, expires_at: float, now: float) -> bool:
        with self._tx() as conn:
            if now >= self._next_nonce_purge:
                conn.execute("DELETE FROM nonces WHERE expires_at <= ?", (now,))
                self._next_nonce_purge = now + 30
            row = conn.execute("SELECT expires_at FROM nonces WHERE node = ? AND nonce = ?", (node, nonce)).fetchone()
            if row is not None and row["expires_at"] > now:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO nonces (node, nonce, expires_at) VALUES (?, ?, ?)", (node, nonce, expires_at)
            )
            return True

    # ------------------------------------------------------------ nodes

    def upsert_node(self, node: str, registration: dict[str, Any], now: float) -> dict[str, Any]:
        with self._tx() as conn:
            conn.execute(
                """INSERT INTO nodes (node, payout_address, gpus, driver_version, cuda_version, app_version,
                                      registered_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (node) DO UPDATE SET payout_address = excluded.payout_address,
                       gpus = excluded.gpus, driver_version = excluded.driver_version,
                       cuda_version = excluded.cuda_version, app_version = excluded.app_version,
                       updated_at = excluded.updated_at""",
                (
                    node,
                    registration.get("payout_address"),
                    json.dumps(registration.get("gpus", [])),
                    registration.get("driver_version"),
                    registration.get("cuda_version"),
                    registration.get("app_version"),
                    now,
                    now,
                ),
            )
        found = self.node(node)
        assert found is not None
        return found

    def node(self, node: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM nodes WHERE node = ?", (node,))
        if not rows:
            return None
        row = rows[0]
        return {
            "node": row["node"],
            "payout_address": row["payout_address"] or row["node"],
            "gpus": json.loads(row["gpus"]),
            "driver_version": row["driver_version"],
            "cuda_version": row["cuda_version"],
            "app_version": row["app_version"],
            "registered_at": int(row["registered_at"]),
            "updated_at": int(row["updated_at"]),
        }

    # ------------------------------------------------------------ jobs (owner side)

    def submit_job(
        self,
        definition: dict[str, Any],
        price_per_second: int,
        timeout_seconds: int,
        *,
        gpu: bool,
        min_vram_mb: int | None,
        min_cuda: tuple[int, int] | None,
        demo: bool = False,
        now: float | None = None,
    ) -> str:
        now = time.time() if now is None else now
        job_id = ("demo-" if demo else "job-") + uuid.uuid4().hex[:20]
        with self._tx() as conn:
            conn.execute(
                """INSERT INTO jobs (job_id, definition, price_per_second, timeout_seconds, gpu, min_vram_mb,
                                     min_cuda, demo, state, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)""",
                (
                    job_id,
                    json.dumps(definition, sort_keys=True),
                    price_per_second,
                    timeout_seconds,
                    int(gpu),
                    min_vram_mb,
                    f"{min_cuda[0]}.{min_cuda[1]}" if min_cuda else None,
                    int(demo),
                    now,
                    now,
                ),
            )
        return job_id

    def queued_count(self, *, demo: bool | None = None) -> int:
        sql = "SELECT COUNT(*) FROM jobs WHERE state = 'queued'"
        if demo is not None:
            sql += f" AND demo = {int(demo)}"
        return int(self._query(sql)[0][0])

    def job_status(self, job_id: str) -> dict[str, Any] | None:
        rows = self._query(_JOB_STATUS_SQL + " WHERE j.job_id = ?", (job_id,))
        return _job_status(rows[0]) if rows else None

    def list_jobs(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        if state:
            rows = self._query(
                _JOB_STATUS_SQL + " WHERE j.state = ? ORDER BY j.created_at DESC LIMIT ?", (state, limit)
            )
        else:
            rows = self._query(_JOB_STATUS_SQL + " ORDER BY j.created_at DESC LIMIT ?", (limit,))
        return [_job_status(row) for row in rows]

    # ------------------------------------------------------------ leases (node side)

    def expire_leases(self, conn: sqlite3.Connection, now: float) -> int:
        """Leases whose heartbeats stopped give their job back to the queue (the next lease is attempt + 1)."""
        stale = conn.execute(
            "SELECT job_id, attempt FROM leases WHERE state = 'active' AND expires_at < ?", (now,)
        ).fetchall()
        for row in stale:
            conn.execute(
                "UPDATE leases SET state = 'expired' WHERE job_id = ? AND attempt = ?", (row["job_id"], row["attempt"])
            )
            conn.execute(
                _REQUEUE_CURRENT,
                (now, row["job_id"], row["attempt"]),
            )
        return len(stale)

    def claim(
        self,
        node: str,
        free_gpus: list[str],
        accept_cpu: bool,
        lease_seconds: int,
        now: float,
        held_resources: Collection[str] = (),
    ) -> Lease | None:
        """A queued job this node can run now, leased to it; None when there is none.

        Oldest first, with one locality preference: among jobs queued for less than LOCALITY_WINDOW_SECONDS,
        one naming more of the model resources the node holds (`held_resources`, identity.py) goes first.
        A job that waited longer than the window is taken by age alone, so the preference never starves it.
        """
        registered = self.node(node)
        if registered is None:
            raise GridError(409, "not_registered", "node is not registered: call PUT /v1/node first")
        gpus = {g["uuid"]: g for g in registered["gpus"] if g["uuid"] in set(free_gpus)}
        node_cuda = _cuda_pair(registered["cuda_version"])
        with self._tx() as conn:
            self.expire_leases(conn, now)
            candidates = conn.execute(
                "SELECT * FROM jobs WHERE state = 'queued' ORDER BY created_at, job_id LIMIT 200"
            ).fetchall()
            if held_resources:
                candidates = _locality_order(candidates, set(held_resources), now)
            for job in candidates:
                gpu_uuid = self._match(job, gpus, accept_cpu, node_cuda)
                if gpu_uuid is False:
                    continue
                attempt = int(job["attempts"]) + 1
                expires_at = now + lease_seconds
                conn.execute(
                    "UPDATE jobs SET state = 'leased', attempts = ?, updated_at = ? WHERE job_id = ?",
                    (attempt, now, job["job_id"]),
                )
                conn.execute(
                    """INSERT INTO leases (job_id, attempt, node, gpu_uuid, state, leased_at, expires_at)
                       VALUES (?, ?, ?, ?, 'active', ?, ?)""",
                    (job["job_id"], attempt, node, gpu_uuid, now, expires_at),
                )
                return Lease(
                    job_id=job["job_id"],
                    attempt=attempt,
                    price_per_second=int(job["price_per_second"]),
                    timeout_seconds=int(job["timeout_seconds"]),
                    definition=json.loads(job["definition"]),
                    gpu_uuid=gpu_uuid if isinstance(gpu_uuid, str) else None,
                    expires_at=expires_at,
                    demo=bool(job["demo"]),
                )
        return None

    @staticmethod
    def _match(
        job: sqlite3.Row, gpus: dict[str, dict[str, Any]], accept_cpu: bool, node_cuda: tuple[int, int] | None
    ) -> str | bool | None:
        """The GPU uuid to run on, None for a CPU job, False when this node cannot take the job."""
        if not job["gpu"]:
            return None if accept_cpu else False
        min_cuda = _cuda_pair(job["min_cuda"])
        if min_cuda and (node_cuda is None or node_cuda < min_cuda):
            return False
        for uuid_, gpu in gpus.items():
            if job["min_vram_mb"] is None or int(gpu.get("vram_mb") or 0) >= int(job["min_vram_mb"]):
                return uuid_
        return False

    def _lease_row(self, conn: sqlite3.Connection, node: str, job_id: str, attempt: int) -> sqlite3.Row:
        row = conn.execute(
            """SELECT l.*, j.state AS job_state, j.attempts AS job_attempts, j.price_per_second, j.timeout_seconds
               FROM leases l JOIN jobs j USING (job_id) WHERE l.job_id = ? AND l.attempt = ?""",
            (job_id, attempt),
        ).fetchone()
        if row is None or row["node"] != node:
            raise GridError(404, "no_lease", f"this node holds no lease for job {job_id} attempt {attempt}")
        return row  # type: ignore[no-any-return]

    def heartbeat(
        self, node: str, job_id: str, attempt: int, payload: dict[str, Any], lease_seconds: int, now: float
    ) -> float:
        with self._tx() as conn:
            self.expire_leases(conn, now)
            lease = self._lease_row(conn, node, job_id, attempt)
            revivable = (
                lease["state"] == "expired" and lease["job_state"] == "queued" and lease["job_attempts"] == attempt
            )
            if lease["state"] != "active" and not revivable:
                raise GridError(
                    409, "lease_lost", f"lease for job {job_id} attempt {attempt} is {lease['state']}: stop the job"
                )
            if revivable:  # the node was only late (e.g. the grid was down) and nobody else took the job
                conn.execute("UPDATE jobs SET state = 'leased', updated_at = ? WHERE job_id = ?", (now, job_id))
            expires_at = now + lease_seconds
            conn.execute(
                "UPDATE leases SET state = 'active', expires_at = ?, heartbeat = ? WHERE job_id = ? AND attempt = ?",
                (expires_at, json.dumps(payload), job_id, attempt),
            )
            return expires_at

    def release(self, node: str, job_id: str, attempt: int, now: float) -> str:
        with self._tx() as conn:
            lease = self._lease_row(conn, node, job_id, attempt)
            if lease["state"] == "active":
                conn.execute("UPDATE leases SET state = 'released' WHERE job_id = ? AND attempt = ?", (job_id, attempt))
                conn.execute(
                    _REQUEUE_CURRENT,
                    (now, job_id, attempt),
                )
            row = conn.execute("SELECT state FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            return str(row["state"])

    def record_result(
        self, node: str, job_id: str, attempt: int, result: dict[str, Any], now: float
    ) -> tuple[dict[str, Any], Credit | None]:
        """Stores the result once per (job, attempt) and credits a success; a repeat returns the first outcome."""
        with self._tx() as conn:
            lease = self._lease_row(conn, node, job_id, attempt)
            existing = conn.execute(
                """SELECT c.seconds_billed, c.amount FROM results r
                   LEFT JOIN credits c USING (job_id, attempt) WHERE r.job_id = ? AND r.attempt = ?""",
                (job_id, attempt),
            ).fetchone()
            if existing is not None:
                return _accepted(job_id, attempt, True, existing["seconds_billed"] or 0, existing["amount"] or 0), None
            if lease["job_state"] in ("succeeded", "failed"):
                raise GridError(409, "job_completed", f"job {job_id} was already completed by another attempt")
            status = result["status"]
            conn.execute(
                "INSERT INTO results (job_id, attempt, node, status, payload, received_at) VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, attempt, node, status, json.dumps(result), now),
            )
            if status == "stopped":  # the node gave up (paused, game started): someone else may run it
                conn.execute("UPDATE leases SET state = 'released' WHERE job_id = ? AND attempt = ?", (job_id, attempt))
                conn.execute(
                    _REQUEUE_CURRENT,
                    (now, job_id, attempt),
                )
                return _accepted(job_id, attempt, False, 0, 0), None
            conn.execute("UPDATE leases SET state = 'completed' WHERE job_id = ? AND attempt = ?", (job_id, attempt))
            conn.execute(
                "UPDATE leases SET state = 'superseded' WHERE job_id = ? AND attempt != ? AND state = 'active'",
                (job_id, attempt),
            )
            conn.execute("UPDATE jobs SET state = ?, updated_at = ? WHERE job_id = ?", (status, now, job_id))
            if status != "succeeded":
                return _accepted(job_id, attempt, False, 0, 0), None
            # Metering: started seconds, never more than the node reports or the grid saw, capped at the timeout.
            seen = max(0.0, now - float(lease["leased_at"]))
            price = int(lease["price_per_second"])
            seconds, amount = billed_amount(
                min(float(result["run_seconds"]), seen), price, int(lease["timeout_seconds"])
            )
            registered = self.node(node)
            payout_address = (registered or {}).get("payout_address") or node
            conn.execute(
                """INSERT INTO credits (job_id, attempt, node, seconds_billed, price_per_second, amount,
                                        payout_address, credited_at, next_payout_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (job_id, attempt, node, seconds, price, amount, payout_address, now, now if amount > 0 else None),
            )
            return _accepted(job_id, attempt, False, seconds, amount), Credit(
                job_id, attempt, node, amount, payout_address
            )

    # ------------------------------------------------------------ credits and payouts

    def unpaid_credits(self, now: float | None = None, limit: int = 100) -> list[Credit]:
        """Credits owed whose next try is due at `now` (None: all of them), oldest first."""
        due = float("inf") if now is None else now
        rows = self._query(
            """SELECT * FROM credits WHERE payout_signature IS NULL AND amount > 0
               AND COALESCE(next_payout_at, 0) <= ? ORDER BY credited_at, job_id LIMIT ?""",
            (due, limit),
        )
        return [
            Credit(r["job_id"], r["attempt"], r["node"], r["amount"], r["payout_address"], r["payout_pending"])
            for r in rows
        ]

    def next_payout_due(self) -> float | None:
        """When the payout worker next has something to pay (None: nothing owed)."""
        row = self._query("SELECT MIN(next_payout_at) FROM credits WHERE payout_signature IS NULL AND amount > 0")[0]
        return None if row[0] is None else float(row[0])

    def set_payout_pending(self, job_id: str, attempt: int, signature: str) -> None:
        """Recorded before the transaction is sent: after a crash the worker asks the chain about it."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE credits SET payout_pending = ? WHERE job_id = ? AND attempt = ? AND payout_signature IS NULL",
                (signature, job_id, attempt),
            )

    def mark_paid(self, job_id: str, attempt: int, signature: str, now: float) -> None:
        with self._tx() as conn:
            conn.execute(
                """UPDATE credits SET payout_signature = ?, paid_at = ?, payout_error = NULL, payout_pending = NULL,
                          next_payout_at = NULL
                   WHERE job_id = ? AND attempt = ? AND payout_signature IS NULL""",
                (signature, now, job_id, attempt),
            )

    def mark_payout_failed(self, job_id: str, attempt: int, error: str, retry_at: float | None = None) -> None:
        with self._tx() as conn:
            conn.execute(
                """UPDATE credits SET payout_error = ?, next_payout_at = COALESCE(?, next_payout_at)
                   WHERE job_id = ? AND attempt = ?""",
                (error[:500], retry_at, job_id, attempt),
            )

    def credits(self, node: str) -> dict[str, Any]:
        rows = self._query("SELECT * FROM credits WHERE node = ? ORDER BY credited_at DESC LIMIT 1000", (node,))
        totals = self._query(
            """SELECT COALESCE(SUM(amount), 0) AS credited,
                      COALESCE(SUM(CASE WHEN payout_signature IS NOT NULL THEN amount ELSE 0 END), 0) AS paid
               FROM credits WHERE node = ?""",
            (node,),
        )[0]
        entries = [
            {
                "job_id": r["job_id"],
                "attempt": r["attempt"],
                "seconds_billed": r["seconds_billed"],
                "price_per_second": r["price_per_second"],
                "amount": r["amount"],
                "status": "paid" if r["payout_signature"] else "credited",
                "payout_address": r["payout_address"],
                "payout_signature": r["payout_signature"],
                "credited_at": int(r["credited_at"]),
                "next_payout_at": None if r["next_payout_at"] is None else int(r["next_payout_at"]),
            }
            for r in rows
        ]
        credited, paid = int(totals["credited"]), int(totals["paid"])
        due = self._query(
            "SELECT MIN(next_payout_at) FROM credits WHERE node = ? AND payout_signature IS NULL AND amount > 0",
            (node,),
        )[0][0]
        return {
            "node": node,
            "credited": credited,
            "paid": paid,
            "unpaid": credited - paid,
            "next_payout_at": None if due is None else int(due),
            "entries": entries,
        }


def _accepted(job_id: str, attempt: int, duplicate: bool, seconds: int, amount: int) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "attempt": attempt,
        "duplicate": duplicate,
        "seconds_billed": seconds,
        "amount": amount,
    }


def _locality_order(jobs: list[sqlite3.Row], held: set[str], now: float) -> list[sqlite3.Row]:
    """Jobs past the locality window by age, then the rest by how many held resources they name, then age
    (`jobs` come oldest first; sorted() is stable)."""

    def rank(job: sqlite3.Row) -> tuple[bool, int]:
        if now - float(job["created_at"]) >= LOCALITY_WINDOW_SECONDS:
            return (False, 0)
        text = job["definition"]
        if '"resources"' not in text:  # stored by json.dumps: no such key, no models; skip the parse
            return (True, 0)
        return (True, -len(definition_resource_ids(json.loads(text)) & held))

    return sorted(jobs, key=rank)


_JOB_STATUS_SQL = """
    SELECT j.*, r.payload AS result, r.node AS result_node, c.seconds_billed, c.amount, c.payout_signature,
           (SELECT l.node FROM leases l WHERE l.job_id = j.job_id ORDER BY l.attempt DESC LIMIT 1) AS lease_node
    FROM jobs j
    LEFT JOIN results r ON r.job_id = j.job_id AND r.attempt = (
        SELECT MAX(attempt) FROM results WHERE job_id = j.job_id AND status != 'stopped')
    LEFT JOIN credits c ON c.job_id = r.job_id AND c.attempt = r.attempt
"""


def _job_status(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "job_id": row["job_id"],
        "state": row["state"],
        "attempts": row["attempts"],
        "price_per_second": row["price_per_second"],
        "timeout_seconds": row["timeout_seconds"],
        "gpu": bool(row["gpu"]),
        "node": row["result_node"] or row["lease_node"],
        "created_at": int(row["created_at"]),
        "updated_at": int(row["updated_at"]),
        "result": json.loads(row["result"]) if row["result"] else None,
        "seconds_billed": row["seconds_billed"],
        "amount": row["amount"],
        "payout_signature": row["payout_signature"],
    }
