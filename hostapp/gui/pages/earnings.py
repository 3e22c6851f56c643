"""Earnings: per-day chart for 24 h / 7 d / 30 d / all, per GPU, the ledger table paged from SQLite,
electricity cost at the user's price, CSV export. Every figure is a SQL aggregate."""

from __future__ import annotations

import datetime as dt
import html
import time

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from hostapp.earnings import EarningsReader, PayoutState, Period, electricity_cost_milli, token_value_milli
from hostapp.earnings.pricing import Rate, currency_exponent, fiat_minor, fiat_text, rate_text
from hostapp.earnings.rows import LedgerRow, source_of
from hostapp.gui.bridge import EventBridge
from hostapp.gui.pages.common import Coalesced, Message, duration_text, fit_columns, heading, when_text
from hostapp.gui.viewmodels import format_amount
from hostapp.gui.widgets.row_table import AnyIndex, RowTableModel
from hostapp.gui.wiring import GuiServices
from hostapp.gui.workers import run_in_background
from hostapp.wallet.signatures import signature_problem

PAGE_SIZE = 200
PAYOUT_ROWS = 200
PAYOUT_HEADERS = ["Time", "Amount", "Jobs", "Signature"]
PERIOD_LABELS = {Period.DAY: "24 h", Period.WEEK: "7 days", Period.MONTH: "30 days", Period.ALL: "All"}


def current_rate(services: GuiServices) -> Rate | None:
    """The rate the price source last found (no network call here)."""
    return services.prices.current() if services.prices is not None else None


def money_text(amount: int, decimals: int, symbol: str, rate: Rate | None) -> str:
    """`1.50 GRID ≈ $0.08`, or `1.50 GRID` without a rate."""
    text = format_amount(amount, decimals, symbol)
    fiat = fiat_text(amount, decimals, rate)
    return f"{text} {fiat}" if fiat else text


def payout_state_text(
    state: PayoutState, decimals: int, symbol: str, now: float | None = None, rate: Rate | None = None
) -> str:
    """What is on chain and what is not yet, e.g. `Paid 1.20 GRID · pending 0.30 GRID · next payout 14:05:10`
    (each amount with its value in money when there is a rate)."""
    paid, pending = (money_text(v, decimals, symbol, rate) for v in (state.paid, state.pending))
    text = f"Paid {paid} · pending {pending}"
    if state.pending and state.next_payout_at is not None:
        now = time.time() if now is None else now
        when = (
            "due now"
            if state.next_payout_at <= now
            else dt.datetime.fromtimestamp(state.next_payout_at).strftime("%H:%M:%S")
        )
        text += f" · next payout {when}"
    return text


def plain_label(text: str = "") -> QLabel:
    """A label for text that comes from outside (the grid, the chain): never rich text, never a link."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setOpenExternalLinks(False)
    return label


def fixed_amount(base_units: int, decimals: int) -> str:
    """Base units with every decimal place shown, so a column's amounts line up (`0.000050`, `1.250000`)."""
    sign = "-" if base_units < 0 else ""
    whole, frac = divmod(abs(base_units), 10**decimals)
    return f"{sign}{whole:,}" + (f".{frac:0{decimals}d}" if decimals else "")


def day_axis(first: dt.date, last: dt.date, amounts: dict[dt.date, int]) -> tuple[list[str], list[int]]:
    """One bar per calendar day from `first` to `last`, days without work at 0: a time axis, not a
    list of the days that happen to have earnings (one such day drew one bar across the chart)."""
    days = [first + dt.timedelta(days=i) for i in range(max(1, (last - first).days + 1))]
    return [d.strftime("%d %b") for d in days], [amounts.get(d, 0) for d in days]


def export_default_path() -> str:
    """Where Export CSV proposes to save: the user's Documents folder (the home folder without one)."""
    from pathlib import Path

    from PySide6.QtCore import QStandardPaths

    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
    return str(Path(folder) / f"hostapp-earnings-{dt.date.today().isoformat()}.csv")


def _short_gpu(uuid: str | None) -> str:
    return "CPU" if not uuid else (uuid if len(uuid) <= 16 else uuid[:12] + "…")


class LedgerTableModel(RowTableModel[LedgerRow]):
    """Ledger rows newest first, fetched PAGE_SIZE at a time as the view scrolls (LIMIT/OFFSET)."""

    HEADERS: tuple[str, ...] = ("Started", "Job", "GPU", "Duration", "Rate", "Amount", "Status", "Payout signature")
    NUMERIC_COLUMNS = frozenset({3, 4, 5})

    def __init__(self, queries: EarningsReader, decimals: int, symbol: str = "") -> None:
        super().__init__()
        unit = symbol or "token"
        headers = list(LedgerTableModel.HEADERS)
        # The unit in the header, not in each cell; on a second line, so the column stays as narrow as its figures.
        headers[4:6] = [f"Rate\n{unit}/h", f"Amount\n{unit}"]
        self.HEADERS = tuple(headers)
        self._queries = queries
        self._decimals = decimals
        self._total = 0
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self._total = self._queries.row_count()
        self.rows = self._queries.page(0, PAGE_SIZE)
        self.endResetModel()

    def canFetchMore(self, parent: AnyIndex) -> bool:
        return not parent.isValid() and len(self.rows) < self._total

    def fetchMore(self, parent: AnyIndex) -> None:
        more = self._queries.page(len(self.rows), PAGE_SIZE)
        if not more:
            self._total = len(self.rows)
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(more) - 1)
        self.rows.extend(more)
        self.endInsertRows()

    def cell(self, row: LedgerRow, column: int) -> str:
        if column == 0:
            return when_text(row.started_at)
        if column == 1:
            return row.job_id if row.attempt == 1 else f"{row.job_id} #{row.attempt}"
        if column == 2:  # the UUID's start names the card; the whole UUID is a column of its own width
            return _short_gpu(row.gpu_uuid)
        if column == 3:
            return duration_text(row.duration_seconds)
        if column == 4:  # per hour: a per-second rate in base units reads as 0.000010
            return fixed_amount(row.rate_per_second * 3600, self._decimals)
        if column == 5:
            return fixed_amount(row.amount, self._decimals)
        if column == 6:
            source = source_of(row.job_id)  # where the money came from, when not the grid's own credit
            return f"{row.status} · {source}" if source else row.status
        return row.payout_signature or ""


class EarningsPage(QWidget):
    title = "Earnings"

    def __init__(self, services: GuiServices, bridge: EventBridge) -> None:
        super().__init__()
        from hostapp.gui.widgets.bar_chart import BarChart

        self._services = services
        self._queries = services.earnings()
        self.period = Period.WEEK
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Earnings"))

        ranges = QHBoxLayout()
        self.range_group = QButtonGroup(self)
        self.range_buttons: dict[Period, QPushButton] = {}
        for period in Period:
            button = QPushButton(PERIOD_LABELS[period])
            button.setCheckable(True)
            button.clicked.connect(lambda _c=False, p=period: self.show_period(p))
            self.range_group.addButton(button)
            self.range_buttons[period] = button
            ranges.addWidget(button)
        ranges.addStretch(1)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.ask_export)
        ranges.addWidget(self.export_button)
        layout.addLayout(ranges)

        self.summary = plain_label()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.payout_state = plain_label()  # pending vs paid and the next payout (ledger + grid)
        layout.addWidget(self.payout_state)
        self.rate_label = plain_label()  # "1 GRID ≈ $0.05 (grid rate from 5 min ago)"
        layout.addWidget(self.rate_label)
        self.chart = BarChart()
        layout.addWidget(self.chart, 2)
        self.per_gpu = plain_label()
        per_gpu_row = self.per_gpu_row = QHBoxLayout()
        self.gpu_chart = BarChart()
        self.gpu_chart.setMaximumHeight(150)
        per_gpu_row.addWidget(self.gpu_chart, 1)
        self.per_gpu.setWordWrap(True)
        per_gpu_row.addWidget(self.per_gpu, 1)
        layout.addLayout(per_gpu_row, 1)

        self.model = LedgerTableModel(self._queries, services.token_decimals, services.unit_symbol)
        self.table = QTableView()
        self.table.setModel(self.model)
        fit_columns(self.table, stretch=len(self.model.HEADERS) - 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Jobs")
        self.payouts = QTableWidget(0, len(PAYOUT_HEADERS))
        self.payouts.setHorizontalHeaderLabels(PAYOUT_HEADERS)
        fit_columns(self.payouts, stretch=3)
        self.payouts.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.tabs.addTab(self.payouts, "Payouts")
        layout.addWidget(self.tabs, 3)
        self.message = Message()
        layout.addWidget(self.message)

        self.show_period(Period.WEEK)
        self.show_payouts()
        self.show_payout_state()
        # Refresh when the money changes (the ledger's one writer says so), not when a job ends; only
        # while on screen (hidden: once when next shown), at most every few seconds.
        self.ledger_moved = Coalesced(self, self.refresh, throttled=True)
        bridge.on("ledger.changed", self, self.ledger_moved.request)
        bridge.on("control.link", self, self.ledger_moved.request)  # the node (re)attached: its ledger
        bridge.on("node.payout", self, self.ledger_moved.request)

    def refresh(self) -> None:
        self.show_period(self.period)
        self.model.reload()
        self.show_payouts()
        self.show_payout_state()

    def showEvent(self, event: QShowEvent) -> None:
        """The rate may have been refreshed (the Dashboard does it) since the last ledger change."""
        super().showEvent(event)
        if self.ledger_moved.pending:
            return  # the ledger moved while hidden: the whole page is being refreshed
        self.show_period(self.period)
        self.show_payouts()
        self.show_payout_state()

    def show_payout_state(self) -> None:
        state = self._queries.payout_state()
        decimals, symbol, rate = self._services.token_decimals, self._services.unit_symbol, current_rate(self._services)
        self.payout_state.setText(payout_state_text(state, decimals, symbol, rate=rate))
        self.rate_label.setText(rate_text(rate, decimals, symbol))

    def show_payouts(self) -> None:
        """Transfers with their signatures; a link to the cluster's explorer where there is one."""
        decimals, symbol = self._services.token_decimals, self._services.unit_symbol
        rate = current_rate(self._services)
        payouts = self._queries.payouts(PAYOUT_ROWS)
        self.payouts.setRowCount(len(payouts))
        for row, payout in enumerate(payouts):
            self.payouts.setItem(row, 0, QTableWidgetItem(when_text(payout.at)))
            self.payouts.setItem(row, 1, QTableWidgetItem(money_text(payout.amount, decimals, symbol, rate)))
            self.payouts.setItem(row, 2, QTableWidgetItem(str(payout.jobs) if payout.jobs else "—"))
            # Only a well-formed signature becomes a link (escaped); anything else is shown as plain text.
            url = self._services.explorer_url(payout.signature) if signature_problem(payout.signature) is None else None
            # With a link the label shows the signature; the item under it stays empty (no double text).
            item = QTableWidgetItem("" if url else payout.signature)
            item.setData(Qt.ItemDataRole.UserRole, payout.signature)
            self.payouts.setItem(row, 3, item)
            self.payouts.removeCellWidget(row, 3)
            if url:
                # The link shows the signature's ends (the column stays narrow); the tooltip has it all.
                signature = payout.signature
                shown = signature if len(signature) <= 24 else f"{signature[:10]}…{signature[-10:]}"
                link = QLabel(f'<a href="{html.escape(url)}">{html.escape(shown)}</a>')
                link.setTextFormat(Qt.TextFormat.RichText)
                link.setOpenExternalLinks(True)
                link.setToolTip(url)
                self.payouts.setCellWidget(row, 3, link)

    def show_period(self, period: Period) -> None:
        self.period = period
        self.range_buttons[period].setChecked(True)
        now = dt.datetime.now().astimezone()
        since = self._queries.period_start(period, now)
        decimals, symbol = self._services.token_decimals, self._services.unit_symbol
        days = self._queries.per_day(since)
        if period is Period.DAY:
            labels, values = self._hourly(now)
        else:
            first = since.date() if since is not None else (days[0].day if days else now.date())
            labels, values = day_axis(first, now.date(), {d.day: d.amount for d in days})
        total = sum(d.amount for d in days) if period is not Period.DAY else sum(values)
        peak = max(values, default=0)
        self.chart.set_data(labels, values, f"max {format_amount(peak, decimals, symbol)} per bar")
        energy = self._queries.energy_since(since)
        self.summary.setText(f"{PERIOD_LABELS[period]}: " + self.value_text(total, energy))
        gpus = self._queries.per_gpu(since)
        # One slot (one GPU, or the CPU slot) earns everything: a chart of one bar says nothing.
        self.gpu_chart.setVisible(len(gpus) > 1)
        layout = self.layout()
        if isinstance(layout, QVBoxLayout):  # the one-line total alone takes no more height than its text
            layout.setStretchFactor(self.per_gpu_row, 1 if len(gpus) > 1 else 0)
        self.gpu_chart.set_data([_short_gpu(g.gpu_uuid) for g in gpus], [g.amount for g in gpus], "per GPU")
        self.per_gpu.setText(
            "Per GPU: "
            + (" · ".join(f"{_short_gpu(g.gpu_uuid)} {format_amount(g.amount, decimals, symbol)}" for g in gpus) or "—")
        )

    def value_text(self, earned: int, energy_mwh: int) -> str:
        """Earnings beside the electricity they cost, and net of it when the user gave the token a value.
        Integers throughout: base units, mWh, thousandths of the currency."""
        decimals, symbol = self._services.token_decimals, self._services.unit_symbol
        settings = self._services.settings
        currency = settings.electricity_currency
        cost = electricity_cost_milli(energy_mwh, settings.electricity_milli_per_kwh)
        electricity = f"electricity {format_amount(energy_mwh, 6)} kWh = {format_amount(cost, 3)} {currency}"
        rate = current_rate(self._services)
        if not settings.token_price_milli and rate is not None:
            text = f"{money_text(earned, decimals, symbol, rate)} earned · {electricity}"
            if rate.currency == currency:  # netted only in one currency: no exchange rate is guessed
                exponent = currency_exponent(currency)
                value_milli = fiat_minor(earned, decimals, rate) * 10 ** max(0, 3 - exponent)
                text += f" · net {format_amount(value_milli - cost, 3)} {currency}"
            return text
        if not settings.token_price_milli:
            return f"{format_amount(earned, decimals, symbol)} earned · {electricity}"
        value = token_value_milli(earned, decimals, settings.token_price_milli)
        return (
            f"{format_amount(earned, decimals, symbol)} earned ≈ {format_amount(value, 3)} {currency} · "
            f"{electricity} · net {format_amount(value - cost, 3)} {currency}"
        )

    def _hourly(self, now: dt.datetime) -> tuple[list[str], list[int]]:
        """The last 24 hours, one bar per hour, from the same hourly summary."""
        start = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=23)
        by_hour = {h: a for h, a in self._queries.hourly(start)}
        hours = [start + dt.timedelta(hours=i) for i in range(24)]
        return [h.strftime("%H") for h in hours], [by_hour.get(int(h.timestamp()) // 3600, 0) for h in hours]

    def ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export earnings", export_default_path(), "CSV (*.csv)")
        if path:
            self.export_to(path)

    def export_to(self, path: str) -> None:
        """Streams the CSV on a worker thread with its own connection; the GUI stays responsive."""
        since = self._queries.period_start(self.period, dt.datetime.now().astimezone())
        decimals = self._services.token_decimals
        price = self._services.settings.electricity_milli_per_kwh
        open_queries = self._services.earnings

        def write() -> int:
            from hostapp.earnings.export import export_csv  # the CSV writer loads only when asked for

            queries = open_queries()
            try:
                with open(path, "w", encoding="utf-8", newline="") as out:
                    return export_csv(queries, out, since, decimals, price)
            finally:
                queries.close()

        self.export_button.setEnabled(False)
        run_in_background(write, self._exported, self._export_failed)

    def _exported(self, count: int) -> None:
        self.export_button.setEnabled(True)
        self.message.ok(f"Exported {count} rows")

    def _export_failed(self, exc: Exception) -> None:
        self.export_button.setEnabled(True)
        self.message.error(f"Export failed: {exc}")
