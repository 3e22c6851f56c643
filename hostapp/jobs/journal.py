"""The job journal: every read and write of the `jobs` and `job_ops` tables.

The runner writes a job's start, each op and its end here; recovery reads what a process that is gone
left unfinished and adopts it; the outputs' retention reads when a job ended; the Jobs page reads the
history through `JobHistory` (over the node's control API). No other module touches these tables, so
their columns and meaning are decided in one place.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from hostapp.jobs.definition import GridJob, redacted_json
from hostapp.jobs.results import ResultValue
from hostapp.store import Store

UNFINISHED = ("running", "queued")  # job statuses that still need an end


@dataclass
class OpResult:
    op_id: str
    status: str  # succeeded / failed / stopped / skipped
    exit_code: int | None = None
    oom_killed: bool = False
    reason: str | None = None
    results: dict[str, ResultValue] | None = None
    log_tail: str = ""
    log_truncated: bool = False
    output_dir: str | None = None
    output_files: list[str] = field(default_factory=list)
    restarts: int = 0
    service: dict[str, Any] | None = None  # a service op's health, ports and traffic (hostapp/services/host.py)
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def duration_seconds(self) -> float:
        if self.started_at is None or self.ended_at is None:
            return 0.0
        return self.ended_at - self.started_at


@dataclass
class JobResult:
    job_id: str
    attempt: int
    status: str  # succeeded / failed / stopped
    reason: str | None = None
    ops: list[OpResult] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def duration_seconds(self) -> float:
        return max(0.0, self.ended_at - self.started_at)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_seconds"] = round(self.duration_seconds, 3)
        for op, raw in zip(self.ops, data["ops"], strict=True):
            raw["duration_seconds"] = round(op.duration_seconds, 3)
        return data


@dataclass(frozen=True)
class UnfinishedJob:
    """A job attempt recorded as running or queued: what recovery looks at after a restart."""

    job_id: str
    attempt: int
    started_at: float
    owner: str | None


@dataclass(frozen=True)
class RecordedOp:
    op_id: str
    status: str
    reason: str | None


@dataclass(frozen=True)
class AttemptState:
    """One attempt of a job as the outputs' retention sees it."""

    source: str
    status: str
    ended_at: float | None


class JobJournal:
    """Writes and reads job attempts and their ops in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---------------------------------------------------------------- writes

    def record_start(self, job: GridJob, source: str, started: float, owner: str) -> None:
        """A new attempt (or a rerun of the same attempt) is running, owned by `owner`."""
        self.store.execute(
            """INSERT INTO jobs (job_id, attempt, source, definition, status, reason, created_at, started_at, owner)
               VALUES (?, ?, ?, ?, 'running', NULL, ?, ?, ?)
               ON CONFLICT(job_id, attempt) DO UPDATE SET status = 'running', reason = NULL,
               started_at = excluded.started_at, ended_at = NULL, owner = excluded.owner""",
            (job.job_id, job.attempt, source, redacted_json(job.definition), started, started, owner),
        )

    def record_end(self, result: JobResult) -> None:
        self.store.execute(
            "UPDATE jobs SET status = ?, reason = ?, ended_at = ? WHERE job_id = ? AND attempt = ?",
            (result.status, result.reason, result.ended_at or time.time(), result.job_id, result.attempt),
        )

    def record_op(self, job_id: str, attempt: int, op: OpResult, container_id: str | None) -> None:
        self.store.execute(
            """INSERT INTO job_ops (job_id, attempt, op_id, container_id, status, exit_code, oom_killed, reason,
                                    results, log_tail, started_at, ended_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(job_id, attempt, op_id) DO UPDATE SET container_id = excluded.container_id,
               status = excluded.status, exit_code = excluded.exit_code, oom_killed = excluded.oom_killed,
               reason = excluded.reason, results = excluded.results, log_tail = excluded.log_tail,
               started_at = COALESCE(job_ops.started_at, excluded.started_at), ended_at = excluded.ended_at""",
            (
                job_id,
                attempt,
                op.op_id,
                container_id,
                op.status,
                op.exit_code,
                int(op.oom_killed),
                op.reason,
                None if op.results is None else json.dumps(op.results),
                op.log_tail or None,
                op.started_at,
                op.ended_at,
            ),
        )

    def adopt(self, job_id: str, attempt: int, gone_owner: str | None, new_owner: str) -> bool:
        """Swap an unfinished attempt's owner from `gone_owner` to `new_owner` in one UPDATE: when two
        processes adopt at once, exactly one of them gets True."""
        taken = self.store.execute(
            "UPDATE jobs SET owner = ? WHERE job_id = ? AND attempt = ? AND status IN (?, ?) AND owner IS ?",
            (new_owner, job_id, attempt, *UNFINISHED, gone_owner),
        ).rowcount
        return taken == 1

    # ---------------------------------------------------------------- reads

    def unfinished(self) -> list[UnfinishedJob]:
        rows = self.store.query(
            "SELECT job_id, attempt, started_at, owner FROM jobs WHERE status IN (?, ?)", UNFINISHED
        )
        return [
            UnfinishedJob(str(r["job_id"]), int(r["attempt"]), float(r["started_at"] or 0.0), r["owner"]) for r in rows
        ]

    def status_and_owner(self, job_id: str, attempt: int) -> tuple[str, str | None] | None:
        """(status, owner) of an attempt; None when it has no record."""
        rows = self.store.query("SELECT status, owner FROM jobs WHERE job_id = ? AND attempt = ?", (job_id, attempt))
        return (str(rows[0]["status"]), rows[0]["owner"]) if rows else None

    def definition_json(self, job_id: str, attempt: int) -> str | None:
        """The definition as stored (registry passwords redacted)."""
        rows = self.store.query("SELECT definition FROM jobs WHERE job_id = ? AND attempt = ?", (job_id, attempt))
        return str(rows[0]["definition"]) if rows else None

    def ops(self, job_id: str, attempt: int) -> list[RecordedOp]:
        rows = self.store.query(
            "SELECT op_id, status, reason FROM job_ops WHERE job_id = ? AND attempt = ?", (job_id, attempt)
        )
        return [RecordedOp(str(r["op_id"]), str(r["status"]), r["reason"]) for r in rows]

    def attempts(self, job_id: str) -> list[AttemptState]:
        rows = self.store.query("SELECT source, status, ended_at FROM jobs WHERE job_id = ?", (job_id,))
        return [AttemptState(str(r["source"]), str(r["status"]), r["ended_at"]) for r in rows]


# ---------------------------------------------------------------- the Jobs page's history


@dataclass(frozen=True)
class JobHistoryRow:
    """One job attempt as the Jobs page lists it; every field is plain JSON."""

    job_id: str
    attempt: int
    source: str  # grid / local
    status: str  # queued / running / succeeded / failed / stopped
    reason: str | None
    created_at: float
    started_at: float | None
    ended_at: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobHistoryRow:
        """The row from `to_json()` output; ValueError names the first field that is missing or of the wrong type."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a job history row must be a JSON object, got {type(data).__name__}")
        values: dict[str, Any] = {}
        for spec in fields(cls):
            if spec.name not in data:
                raise ValueError(f"job history row: field {spec.name!r} is missing")
            value = data[spec.name]
            if not _HISTORY_FIELD_CHECKS[spec.name](value):
                raise ValueError(f"job history row: field {spec.name!r} has the wrong type ({value!r})")
            values[spec.name] = float(value) if isinstance(value, int) and spec.name.endswith("_at") else value
        return cls(**values)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_HISTORY_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "job_id": lambda v: isinstance(v, str),
    "attempt": _is_int,
    "source": lambda v: isinstance(v, str),
    "status": lambda v: isinstance(v, str),
    "reason": lambda v: v is None or isinstance(v, str),
    "created_at": _is_number,
    "started_at": lambda v: v is None or _is_number(v),
    "ended_at": lambda v: v is None or _is_number(v),
}


def like_pattern(text: str) -> str:
    """`text` as a LIKE pattern that matches it anywhere, with LIKE's own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class JobHistory:
    """The Jobs page's query: the newest job attempts, optionally those whose id, status or reason
    contains a text (case-insensitive for ASCII, `%` and `_` matched literally)."""

    _SQL = (
        "SELECT job_id, attempt, source, status, reason, created_at, started_at, ended_at FROM jobs "
        "WHERE ? = '' OR job_id LIKE ? ESCAPE '\\' OR status LIKE ? ESCAPE '\\' OR reason LIKE ? ESCAPE '\\' "
        "ORDER BY created_at DESC LIMIT ?"
    )

    def __init__(self, store: Store) -> None:
        self.store = store

    def search(self, text: str, limit: int) -> list[JobHistoryRow]:
        """At most `limit` attempts, newest first; an empty `text` matches every attempt."""
        if limit < 1:
            return []
        pattern = like_pattern(text)
        rows = self.store.query(self._SQL, (text, pattern, pattern, pattern, limit))
        return [
            JobHistoryRow(
                job_id=str(r["job_id"]),
                attempt=int(r["attempt"]),
                source=str(r["source"]),
                status=str(r["status"]),
                reason=r["reason"],
                created_at=float(r["created_at"]),
                started_at=None if r["started_at"] is None else float(r["started_at"]),
                ended_at=None if r["ended_at"] is None else float(r["ended_at"]),
            )
            for r in rows
        ]
