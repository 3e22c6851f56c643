"""What a user notices on the pages at the default window size (1000×700): gauges whose text never
crosses the arc, tables that fit (whole job ids, one-line times, no horizontal scrolling, aligned
decimals with units), charts with a time axis, Pause/Resume on the Dashboard, developer settings
folded into Advanced, CSV export into Documents, image pull progress on the Jobs page and in the tray.

Real parts: SQLite ledger and job store, the event bus, the policy file, offscreen Qt."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtWidgets import QAbstractItemView

from hostapp.earnings import Period
from hostapp.gui.widgets.gauge import Gauge
from hostapp.node.ledger import Ledger
from hostapp.schedule.policy_file import load_policy, policy_path

pytestmark = pytest.mark.gui

JOB_ID = "3f9a1c2e7b8d4e6fa0b1c2d3e4f5a6b7"  # 32 characters, the grid's form
GPU_UUID = "GPU-5e7c9b62-1f0a-4d2e-9b41-3c8a7d6e2f10"  # NVML's form
SIGNATURE = "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"


def _fits(view: QAbstractItemView, row: int, column: int) -> bool:
    """The cell's whole text fits its column (nothing elided)."""
    text = view.model().index(row, column).data()
    needed = view.fontMetrics().horizontalAdvance(text)
    return view.columnWidth(column) >= needed + 6  # the cell's margins


def _shown(tray_app, qtbot, title: str):  # type: ignore[no-untyped-def]
    window = tray_app.window
    window.show()
    page = window.show_page(title)
    qtbot.waitExposed(window)
    return page


@pytest.mark.parametrize("size", [(120, 150), (200, 200), (160, 260)])
def test_gauge_text_never_overlaps_its_arc(qtbot, size: tuple[int, int]) -> None:
    gauge = Gauge("Power", "W", 450)
    qtbot.addWidget(gauge)
    gauge.resize(*size)
    gauge.set_value(212.5, 450, caption="limit 450 W")
    arc = gauge.arc_rect()
    assert not gauge.label_rect().intersects(arc), "title and caption below the arc, not over it"
    assert arc.contains(gauge.value_rect())
    assert gauge.label_rect().bottom() <= gauge.height()
    plain = Gauge("Temperature", "°C", 100)  # no caption: an arc of the same size beside it
    qtbot.addWidget(plain)
    plain.resize(*size)
    assert plain.arc_rect() == arc


def test_power_gauge_ends_at_the_cards_power_limit(tray_app, qtbot) -> None:
    from tests.gui.test_pages import _sample

    page = tray_app.window.pages["Dashboard"]
    sample = _sample(60)
    threading.Thread(  # what GpuTelemetry.tick publishes: the sample and the card's static limit
        target=lambda: tray_app.services.bus.publish(
            "gpu.telemetry", uuid="GPU-abc", index=0, sample=sample, name="RTX 4090", power_limit_w=300.0
        )
    ).start()
    qtbot.waitUntil(lambda: "GPU-abc" in page.gauges)
    power = page.gauges["GPU-abc"].power
    assert power.maximum == 300.0 and power.caption == "limit 300 W"


def test_job_table_shows_whole_ids_and_one_line_times(tray_app, qtbot, node_store) -> None:
    store = node_store
    created_at = time.time()
    store.execute(
        "INSERT INTO jobs (job_id, source, definition, status, reason, created_at) VALUES (?, 'grid', '{}', "
        "'failed', ?, ?)",
        (JOB_ID, "exit code 1: " + "a long reason from the job " * 6, created_at),
    )
    page = _shown(tray_app, qtbot, "Jobs")
    page.model.reload()
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    table = page.table
    assert page.model.index(0, 1).data() == JOB_ID
    for column in range(5):  # Created, Job, Source, Status, Duration: whole; Reason takes the rest
        assert _fits(table, 0, column), (column, table.columnWidth(column))
    assert not table.wordWrap()
    assert table.horizontalScrollBar().maximum() == 0
    created = page.model.index(0, 0).data()
    assert created == time.strftime("%d %b %H:%M", time.localtime(created_at))  # local, to the minute, this year
    assert page.model.index(0, 5).data(Qt.ItemDataRole.ToolTipRole).startswith("exit code 1")


def _earned(tray_app, node_store, jobs: list[tuple[str, str, float, int]]) -> None:
    ledger = Ledger(node_store, tray_app.services.bus)
    for job_id, gpu, started, amount in jobs:
        ledger.start(job_id, 1, gpu, 10, started_at=started)
        ledger.credit(job_id, 1, amount // 10, amount, ended_at=started + amount // 10)


def test_ledger_table_aligns_amounts_with_units_and_fits_without_scrolling(tray_app, qtbot, node_store) -> None:
    now = time.time()
    _earned(tray_app, node_store, [(JOB_ID, GPU_UUID, now - 600, 50), ("short", GPU_UUID, now - 300, 1_250_000)])
    Ledger(node_store).mark_paid("short", 1, SIGNATURE)
    page = _shown(tray_app, qtbot, "Earnings")
    page.refresh()
    model, table = page.model, page.table
    assert model.rowCount() == 2
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[4] == "Rate\nGRID/h" and headers[5] == "Amount\nGRID"
    amounts = [model.index(r, 5).data() for r in range(2)]
    assert sorted(amounts) == ["0.000050", "1.250000"]  # every decimal place: the points line up
    assert model.index(0, 4).data() == "0.036000"  # 10 base units per second = 0.036 GRID an hour
    assert model.index(0, 5).data(Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    for column in range(7):
        for row in range(2):
            assert _fits(table, row, column), (row, column)
    assert table.horizontalScrollBar().maximum() == 0  # the signature column elides, no scrolling
    widths = sum(table.columnWidth(c) for c in range(model.columnCount()))
    assert widths <= table.viewport().width()  # every column on screen, the signature's included
    assert table.columnWidth(7) >= 100
    assert model.index(0, 2).data() == "GPU-5e7c9b62…"  # the card's UUID, shortened
    assert model.index(0, 7).data(Qt.ItemDataRole.ToolTipRole) in ("", SIGNATURE)


def test_week_chart_has_a_bar_per_day_and_per_gpu_hides_on_one_slot(tray_app, qtbot, node_store) -> None:
    now = time.time()
    _earned(tray_app, node_store, [("a", "GPU-abc", now - 120, 1_000_000)])  # one day with work
    page = _shown(tray_app, qtbot, "Earnings")
    page.show_period(Period.WEEK)
    assert len(page.chart.values) == 7 and page.chart.values[-1] == 1_000_000 and sum(page.chart.values[:-1]) == 0
    assert len(set(page.chart.labels)) == 7  # seven consecutive dates on the axis
    assert page.chart.shown_labels() and page.chart.bar_width() <= 48
    assert not page.gpu_chart.isVisible()  # one slot: its chart would be one bar
    assert page.layout().stretch(page.layout().indexOf(page.per_gpu_row)) == 0  # and no empty band
    page.show_period(Period.MONTH)
    assert len(page.chart.values) == 30
    assert len(page.chart.shown_labels()) * 60 <= page.chart.width()  # labels do not overlap

    _earned(tray_app, node_store, [("b", "GPU-def", now - 60, 2_000_000)])
    page.show_period(Period.WEEK)
    assert page.layout().stretch(page.layout().indexOf(page.per_gpu_row)) == 1
    assert page.gpu_chart.isVisible() and sorted(page.gpu_chart.values) == [1_000_000, 2_000_000]


@pytest.mark.docker
def test_dashboard_pause_and_resume_drive_the_schedule(tray_app, node_daemon, qtbot, local_images) -> None:
    wallet = node_daemon.services.wallet  # a wallet: the node starts working, so Pause has work to pause
    wallet.create()
    wallet.skip_backup_confirmation()
    page = _shown(tray_app, qtbot, "Dashboard")
    qtbot.waitUntil(
        lambda: node_daemon.node is not None and tray_app.tray.status.state.value != "stopped", timeout=60_000
    )
    assert page.pause_button.text() == "Pause"
    qtbot.mouseClick(page.pause_button, Qt.MouseButton.LeftButton)
    assert load_policy(policy_path(tray_app.services.paths)).snooze is not None
    qtbot.waitUntil(lambda: page.pause_button.text() == "Resume")
    qtbot.mouseClick(page.pause_button, Qt.MouseButton.LeftButton)
    assert load_policy(policy_path(tray_app.services.paths)).snooze is None
    qtbot.waitUntil(lambda: page.pause_button.text() == "Pause")


def test_developer_settings_are_in_the_advanced_group_folded_away(tray_app, qtbot) -> None:
    page = _shown(tray_app, qtbot, "Settings")
    for field in (page.grid_url, page.cluster, page.rpc_url, page.gpus):
        assert page.advanced.isAncestorOf(field)
        assert not field.isVisible()
    for field in (page.price, page.token_price, page.autostart, page.memory_mb):
        assert not page.advanced.isAncestorOf(field) and field.isVisible()
    size = tray_app.window.size()
    page.advanced_toggle.click()
    assert page.grid_url.isVisible()
    qtbot.wait(50)
    assert tray_app.window.size() == size  # the page scrolls; the window keeps its default size
    qtbot.waitUntil(lambda: page.advanced.y() > 0)
    below = page.advanced.y()
    assert below > page.price.mapTo(page, page.price.rect().topLeft()).y()  # after what a user sets
    assert below > page.memory_mb.mapTo(page, page.memory_mb.rect().topLeft()).y()


def test_csv_export_proposes_the_documents_folder(tray_app, monkeypatch) -> None:
    from hostapp.gui.pages.earnings import export_default_path

    monkeypatch.chdir("/")  # the working directory must not matter
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    path = Path(export_default_path())
    assert documents and path.parent == Path(documents) and path.suffix == ".csv"


def test_image_pull_progress_on_the_jobs_page_and_in_the_tray_tooltip(tray_app, qtbot) -> None:
    page = tray_app.window.pages["Jobs"]
    bus = tray_app.services.bus

    def progress(done: int, finished: bool = False) -> None:  # what ImageCache.pull publishes
        bus.publish(
            "job.pull.progress",
            job_id=JOB_ID,
            image="pytorch/pytorch:2.4",
            layers_total=7,
            layers_done=3,
            bytes_done=done,
            bytes_total=3_400_000_000,
            finished=finished,
        )

    threading.Thread(target=lambda: progress(1_200_000_000)).start()
    expected = "Pulling image pytorch/pytorch:2.4: 1.2 GB / 3.4 GB (3 of 7 layers)"
    qtbot.waitUntil(lambda: page.pull_label.text() == expected)
    assert not page.pull_label.isHidden() and page.pull_bar.value() == 352
    qtbot.waitUntil(lambda: expected in tray_app.tray.tray.toolTip())
    progress(3_400_000_000, finished=True)
    qtbot.waitUntil(lambda: page.pull_label.isHidden())
    qtbot.waitUntil(lambda: "Pulling" not in tray_app.tray.tray.toolTip())

    progress(1_000_000)  # a pull that fails publishes no "finished": the job's end clears the line
    qtbot.waitUntil(lambda: not page.pull_label.isHidden())
    bus.publish("job.finished", job_id=JOB_ID, attempt=1, status="failed", reason="image not found")
    qtbot.waitUntil(lambda: page.pull_label.isHidden())
