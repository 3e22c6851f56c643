"""Every page builds over real services (SQLite, policy file, doctor) and shows live bus data."""

from __future__ import annotations

import csv
import os
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QPoint, Qt

from hostapp.earnings import Period
from hostapp.gpu.probe import GpuSample
from hostapp.node.ledger import Ledger
from hostapp.schedule.grid import Cell, Preset
from hostapp.schedule.policy_file import load_policy, policy_path
from tests.support import gpu_sample

pytestmark = pytest.mark.gui

# A well-formed transaction signature (base58 of 64 bytes): only such text becomes an explorer link.
SIGNATURE = "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"


def _sample(temperature: int) -> GpuSample:
    return gpu_sample(temperature_c=temperature)


def test_dashboard_shows_telemetry_state_and_earnings_from_the_bus(tray_app, qtbot, node_store) -> None:
    tray_app.open_dashboard()  # on screen: a hidden page does not refresh until shown
    page = tray_app.window.pages["Dashboard"]
    bus = tray_app.services.bus
    threading.Thread(target=lambda: bus.publish("gpu.telemetry", uuid="GPU-abc", index=0, sample=_sample(71))).start()
    qtbot.waitUntil(lambda: "GPU-abc" in page.gauges)
    gauges = page.gauges["GPU-abc"]
    assert (gauges.temperature.text(), gauges.utilization.text(), gauges.power.text()) == ("71 °C", "97 %", "212 W")
    assert gauges.memory.value == pytest.approx(75.0)

    ledger = Ledger(node_store, bus)  # the ledger's one writer: it publishes ledger.changed
    ledger.start("job-1", 1, "GPU-abc", 1000, started_at=time.time() - 60)
    threading.Thread(target=lambda: ledger.credit("job-1", 1, 60, 1_500_000)).start()  # from a node thread
    qtbot.waitUntil(lambda: page.earnings_labels["today"].text() == "1.50 GRID")
    # Beside each amount its value at the embedded grid's demo rate ($0.05): 7.5 ¢ rounds half to even.
    qtbot.waitUntil(lambda: page.payout_state.text() == "Paid 0.00 GRID ≈ $0.00 · pending 1.50 GRID ≈ $0.08")
    ledger.mark_paid("job-1", 1, SIGNATURE)
    qtbot.waitUntil(lambda: page.payout_state.text() == "Paid 1.50 GRID ≈ $0.08 · pending 0.00 GRID ≈ $0.00")

    now = time.time()
    bus.publish(  # what hostapp.node.slots publishes for a slot (hostapp/events/topics.py NodeStateChanged)
        "node.state",
        state="working",
        overall="working",
        previous="waiting",
        gpu="GPU-abc",
        headline="Working — job job-2 (time limit 2 min)",
        reason="job job-2 (time limit 2 min)",
        job_id="job-2",
        attempt=1,
        job_started_at=now - 30,
        timeout_seconds=120,
        price_per_second=10,
    )
    qtbot.waitUntil(lambda: page.state_label.text() == "Working")
    # Elapsed time against the limit, not "1 min left" and a progress bar for a job that may take a second.
    assert page.job_label.text().startswith("Job job-2 · running ")
    assert "(time limit 2 min)" in page.job_label.text() and "left" not in page.job_label.text()
    assert not page.job_progress.isVisible()


def test_painting_the_grid_changes_the_saved_policy(tray_app, qtbot) -> None:
    window = tray_app.window
    window.show()
    page = window.show_page("Schedule")
    qtbot.waitExposed(window)
    page.apply_preset(Preset.ALWAYS)
    page.save()
    page.brush_buttons[Cell.OFF].setChecked(True)
    editor = page.editor
    start = editor.cell_rect(2, 9).center().toPoint()  # Wednesday 09:00
    end = editor.cell_rect(2, 12).center().toPoint()  # … to 12:00, one drag
    qtbot.mousePress(editor, Qt.MouseButton.LeftButton, pos=start)
    for x in range(start.x(), end.x() + 1, 4):
        qtbot.mouseMove(editor, QPoint(x, start.y()))
    qtbot.mouseRelease(editor, Qt.MouseButton.LeftButton, pos=end)
    assert page.save_button.isEnabled()
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)

    grid = load_policy(policy_path(tray_app.services.paths)).grid
    assert [grid.cell(2, h) for h in range(8, 14)] == [Cell.AVAILABLE] + [Cell.OFF] * 4 + [Cell.AVAILABLE]
    assert grid.cell(3, 10) is Cell.AVAILABLE
    assert page.message.text() == "Saved"


def test_schedule_rules_are_validated_and_saved(tray_app, qtbot) -> None:
    page = tray_app.window.pages["Schedule"]
    page.idle_minutes.setValue(25)
    page.pause_on_battery.setChecked(False)
    page.save()
    rules = load_policy(policy_path(tray_app.services.paths)).rules
    assert (rules.idle_minutes, rules.pause_on_battery) == (25, False)


def test_earnings_page_pages_the_ledger_charts_and_exports(tray_app, qtbot, tmp_path, node_store) -> None:
    store = node_store
    now = time.time()
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO ledger (job_id, started_at, ended_at, seconds_billed, rate_per_second, amount, status, "
            "gpu_uuid) VALUES (?, ?, ?, 10, 1, ?, 'credited', 'GPU-abc')",
            [(f"j{i}", now - i * 600, now - i * 600 + 10, 1_000_000) for i in range(450)],
        )
    tray_app.services.bus.publish("ledger.changed", job_id="j0", attempt=1, status="credited", amount=1_000_000)
    page = tray_app.window.pages["Earnings"]
    qtbot.waitUntil(lambda: page.model.rowCount() == 200)
    assert page.model.canFetchMore(QModelIndex())
    page.model.fetchMore(QModelIndex())
    page.model.fetchMore(QModelIndex())
    assert page.model.rowCount() == 450 and not page.model.canFetchMore(QModelIndex())
    assert page.model.data(page.model.index(0, 1)) == "j0"

    page.show_period(Period.WEEK)  # 450 jobs 10 minutes apart: all within the last 75 hours
    assert sum(page.chart.values) == 450 * 1_000_000
    assert "GPU-abc" in page.per_gpu.text()

    out = tmp_path / "earnings.csv"
    page.show_period(Period.ALL)
    page.export_to(str(out))
    qtbot.waitUntil(lambda: page.export_button.isEnabled())
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 450 and rows[0]["amount_base_units"] == "1000000"
    assert page.message.text() == "Exported 450 rows"


def test_earnings_payouts_with_explorer_links_and_value_net_of_electricity(tray_app, qtbot, node_store) -> None:
    services = tray_app.services
    ledger = Ledger(node_store)
    now = time.time()
    for job in ("p1", "p2"):
        ledger.start(job, 1, "GPU-abc", 1000, started_at=now - 120)
        ledger.credit(job, 1, 100, 1_500_000, ended_at=now - 20)
        ledger.mark_paid(job, 1, SIGNATURE)
    node_store.execute("UPDATE ledger SET energy_mwh = 20000 WHERE job_id = 'p1'")  # 0.02 kWh measured
    settings = services.settings.model_copy(deep=True)
    settings.electricity_milli_per_kwh, settings.token_price_milli = 400, 2000  # 0.40 /kWh; 1 GRID = 2.000
    services.save_settings(settings)
    page = tray_app.window.pages["Earnings"]
    services.bus.publish("node.payout", job_id="p2", amount=1_500_000, signature=SIGNATURE)
    qtbot.waitUntil(lambda: page.payouts.rowCount() == 1)
    # The token value typed in Settings is the rate everywhere (not the grid's demo rate).
    assert [page.payouts.item(0, c).text() for c in (1, 2, 3)] == ["3.00 GRID ≈ €6.00", "2", SIGNATURE]
    assert page.payouts.cellWidget(0, 3) is None  # localnet: no public explorer, the signature itself
    assert page.summary.text().endswith(
        "3.00 GRID earned ≈ 6.00 EUR · electricity 0.02 kWh = 0.008 EUR · net 5.992 EUR"
    )

    settings = services.settings.model_copy(deep=True)
    settings.solana.cluster = "devnet"
    services.save_settings(settings)
    page.refresh()
    link = page.payouts.cellWidget(0, 3)
    assert f'href="https://explorer.solana.com/tx/{SIGNATURE}?cluster=devnet"' in link.text()
    assert sum(page.gpu_chart.values) == 3_000_000


def test_jobs_page_history_search_and_live_log(tray_app, qtbot, node_store) -> None:
    store = node_store
    for job, status in (("alpha-1", "succeeded"), ("beta-2", "failed")):
        store.execute(
            "INSERT INTO jobs (job_id, source, definition, status, created_at) VALUES (?, 'local', '{}', ?, ?)",
            (job, status, time.time()),
        )
    bus = tray_app.services.bus
    bus.publish("job.finished", job_id="beta-2", attempt=1, status="failed", reason="exit code 1")
    page = tray_app.window.pages["Jobs"]
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    page.history_search.setText("fail")
    assert [r[0] for r in page.model.rows] == ["beta-2"]
    page.history_search.setText("100%")  # LIKE wildcards are literal text
    assert page.model.rowCount() == 0

    def log(line: str) -> None:  # what the runner publishes for each line (hostapp/events/topics.py JobLog)
        bus.publish("job.log", job_id="alpha-1", op_id="run", stream="stdout", line=line)

    threading.Thread(target=lambda: log("loading model")).start()
    qtbot.waitUntil(lambda: len(page.lines) == 1)
    log("step 1 ok")
    log("step 2 ERROR disk full")
    qtbot.waitUntil(lambda: len(page.lines) == 3)
    page.log_search.setText("error")
    assert page.log_view.toPlainText() == "step 2 ERROR disk full"
    assert page.log_title.text() == "Live log: alpha-1"


def test_settings_page_saves_valid_input_and_refuses_bad(tray_app) -> None:
    page = tray_app.window.pages["Settings"]
    settings_file = tray_app.services.paths.settings_file
    page.price.setText("0.32")
    page.grid_url.setText("https://grid.example")
    page.save()
    assert page.message.text() == "Saved"
    saved = settings_file.read_text()
    assert '"electricity_milli_per_kwh": 320' in saved and "https://grid.example" in saved

    page.price.setText("cheap")
    page.save()
    assert page.message.text().startswith("Not saved: electricity price 'cheap' is not a number")
    assert settings_file.read_text() == saved


def test_settings_autostart_toggle_writes_the_real_xdg_entry_and_token_value(tray_app) -> None:
    page = tray_app.window.pages["Settings"]
    entry = Path(os.environ["XDG_CONFIG_HOME"]) / "autostart" / "io.hostapp.HostApp.desktop"
    assert page.autostart.isEnabled() and not page.autostart.isChecked() and not entry.exists()
    page.autostart.setChecked(True)
    page.token_price.setText("0.125")
    page.save()
    assert page.message.text() == "Saved"
    assert "-m hostapp gui" in entry.read_text() and "X-GNOME-Autostart-enabled=true" in entry.read_text()
    assert tray_app.services.settings.autostart and tray_app.services.settings.token_price_milli == 125
    page.token_price.setText("-1")
    page.save()
    assert page.message.text() == "Not saved: token value: a positive number with at most 3 decimals"
    page.load()
    page.autostart.setChecked(False)
    page.save()
    assert not entry.exists() and not tray_app.services.settings.autostart

    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text("[Desktop Entry]\nType=Application\nName=HostApp\nExec=hostapp gui\n")
    page.load()  # the box shows what the desktop really has, not only what settings.json says
    assert page.autostart.isChecked()


def test_status_colours_follow_a_dark_system_theme(tray_app, qapp, qtbot) -> None:
    from PySide6.QtGui import QColor, QPalette

    tray_app.window.show()
    message = tray_app.window.show_page("Settings").message  # hidden widgets get the change when shown
    message.error("Not saved: x")
    assert "#c62828" in message.styleSheet()
    original = qapp.palette()
    dark = QPalette(original)
    dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#e8eaed"))
    qapp.setPalette(dark)  # what Qt does when the desktop switches to its dark scheme
    try:
        qtbot.waitUntil(lambda: "#ef9a9a" in message.styleSheet(), timeout=2000)
    finally:
        qapp.setPalette(original)
    qtbot.waitUntil(lambda: "#c62828" in message.styleSheet(), timeout=2000)


@pytest.mark.docker
def test_diagnostics_runs_the_doctor_off_the_gui_thread(tray_app, qtbot) -> None:
    page = tray_app.window.pages["Diagnostics"]
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert not page.run_button.isEnabled()  # returned at once: the checks run on a worker
    qtbot.waitUntil(lambda: page.report is not None, timeout=60_000)
    titles = [page.tree.topLevelItem(i).text(1) for i in range(page.tree.topLevelItemCount())]
    assert titles[:2] == ["Docker", "Graphics card"]
    assert page.tree.topLevelItem(0).text(0) == "OK"  # the real engine is running
    assert page.tree.topLevelItem(0).text(2).startswith("Docker ") and "jobs can start" in page.tree.topLevelItem(
        0
    ).text(2)


@pytest.mark.docker
def test_diagnostics_runs_its_checks_when_opened(tray_app, qtbot) -> None:
    page = tray_app.window.pages["Diagnostics"]
    assert page.report is None
    tray_app.window.show()
    tray_app.window.show_page("Diagnostics")  # no click on "Run checks"
    qtbot.waitUntil(lambda: page.report is not None, timeout=60_000)
    assert page.tree.topLevelItemCount() == len(page.report.checks)


def test_diagnostics_exports_a_redacted_bundle_off_the_gui_thread(tray_app, qtbot, tmp_path) -> None:
    import zipfile

    from hostapp.logs import REDACTED, redactor

    paths = tray_app.services.paths
    redactor.register("hunter2-wallet-passphrase")
    (paths.logs / "hostapp.log").write_text("started\npassphrase hunter2-wallet-passphrase\n", encoding="utf-8")
    page = tray_app.window.pages["Diagnostics"]
    out = tmp_path / "bundle.zip"
    page.export_bundle(str(out))
    assert not page.bundle_button.isEnabled()
    qtbot.waitUntil(lambda: page.bundle_button.isEnabled(), timeout=60_000)
    assert page.message.text().startswith(f"Saved {out}")
    with zipfile.ZipFile(out) as archive:
        log = archive.read("logs/hostapp.log").decode()
        assert "hunter2" not in log and REDACTED in log
        assert "checks" in archive.read("doctor.json").decode()

    page.export_bundle(str(tmp_path))  # a folder: refused with a one-line dialog
    qtbot.waitUntil(lambda: page.error_box is not None, timeout=60_000)
    assert page.error_box.windowTitle() == "Bundle not saved" and "is a folder" in page.error_box.text()


def test_earnings_shows_hostile_grid_text_as_plain_text_and_refreshes_on_ledger_changed(
    tray_app, qtbot, node_store
) -> None:
    """Issue #15 item 4: a forged payout "signature" of HTML, written by an older version from a hostile
    grid, must show as the literal text: no rich text, no clickable link, whatever the cluster."""
    services = tray_app.services
    settings = services.settings.model_copy(deep=True)
    settings.solana.cluster = "devnet"  # a cluster with a public explorer: links are on for real signatures
    services.save_settings(settings)
    window = tray_app.window
    page, dashboard = window.pages["Earnings"], window.pages["Dashboard"]
    window.show_page("Earnings")
    window.bring_to_front()
    hostile = '<a href="https://evil.example/claim">Claim 123456 GRID</a>'
    ledger = Ledger(node_store, services.bus)
    ledger.start("<b>job</b>", 1, "GPU-<i>x</i>", 1000, started_at=time.time() - 60)
    ledger.credit("<b>job</b>", 1, 2, 2_000)
    ledger.mark_paid("<b>job</b>", 1, hostile)  # publishes ledger.changed: both pages refresh on it
    qtbot.waitUntil(lambda: page.payouts.rowCount() == 1)  # on screen: at once
    window.show_page("Dashboard")  # hidden meanwhile: refreshed when shown
    qtbot.waitUntil(lambda: dashboard.earnings_labels["today"].text() == "0.002 GRID")
    assert page.payouts.cellWidget(0, 3) is None  # not a link label
    assert page.payouts.item(0, 3).text() == hostile  # the literal text
    assert page.per_gpu.textFormat() == Qt.TextFormat.PlainText and "GPU-<i>x</i>" in page.per_gpu.text()
    for label in (page.summary, page.payout_state, dashboard.reason_label, dashboard.job_label):
        assert label.textFormat() == Qt.TextFormat.PlainText and not label.openExternalLinks()
    assert page.model.data(page.model.index(0, 7)) == hostile  # the table cell: plain text too
