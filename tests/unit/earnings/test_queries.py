"""Earnings read side against a real SQLite store written through the real ledger write side."""

from __future__ import annotations

import datetime as dt
import io
import random
from pathlib import Path

import pytest

from hostapp.earnings import EarningsQueries, Period, electricity_cost_milli, token_value_milli
from hostapp.earnings.export import CSV_HEADER, decimal_text, export_csv
from hostapp.node.ledger import Ledger
from hostapp.store import Store

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 23, 15, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "hostapp.sqlite3")


def _credit(ledger: Ledger, job: str, started: dt.datetime, amount: int, gpu: str | None = "GPU-1") -> None:
    ledger.start(job, 1, gpu, rate_per_second=1, started_at=started.timestamp())
    ledger.credit(job, 1, seconds_billed=amount, amount=amount, ended_at=started.timestamp() + amount)


def test_totals_count_credited_and_paid_only_by_local_day(store: Store) -> None:
    ledger = Ledger(store)
    _credit(ledger, "today", NOW.replace(hour=1), 100)
    _credit(ledger, "yesterday", NOW - dt.timedelta(days=1), 20)
    _credit(ledger, "six-days", NOW - dt.timedelta(days=6), 3)
    _credit(ledger, "seven-days", NOW - dt.timedelta(days=7), 4000)
    _credit(ledger, "old", NOW - dt.timedelta(days=40), 50000)
    ledger.mark_paid("yesterday", 1, "sig")
    ledger.start("running", 1, "GPU-1", 1, started_at=NOW.timestamp())
    ledger.start("failed", 1, "GPU-1", 1, started_at=NOW.timestamp())
    ledger.fail("failed", 1, "boom")

    totals = EarningsQueries(store.reader()).totals(NOW)

    assert (totals.today, totals.last_7_days, totals.last_30_days, totals.all_time) == (
        100,
        123,
        4123,
        54123,
    )


def test_summary_matches_raw_ledger_after_random_writes(store: Store) -> None:
    """The trigger-kept hourly summary must agree with a plain SUM over the raw rows."""
    ledger = Ledger(store)
    rng = random.Random(7)
    for i in range(300):
        started = NOW - dt.timedelta(seconds=rng.randint(0, 40 * 86400))
        ledger.start(f"j{i}", 1, rng.choice(["GPU-1", "GPU-2", None]), 3, started_at=started.timestamp())
        action = rng.random()
        if action < 0.6:
            ledger.credit(f"j{i}", 1, 10, rng.randint(1, 10**12))
            if rng.random() < 0.5:
                ledger.mark_paid(f"j{i}", 1, f"sig{i}")
        elif action < 0.8:
            ledger.fail(f"j{i}", 1, "x")
    store.execute("DELETE FROM ledger WHERE job_id IN ('j1', 'j2', 'j3')")
    store.execute("UPDATE ledger SET gpu_uuid = 'GPU-9' WHERE job_id = 'j10'")

    queries = EarningsQueries(store.reader())
    raw = store.query("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE status IN ('credited', 'paid')")[0][0]
    assert queries.totals(NOW).all_time == raw
    assert sum(g.amount for g in queries.per_gpu(None)) == raw
    assert sum(d.amount for d in queries.per_day(None, UTC)) == raw
    assert queries.row_count() == store.query("SELECT COUNT(*) FROM ledger")[0][0]
    raw_gpu9 = store.query(
        "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE gpu_uuid = 'GPU-9' AND status IN ('credited','paid')"
    )[0][0]
    assert {g.gpu_uuid: g.amount for g in queries.per_gpu(None)}.get("GPU-9", 0) == raw_gpu9


def test_per_day_groups_by_local_day_and_period_start(store: Store) -> None:
    ledger = Ledger(store)
    _credit(ledger, "a", NOW.replace(hour=2), 5)
    _credit(ledger, "b", NOW.replace(hour=23), 7)
    _credit(ledger, "c", NOW - dt.timedelta(days=2), 11)
    queries = EarningsQueries(store.reader())

    days = queries.per_day(queries.period_start(Period.WEEK, NOW), UTC)

    assert [(d.day.isoformat(), d.amount, d.jobs) for d in days] == [
        ("2026-11-21", 11, 1),
        ("2026-11-23", 12, 2),
    ]
    # A zone east of UTC moves 23:00 UTC into the next local day.
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert [d.day.isoformat() for d in queries.per_day(None, plus2)][-1] == "2026-11-24"
    assert queries.period_start(Period.ALL, NOW) is None


def test_page_is_newest_first_and_bad_paging_is_refused(store: Store) -> None:
    ledger = Ledger(store)
    for i in range(5):
        _credit(ledger, f"j{i}", NOW - dt.timedelta(hours=i), i + 1)
    queries = EarningsQueries(store.reader())

    assert [e.job_id for e in queries.page(0, 2)] == ["j0", "j1"]
    assert [e.job_id for e in queries.page(4, 10)] == ["j4"]
    with pytest.raises(ValueError, match="negative"):
        queries.page(-1, 10)


def test_csv_export_keeps_exact_integers_and_energy_cost(store: Store) -> None:
    ledger = Ledger(store)
    big = 2**62 + 1  # above float precision (2**53): must survive exactly
    _credit(ledger, "big", NOW, 1)
    store.execute("UPDATE ledger SET amount = ?, energy_mwh = 1500000 WHERE job_id = 'big'", (big,))
    out = io.StringIO()

    written = export_csv(EarningsQueries(store.reader()), out, token_decimals=6, price_milli_per_kwh=300)

    lines = out.getvalue().splitlines()
    assert written == 1
    assert lines[0] == ",".join(CSV_HEADER)
    fields = lines[1].split(",")
    assert fields[7] == str(big)
    assert fields[8] == decimal_text(big, 6)
    assert fields[11:] == ["1500.000", "0.450"]  # 1.5 kWh at 0.300/kWh


def test_electricity_cost_rounds_half_up_in_integers() -> None:
    assert electricity_cost_milli(1_000_000, 250) == 250
    assert electricity_cost_milli(2, 250_000) == 1  # 0.5 milli rounds up
    assert electricity_cost_milli(0, 999) == 0
    assert decimal_text(-1234567, 6) == "-1.234567"


def test_token_value_is_exact_integer_thousandths() -> None:
    assert token_value_milli(1_500_000, 6, 125) == 188  # 1.5 tokens at 0.125 = 0.1875 → 0.188
    assert token_value_milli(10**30, 6, 1) == 10**24  # no float anywhere: huge amounts stay exact
    assert token_value_milli(0, 6, 999) == 0


def test_payouts_group_ledger_rows_by_signature_and_add_chain_only_transfers(store: Store) -> None:
    ledger = Ledger(store)
    now = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    for job, amount in (("a", 100), ("b", 250), ("c", 7)):
        _credit(ledger, job, now - dt.timedelta(hours=len(job)), amount)
    ledger.mark_paid("a", 1, "SIG-1")
    ledger.mark_paid("b", 1, "SIG-1")  # one transfer paid two attempts
    store.execute(
        "INSERT INTO payouts (signature, amount, mint, received_at) VALUES (?, ?, ?, ?)",
        ("SIG-CHAIN", 40, "mint", (now + dt.timedelta(hours=1)).timestamp()),
    )
    store.execute(  # seen on chain and named by the ledger: listed once
        "INSERT INTO payouts (signature, amount, mint, received_at) VALUES (?, ?, ?, ?)",
        ("SIG-1", 350, "mint", now.timestamp()),
    )
    payouts = EarningsQueries(store.reader()).payouts()
    assert [(p.signature, p.amount, p.jobs) for p in payouts] == [("SIG-CHAIN", 40, 0), ("SIG-1", 350, 2)]
    assert EarningsQueries(store.reader()).payouts(limit=1)[0].signature == "SIG-CHAIN"


def test_payout_state_splits_pending_from_paid_and_knows_the_next_payout(store: Store) -> None:
    ledger = Ledger(store)
    queries = EarningsQueries(store.reader())
    assert queries.payout_state() == queries.payout_state().__class__(0, 0, None)
    for job, amount in (("a", 300), ("b", 200), ("c", 1_000)):
        _credit(ledger, job, NOW, amount)
    ledger.mark_paid("c", 1, "SIG-C")
    ledger.set_next_payout(1_800_000_000.0)
    state = queries.payout_state()
    assert (state.pending, state.paid, state.earned, state.next_payout_at) == (500, 1_000, 1_500, 1_800_000_000.0)
    ledger.mark_paid("a", 1, "SIG-A")
    ledger.mark_paid("b", 1, "SIG-B")
    assert queries.payout_state().next_payout_at is None  # nothing pending: no next payout to show
