"""Dashboard: the state and why, live GPU gauges, earnings today / 7 d / 30 d, the current job."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from hostapp.gui.bridge import EventBridge
from hostapp.gui.pages.common import card, duration_text, heading
from hostapp.gui.pages.earnings import payout_state_text, plain_label
from hostapp.gui.tray import next_change_text
from hostapp.gui.viewmodels import GpuSample, NodeState, NodeStatus, format_amount, gpu_samples
from hostapp.gui.widgets.gauge import Gauge
from hostapp.gui.wiring import GuiServices

log = logging.getLogger(__name__)

EARNINGS_REFRESH_MS = 60_000


class GpuGauges(QWidget):
    def __init__(self, name: str) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.title = QLabel(name)
        layout.addWidget(self.title)
        row = QHBoxLayout()
        self.temperature = Gauge("Temperature", "°C", 100, warn_at=83)
        self.utilization = Gauge("Utilisation", "%", 100)
        self.power = Gauge("Power", "W", 450)
        self.memory = Gauge("VRAM", "%", 100, warn_at=95)
        for gauge in (self.temperature, self.utilization, self.power, self.memory):
            row.addWidget(gauge)
        layout.addLayout(row)

    def show_sample(self, sample: GpuSample) -> None:
        self.title.setText(f"{sample.name} ({sample.uuid})")
        self.temperature.set_value(sample.temperature_c)
        self.utilization.set_value(sample.utilization_percent)
        self.power.set_value(sample.power_w, sample.power_limit_w)
        used, total = sample.memory_used_bytes, sample.memory_total_bytes
        if used is not None and total:
            self.memory.set_value(100 * used / total, caption=f"{used / 2**30:.1f} / {total / 2**30:.1f} GiB")
        else:
            self.memory.set_value(None)


class DashboardPage(QWidget):
    title = "Dashboard"

    def __init__(self, services: GuiServices, bridge: EventBridge) -> None:
        super().__init__()
        self._services = services
        self._queries = services.earnings()
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Dashboard"))

        self.state_label = heading("")
        self.reason_label = plain_label()  # reasons can carry the grid's or the chain's words
        self.reason_label.setWordWrap(True)
        self.next_label = plain_label()
        layout.addWidget(card(self.state_label, self.reason_label, self.next_label))

        self.gpu_box = QVBoxLayout()
        self.no_gpu_label = QLabel("No GPU telemetry yet (no NVIDIA GPU found, or the sampler is off).")
        self.gpu_box.addWidget(self.no_gpu_label)
        gpu_frame = card()
        gpu_frame.layout().addLayout(self.gpu_box)  # type: ignore[union-attr]
        layout.addWidget(gpu_frame)
        self.gauges: dict[str, GpuGauges] = {}

        earnings = QGridLayout()
        self.earnings_labels: dict[str, QLabel] = {}
        for column, (key, text) in enumerate((("today", "Today"), ("7d", "7 days"), ("30d", "30 days"))):
            earnings.addWidget(QLabel(text), 0, column)
            value = heading("—")
            self.earnings_labels[key] = value
            earnings.addWidget(value, 1, column)
        self.payout_state = plain_label()  # pending vs paid, next payout
        earnings.addWidget(self.payout_state, 2, 0, 1, 3)
        earnings_frame = card()
        earnings_frame.layout().addLayout(earnings)  # type: ignore[union-attr]
        layout.addWidget(earnings_frame)

        self.job_label = plain_label("No job running")  # the job id is the grid's
        self.job_progress = QProgressBar()
        self.job_progress.setVisible(False)
        layout.addWidget(card(self.job_label, self.job_progress))
        layout.addStretch(1)

        # Ticks only while a job runs, so an idle app does not wake up every second.
        self._job_timer = QTimer(self)
        self._job_timer.timeout.connect(self._show_job)
        self._job_timer.setInterval(1000)
        self._status = services.node.status()
        self.show_status(self._status)
        self.refresh_earnings()
        bridge.on("node.state", self, lambda data: self.show_status(NodeStatus.from_event(data)))
        bridge.on("gpu.telemetry", self, self._on_telemetry)
        bridge.on("ledger.changed", self, lambda _data: self.refresh_earnings())  # money moved, not a job ended
        self._earnings_timer = QTimer(self)
        self._earnings_timer.timeout.connect(self.refresh_earnings)
        self._earnings_timer.start(EARNINGS_REFRESH_MS)

    def show_status(self, status: NodeStatus) -> None:
        self._status = status
        self.state_label.setText(status.label)
        self.reason_label.setText(status.reason)
        self.reason_label.setVisible(bool(status.reason))
        change = next_change_text(status.next_change)
        self.next_label.setText(f"Next change: {change}" if change else "")
        if status.job is not None and status.state is NodeState.WORKING:
            self._job_timer.start()
        else:
            self._job_timer.stop()
        self._show_job()

    def _show_job(self) -> None:
        job = self._status.job if self._status.state is NodeState.WORKING else None
        if job is None:
            self.job_label.setText("No job running")
            self.job_progress.setVisible(False)
            return
        now = time.time()
        rate = ""
        if job.rate_per_second is not None:
            rate = (
                f" · {format_amount(job.rate_per_second * 3600, self._services.token_decimals)} "
                f"{self._services.unit_symbol}/h"
            )
        self.job_label.setText(f"Job {job.job_id} · {duration_text(job.seconds_left(now))} left{rate}")
        fraction = job.fraction(now)
        self.job_progress.setVisible(fraction is not None)
        if fraction is not None:
            self.job_progress.setValue(int(fraction * 100))

    def _on_telemetry(self, data: dict[str, Any]) -> None:
        for sample in gpu_samples(data):
            gauges = self.gauges.get(sample.uuid)
            if gauges is None:
                gauges = GpuGauges(sample.name)
                self.gauges[sample.uuid] = gauges
                self.gpu_box.addWidget(gauges)
                self.no_gpu_label.setVisible(False)
            gauges.show_sample(sample)

    def refresh_earnings(self) -> None:
        totals = self._queries.totals(dt.datetime.now().astimezone())
        decimals, symbol = self._services.token_decimals, self._services.unit_symbol
        self.earnings_labels["today"].setText(format_amount(totals.today, decimals, symbol))
        self.earnings_labels["7d"].setText(format_amount(totals.last_7_days, decimals, symbol))
        self.earnings_labels["30d"].setText(format_amount(totals.last_30_days, decimals, symbol))
        self.payout_state.setText(payout_state_text(self._queries.payout_state(), decimals, symbol))
