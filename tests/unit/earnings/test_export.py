"""CSV export against a real SQLite ledger: text from outside never runs as a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hostapp.earnings import EarningsQueries
from hostapp.earnings.export import CSV_HEADER, export_csv
from hostapp.node.ledger import Ledger
from hostapp.store import Store


def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(tmp_path: Path) -> None:
    store = Store(tmp_path / "hostapp.sqlite3")
    ledger = Ledger(store)
    hostile = {  # job id / GPU id / payout signature as a hostile grid or an older version wrote them
        '=HYPERLINK("https://evil.example","Claim")': "+cmd|' /C calc'!A0",
        "@SUM(A1:A9)": "-2+3",
        "\tjob": "\rsig",
        "job-ok": "5Kq9sig",
    }
    for n, (job_id, signature) in enumerate(hostile.items()):
        ledger.start(job_id, 1, "=GPU" if n == 0 else "GPU-1", 7, started_at=1_700_000_000.0 + n)
        ledger.credit(job_id, 1, 3, 21, ended_at=1_700_000_010.0 + n)
        ledger.mark_paid(job_id, 1, signature)
    out = io.StringIO()
    assert export_csv(EarningsQueries(store.reader()), out) == 4
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(CSV_HEADER)
    cells = [(r["job_id"], r["gpu_uuid"], r["payout_signature"]) for r in rows]
    assert cells == [
        ('\'=HYPERLINK("https://evil.example","Claim")', "'=GPU", "'+cmd|' /C calc'!A0"),
        ("'@SUM(A1:A9)", "GPU-1", "'-2+3"),
        ("'\tjob", "GPU-1", "'\rsig"),
        ("job-ok", "GPU-1", "5Kq9sig"),
    ]
    assert [(r["amount_base_units"], r["amount"]) for r in rows] == [("21", "0.000021")] * 4  # numbers untouched
    store.close()
