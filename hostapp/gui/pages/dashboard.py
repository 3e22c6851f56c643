"""Dashboard: the state and why, live GPU gauges, earnings today / 7 d / 30 d, the current job."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from hostapp.control.status import short_gpu_name
from hostapp.earnings.pricing import RECENT_WINDOW_SECONDS, current_estimate, fiat_text, rate_text
from hostapp.gui.bridge import EventBridge
from hostapp.gui.pages.common import Coalesced, card, heading
from hostapp.gui.pages.earnings import current_rate, money_text, payout_state_text, plain_label
from hostapp.gui.tray import RESUMABLE, next_change_text
from hostapp.gui.viewmodels import (
    Balances,
    GpuSample,
    NodeState,
    NodeStatus,
    PauseChoice,
    format_amount,
    gpu_samples,
)
from hostapp.gui.widgets.gauge import Gauge
from hostapp.gui.wiring import GuiServices
from hostapp.gui.workers import run_in_background

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
        self.title.setText(short_gpu_name(sample.name) or sample.uuid)  # "RTX 4090", not its UUID
        self.title.setToolTip(f"{sample.name} ({sample.uuid})")
        self.temperature.set_value(sample.temperature_c)
        self.utilization.set_value(sample.utilization_percent)
        limit = sample.power_limit_w
        # The arc's end is the card's power limit; without one (NVML did not say), the default scale.
        self.power.set_value(sample.power_w, limit, caption=f"limit {limit:.0f} W" if limit else "limit unknown")
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
        # Pause/Resume here as in the tray: a click pauses until resumed, the arrow offers 1 hour / tomorrow.
        self.pause_button = QToolButton()
        self.pause_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.pause_menu = QMenu(self.pause_button)
        for choice in PauseChoice:
            action = self.pause_menu.addAction(choice.label)
            action.triggered.connect(lambda _checked=False, c=choice: self._services.node.pause(c))
        self.pause_button.clicked.connect(self._pause_or_resume)
        state_row = QHBoxLayout()
        state_row.addWidget(self.state_label, 1)
        state_row.addWidget(self.pause_button)
        state_box = QWidget()
        state_box.setLayout(state_row)
        state_row.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(card(state_box, self.reason_label, self.next_label))

        self.gpu_box = QVBoxLayout()
        self.no_gpu_label = QLabel("No GPU telemetry yet (no NVIDIA GPU found, or the sampler is off).")
        self.gpu_box.addWidget(self.no_gpu_label)
        layout.addWidget(card(self.gpu_box))
        self.gauges: dict[str, GpuGauges] = {}

        earnings = QGridLayout()
        self.earnings_labels: dict[str, QLabel] = {}
        self.fiat_labels: dict[str, QLabel] = {}  # "≈ $0.08" under each amount, empty without a rate
        columns = (("today", "Today"), ("7d", "7 days"), ("30d", "30 days"), ("all", "Lifetime"))
        for column, (key, text) in enumerate(columns):
            earnings.addWidget(QLabel(text), 0, column)
            value = heading("—")
            self.earnings_labels[key] = value
            earnings.addWidget(value, 1, column)
            self.fiat_labels[key] = QLabel()
            earnings.addWidget(self.fiat_labels[key], 2, column)
        self.payout_state = plain_label()  # pending vs paid, next payout
        earnings.addWidget(self.payout_state, 3, 0, 1, len(columns))
        self.wallet_label = plain_label("Wallet: —")  # the chain's balances, read off the GUI thread
        earnings.addWidget(self.wallet_label, 4, 0, 1, len(columns))
        self.rate_label = plain_label()  # "1 GRID ≈ $0.05 (grid rate from 5 min ago)"
        earnings.addWidget(self.rate_label, 5, 0, 1, len(columns))
        self.estimate_label = plain_label()  # "This card earns about $2.16 (43.2 GRID)/day …"
        self.estimate_label.setWordWrap(True)
        earnings.addWidget(self.estimate_label, 6, 0, 1, len(columns))
        self._balances: Balances | None = None
        self._balances_read = False
        layout.addWidget(card(earnings))

        self.job_label = plain_label("No job running")  # the job id is the grid's
        self.job_progress = QProgressBar()
        self.job_progress.setVisible(False)
        layout.addWidget(card(self.job_label, self.job_progress))
        layout.addStretch(1)

        # Ticks only while a job runs and the page is on screen, so the app does not wake up every second.
        self._job_timer = QTimer(self)
        self._job_timer.timeout.connect(self._show_job)
        self._job_timer.setInterval(1000)
        self._status = services.node.status()
        self.show_status(self._status)
        self.refresh_earnings()
        bridge.on("node.state", self, lambda data: self.show_status(NodeStatus.from_event(data)))
        bridge.on("gpu.telemetry", self, self._on_telemetry)
        # Only while on screen (hidden: once when next shown); the earnings at most every few seconds.
        self.earnings_moved = Coalesced(self, self.refresh_earnings, throttled=True)
        bridge.on("ledger.changed", self, self.earnings_moved.request)  # money moved, not a job ended
        bridge.on("control.link", self, self.earnings_moved.request)  # the node (re)attached
        self._rate_due = Coalesced(self, self.refresh_rate_and_balance)  # the rate's age moves on
        self._earnings_timer = QTimer(self)
        self._earnings_timer.timeout.connect(self._rate_due.request)
        self._earnings_timer.start(EARNINGS_REFRESH_MS)
        self.refresh_rate_and_balance()

    def show_status(self, status: NodeStatus) -> None:
        self._status = status
        self.state_label.setText(status.label)
        self.reason_label.setText(status.reason)
        self.reason_label.setVisible(bool(status.reason))
        change = next_change_text(status.next_change)
        self.next_label.setText(f"Next change: {change}" if change else "")
        resumable = status.state in RESUMABLE
        self.pause_button.setText("Resume" if resumable else "Pause")
        # Qt takes a null menu (no arrow) where PySide6's stub says QMenu only.
        self.pause_button.setMenu(None if resumable else self.pause_menu)  # type: ignore[arg-type]
        if status.job is not None and status.state is NodeState.WORKING and self.isVisible():
            self._job_timer.start()
        else:
            self._job_timer.stop()
        self._show_job()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.show_status(self._status)  # the running time moves on again

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._job_timer.stop()

    def _pause_or_resume(self) -> None:
        if self._status.state in RESUMABLE:
            self._services.node.resume()
        else:
            self._services.node.pause(PauseChoice.INDEFINITELY)

    def _show_job(self) -> None:
        job = self._status.job if self._status.state is NodeState.WORKING else None
        if job is None:
            self.job_label.setText("No job running")
            self.job_progress.setVisible(False)
            return
        now = time.time()
        rate = ""
        if job.rate_per_second is not None:
            per_hour = job.rate_per_second * 3600
            services = self._services
            rate = f" · {money_text(per_hour, services.token_decimals, services.unit_symbol, current_rate(services))}/h"
        self.job_label.setText(f"Job {job.job_id} · {job.running_text(now)}{rate}")
        self.job_progress.setVisible(False)  # elapsed against a limit is not progress (issue #17)

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
        self.earnings_labels["all"].setText(format_amount(totals.all_time, decimals, symbol))
        rate = current_rate(self._services)
        for key, amount in (
            ("today", totals.today),
            ("7d", totals.last_7_days),
            ("30d", totals.last_30_days),
            ("all", totals.all_time),
        ):
            self.fiat_labels[key].setText(fiat_text(amount, decimals, rate))
        self.payout_state.setText(payout_state_text(self._queries.payout_state(), decimals, symbol, rate=rate))
        self.rate_label.setText(rate_text(rate, decimals, symbol))
        self._show_wallet()
        prices = self._services.prices
        estimate = current_estimate(
            self._queries.recent_earnings(time.time(), RECENT_WINDOW_SECONDS),
            prices.offered_price_per_second if prices is not None else None,
            self._services.settings.pricing.utilisation_percent,
        )
        self.estimate_label.setText(estimate.text(decimals, symbol, rate) if estimate is not None else "")

    def refresh_rate_and_balance(self) -> None:
        """The rate from its source and the wallet's balances, both off the GUI thread (network, keyring)."""
        prices, wallet = self._services.prices, self._services.wallet

        def fetch() -> Balances | None:
            if prices is not None:
                prices.refresh()
            if wallet is None or wallet.summary() is None:
                return None
            return wallet.balances()

        def show(balances: Balances | None) -> None:
            self._balances, self._balances_read = balances, True
            self.refresh_earnings()

        run_in_background(fetch, show, lambda exc: log.info("rate/balance refresh failed: %s", exc))

    def _show_wallet(self) -> None:
        balances = self._balances
        if balances is None:
            self.wallet_label.setText("Wallet: no wallet yet" if self._balances_read else "Wallet: —")
            return
        if balances.problem or balances.token_base_units is None:
            self.wallet_label.setText(f"Wallet: balance unknown ({balances.problem or 'no grid token'})")
            return
        rate = current_rate(self._services)
        token = money_text(balances.token_base_units, balances.token_decimals, self._services.unit_symbol, rate)
        self.wallet_label.setText(f"Wallet: {token} · {format_amount(balances.sol_lamports, 9, 'SOL')}")
