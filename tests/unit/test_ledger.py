from pathlib import Path

import pytest

from hostapp.node.ledger import Ledger, billed_amount
from hostapp.store import Store


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(Store(tmp_path / "db.sqlite3"))


def test_metering_is_integer_and_capped() -> None:
    assert billed_amount(12.1, 1_000, 60) == (13, 13_000)
    assert billed_amount(0.4, 1_000, 60) == (1, 1_000)
    assert billed_amount(3600.0, 7, 60) == (60, 420)
    assert billed_amount(-5, 7, 60) == (0, 0)
    with pytest.raises(ValueError):
        billed_amount(1, -1, 60)


def test_row_lifecycle_and_idempotent_start(ledger: Ledger) -> None:
    ledger.start("j1", 1, "GPU-1", 500, started_at=100.0)
    ledger.start("j1", 1, "GPU-1", 999, started_at=200.0)  # a restart re-announcing the same attempt
    row = ledger.get("j1", 1)
    assert row is not None and row.rate_per_second == 500 and row.started_at == 100.0
    ledger.credit("j1", 1, 10, 5_000, ended_at=110.0)
    ledger.credit("j1", 1, 10, 5_000, ended_at=111.0)  # delivered twice: still one credit
    ledger.mark_paid("j1", 1, "sig")
    row = ledger.get("j1", 1)
    assert row is not None and (row.status, row.amount, row.payout_signature) == ("paid", 5_000, "sig")
    assert ledger.total() == 5_000


def test_failed_rows_earn_nothing(ledger: Ledger) -> None:
    ledger.start("j2", 1, None, 500)
    ledger.fail("j2", 1, "image missing")
    row = ledger.get("j2", 1)
    assert row is not None and row.status == "failed" and row.reason == "image missing"
    assert ledger.total() == 0
    assert ledger.running() == []


def test_every_write_that_changes_a_row_publishes_ledger_changed(tmp_path: Path) -> None:
    from hostapp.events import Event, EventBus

    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe("ledger.changed", seen.append)
    ledger = Ledger(Store(tmp_path / "db.sqlite3"), bus)
    ledger.start("j1", 1, "GPU-1", 500, started_at=100.0, timeout_seconds=60)
    ledger.set_energy("j1", 1, 1_234)
    ledger.credit("j1", 1, 10, 5_000, ended_at=110.0)
    ledger.credit("j1", 1, 10, 5_000, ended_at=111.0)  # no change: nothing to tell
    ledger.mark_paid("j1", 1, "sig")
    ledger.start("j2", 1, None, 500)
    ledger.fail("j2", 1, "stopped")
    assert [(e.data["job_id"], e.data["attempt"], e.data["status"], e.data["amount"]) for e in seen] == [
        ("j1", 1, "running", None),
        ("j1", 1, "running", None),
        ("j1", 1, "credited", 5_000),
        ("j1", 1, "paid", 5_000),
        ("j2", 1, "running", None),
        ("j2", 1, "failed", 0),
    ]
    assert ledger.get("j1", 1).timeout_seconds == 60  # type: ignore[union-attr]
