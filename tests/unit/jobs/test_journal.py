"""The job journal and the Jobs page's history query, against a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hostapp.jobs.definition import GridJob, parse_job_definition
from hostapp.jobs.journal import JobHistory, JobHistoryRow, JobJournal, JobResult, OpResult
from hostapp.store import Store

# The Jobs page's query before JobHistory existed (hostapp/gui/pages/jobs.py): the oracle for its semantics.
OLD_HISTORY_SQL = (
    "SELECT job_id, attempt, source, status, reason, created_at, started_at, ended_at FROM jobs "
    "WHERE ? = '' OR job_id LIKE ? ESCAPE '\\' OR status LIKE ? ESCAPE '\\' OR reason LIKE ? ESCAPE '\\' "
    "ORDER BY created_at DESC LIMIT ?"
)
DEFINITION = {"ops": [{"type": "container/run", "id": "run", "args": {"image": "busybox", "cmd": "true"}}]}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Store(tmp_path / "hostapp.sqlite3")
    yield db
    db.close()


def record(journal: JobJournal, job_id: str, started: float, status: str, reason: str | None, attempt: int = 1) -> None:
    job = GridJob(job_id, attempt, 1, 60, parse_job_definition(DEFINITION))
    journal.record_start(job, "grid" if attempt == 1 else "local", started, "owner-1")
    if status != "running":
        journal.record_end(JobResult(job_id, attempt, status, reason, started_at=started, ended_at=started + 2.5))


def old_search(store: Store, text: str, limit: int) -> list[tuple[Any, ...]]:
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [tuple(r) for r in store.query(OLD_HISTORY_SQL, (text, pattern, pattern, pattern, limit))]


@pytest.fixture
def filled(store: Store) -> Store:
    journal = JobJournal(store)
    record(journal, "alpha-1", 100.0, "succeeded", None)
    record(journal, "beta_2", 200.0, "failed", "exited with code 3")
    record(journal, "gamma", 300.0, "stopped", "stopped by the scheduler (100% busy)")
    record(journal, "delta", 400.0, "running", None)
    record(journal, "alpha-1", 500.0, "failed", "timed out", attempt=2)
    return store


@pytest.mark.parametrize(
    ("text", "limit"),
    [("", 500), ("", 2), ("alpha", 500), ("FAILED", 500), ("code 3", 500), ("_", 500), ("%", 500), ("\\", 500)],
)
def test_history_matches_the_old_page_query(filled: Store, text: str, limit: int) -> None:
    rows = JobHistory(filled).search(text, limit)
    assert [tuple(r.to_json().values()) for r in rows] == old_search(filled, text, limit)


def test_history_newest_first_with_literal_wildcards(filled: Store) -> None:
    history = JobHistory(filled)
    assert [(r.job_id, r.attempt) for r in history.search("", 3)] == [("alpha-1", 2), ("delta", 1), ("gamma", 1)]
    assert [r.job_id for r in history.search("_", 10)] == ["beta_2"]  # `_` is a character, not a wildcard
    assert [r.job_id for r in history.search("100%", 10)] == ["gamma"]
    assert history.search("", 0) == []
    running = history.search("delta", 10)[0]
    assert running.status == "running" and running.ended_at is None and running.reason is None


def test_history_rows_are_frozen_json_round_trips(filled: Store) -> None:
    for row in JobHistory(filled).search("", 10):
        data = json.loads(json.dumps(row.to_json()))
        assert JobHistoryRow.from_json(data) == row
        with pytest.raises(AttributeError):
            row.status = "x"  # type: ignore[misc]
    assert set(JobHistory(filled).search("", 1)[0].to_json()) == {
        "job_id",
        "attempt",
        "source",
        "status",
        "reason",
        "created_at",
        "started_at",
        "ended_at",
    }


def test_history_row_from_bad_json_says_which_field(filled: Store) -> None:
    good = JobHistory(filled).search("", 1)[0].to_json()
    with pytest.raises(ValueError, match="'attempt' is missing"):
        JobHistoryRow.from_json({k: v for k, v in good.items() if k != "attempt"})
    with pytest.raises(ValueError, match="'attempt' has the wrong type"):
        JobHistoryRow.from_json({**good, "attempt": True})
    with pytest.raises(ValueError, match="must be a JSON object"):
        JobHistoryRow.from_json([])  # type: ignore[arg-type]
    assert JobHistoryRow.from_json({**good, "created_at": 7}).created_at == 7.0


def test_journal_records_ops_and_adopts_once(store: Store) -> None:
    journal = JobJournal(store)
    record(journal, "job", 10.0, "running", None)
    op = OpResult("run", "succeeded", exit_code=0, results={"answer": ["7"]}, log_tail="hi", started_at=11.0)
    journal.record_op("job", 1, op, "c0ffee")
    journal.record_op("job", 1, OpResult("run", "failed", reason="again", started_at=99.0), "c0ffee")
    assert [(o.op_id, o.status, o.reason) for o in journal.ops("job", 1)] == [("run", "failed", "again")]
    assert store.query("SELECT started_at FROM job_ops")[0][0] == 11.0  # the first start is kept
    assert [(u.job_id, u.owner) for u in journal.unfinished()] == [("job", "owner-1")]
    assert journal.adopt("job", 1, "owner-1", "owner-2") is True
    assert journal.adopt("job", 1, "owner-1", "owner-3") is False  # the second adopter loses
    assert journal.status_and_owner("job", 1) == ("running", "owner-2")
    assert journal.status_and_owner("job", 2) is None
    assert json.loads(journal.definition_json("job", 1) or "")["ops"][0]["id"] == "run"
    assert [(a.source, a.status) for a in journal.attempts("job")] == [("grid", "running")]
