"""Earnings aggregates over 1,000,000 ledger rows: the dashboard's totals + a 30-day per-day series.

hostapp reads the trigger-kept hourly summary (migration 4); the baseline is the same answers
computed with plain SUM/GROUP BY over the raw ledger table, in the same database and run.
    .venv/bin/python bench/bench_earnings.py      (HOSTAPP_BENCH_ROWS to change the row count)
Target (docs/benchmarks.md): ≤ 100 ms for the aggregates over 1,000,000 rows.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import compare, report
from hostapp.earnings import EarningsQueries, Period
from hostapp.store import Store

ROWS = int(os.environ.get("HOSTAPP_BENCH_ROWS", "1000000"))


def fill(store: Store, rows: int) -> None:
    rng = random.Random(1)
    now = time.time()
    span = 365 * 86400  # a year of work on two GPUs
    batch = []
    with store.transaction() as conn:
        for i in range(rows):
            started = now - rng.random() * span
            status = rng.choice(("credited", "paid", "paid", "failed"))
            amount = 0 if status == "failed" else rng.randint(1_000, 5_000_000)
            batch.append((f"job-{i}", started, started + 60, 60, 10, amount, status, rng.choice(("GPU-a", "GPU-b"))))
            if len(batch) == 50_000:
                conn.executemany(
                    "INSERT INTO ledger (job_id, started_at, ended_at, seconds_billed, rate_per_second, amount, "
                    "status, gpu_uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    batch,
                )
                batch.clear()
        if batch:
            conn.executemany(
                "INSERT INTO ledger (job_id, started_at, ended_at, seconds_billed, rate_per_second, amount, "
                "status, gpu_uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite3")
        started = time.perf_counter()
        fill(store, ROWS)
        print(f"inserted {ROWS} ledger rows (triggers on) in {time.perf_counter() - started:.1f} s")
        conn = store.reader()
        queries = EarningsQueries(conn)

        def hostapp_aggregates() -> object:
            now = dt.datetime.now().astimezone()
            return queries.totals(now), queries.per_day(queries.period_start(Period.MONTH, now))

        def raw_aggregates() -> object:
            now = dt.datetime.now().astimezone()
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            earned = "status IN ('credited', 'paid')"
            out = []
            for days in (0, 6, 29):
                since = (midnight - dt.timedelta(days=days)).timestamp()
                out.append(
                    conn.execute(
                        f"SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE {earned} AND started_at >= ?", (since,)
                    ).fetchone()[0]
                )
            out.append(conn.execute(f"SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE {earned}").fetchone()[0])
            since = (midnight - dt.timedelta(days=29)).timestamp()
            out.append(
                conn.execute(
                    f"SELECT date(started_at, 'unixepoch', 'localtime'), SUM(amount) FROM ledger "
                    f"WHERE {earned} AND started_at >= ? GROUP BY 1",
                    (since,),
                ).fetchall()
            )
            return out

        subject, baseline = hostapp_aggregates(), raw_aggregates()
        assert subject[0].all_time == baseline[3], "summary and raw ledger disagree"  # type: ignore[index]
        result = compare("earnings totals + 30-day series", hostapp_aggregates, raw_aggregates, runs=10, warmup=1)
        report([result])
        verdict = "OK" if result.subject_median_s <= 0.100 else "OVER TARGET"
        print(f"absolute: {result.subject_median_s * 1000:.2f} ms over {ROWS} rows (target <= 100 ms) {verdict}")
        conn.close()
        store.close()


if __name__ == "__main__":
    main()
