"""Jobs: the history from the store and the live log of the running job, both searchable."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hostapp.control.transport import ControlError
from hostapp.gui.bridge import EventBridge
from hostapp.gui.pages.common import Coalesced, duration_text, fit_columns, heading, when_text
from hostapp.gui.tray import pull_progress_text, resource_progress_text
from hostapp.gui.widgets.row_table import RowTableModel
from hostapp.gui.wiring import GuiServices

log = logging.getLogger(__name__)

HISTORY_LIMIT = 500
# The columns of a jobs.history row (hostapp/jobs/journal.py JobHistory), in the order `cell` reads them.
HISTORY_COLUMNS = ("job_id", "attempt", "source", "status", "reason", "created_at", "started_at", "ended_at")
LOG_LINES = 5000


class JobHistoryModel(RowTableModel[tuple[Any, ...]]):
    HEADERS = ("Created", "Job", "Source", "Status", "Duration", "Reason")

    def __init__(self, services: GuiServices) -> None:
        super().__init__()
        self._services = services
        self.search = ""
        self.reload()

    def reload(self) -> None:
        try:
            found = self._services.client.job_history(self.search, HISTORY_LIMIT)
        except ControlError as exc:
            log.warning("job history not read: %s", exc)
            found = []
        self.beginResetModel()
        self.rows = [tuple(r[name] for name in HISTORY_COLUMNS) for r in found]
        self.endResetModel()

    def cell(self, row: tuple[Any, ...], column: int) -> str:
        job_id, attempt, source, status, reason, created, started, ended = row
        if column == 0:
            return when_text(created)
        if column == 1:
            return str(job_id) if attempt == 1 else f"{job_id} #{attempt}"
        if column == 2:
            return str(source)
        if column == 3:
            return str(status)
        if column == 4:
            return duration_text(int(ended - started)) if started and ended else "—"
        return reason or ""


class JobsPage(QWidget):
    title = "Jobs"

    def __init__(self, services: GuiServices, bridge: EventBridge) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Jobs"))
        search_row = QHBoxLayout()
        self.history_search = QLineEdit()
        self.history_search.setPlaceholderText("Search job id, status or reason")
        self.history_search.textChanged.connect(self._search_history)
        search_row.addWidget(self.history_search)
        layout.addLayout(search_row)
        self.pull_label = QLabel()  # "Pulling image …: 1.2 GB / 3.4 GB" while a job's image downloads
        self.pull_label.setTextFormat(Qt.TextFormat.PlainText)
        self.pull_label.setVisible(False)
        layout.addWidget(self.pull_label)
        self.pull_bar = QProgressBar()
        self.pull_bar.setVisible(False)
        layout.addWidget(self.pull_bar)
        self.fetch_label = QLabel()  # "Fetching model …: 3.2 GB / 7.8 GB" while a job's model resource downloads
        self.fetch_label.setTextFormat(Qt.TextFormat.PlainText)
        self.fetch_label.setVisible(False)
        layout.addWidget(self.fetch_label)
        self.fetch_bar = QProgressBar()
        self.fetch_bar.setVisible(False)
        layout.addWidget(self.fetch_bar)

        splitter = QSplitter(Qt.Orientation.Vertical)
        self.model = JobHistoryModel(services)
        self.table = QTableView()
        self.table.setModel(self.model)
        # Created, Job, Source, Status and Duration fit their text (a 32-character job id is never cut);
        # Reason takes the rest, one line each, its full text in the tooltip.
        fit_columns(self.table, stretch=len(JobHistoryModel.HEADERS) - 1)
        splitter.addWidget(self.table)

        log_box = QWidget()
        log_layout = QVBoxLayout(log_box)
        log_layout.setContentsMargins(0, 0, 0, 0)
        log_header = QHBoxLayout()
        self.log_title = QLabel("Live log: no job running")
        self.log_search = QLineEdit()
        self.log_search.setPlaceholderText("Filter log lines")
        self.log_search.textChanged.connect(self._render_log)
        log_header.addWidget(self.log_title, 1)
        log_header.addWidget(self.log_search)
        log_layout.addLayout(log_header)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_LINES)
        log_layout.addWidget(self.log_view)
        splitter.addWidget(log_box)
        layout.addWidget(splitter, 1)

        self.lines: deque[str] = deque(maxlen=LOG_LINES)
        bridge.on("job.log", self, self._on_log)
        # Up to HISTORY_LIMIT rows from the node: only while on screen, at most every few seconds.
        self.history_changed = Coalesced(self, self.model.reload, throttled=True)
        bridge.on("job.*", self, self._on_job_event)
        bridge.on("job.pull.progress", self, self._on_pull_progress)
        bridge.on("resource.progress", self, self._on_resource_progress)

    def _on_pull_progress(self, data: dict[str, Any]) -> None:
        _show_progress(self.pull_label, self.pull_bar, pull_progress_text(data), data)

    def _on_resource_progress(self, data: dict[str, Any]) -> None:
        _show_progress(self.fetch_label, self.fetch_bar, resource_progress_text(data), data)

    def _search_history(self, text: str) -> None:
        self.model.search = text.strip()
        self.model.reload()

    def _on_job_event(self, data: dict[str, Any]) -> None:
        if "line" not in data and "lines" not in data and "text" not in data and "layers_total" not in data:
            self.history_changed.request()  # started / finished / failed: the history changed
            if "status" in data:  # finished: a failed pull sends no "finished" progress of its own
                self.pull_label.setVisible(False)
                self.pull_bar.setVisible(False)
                self.fetch_label.setVisible(False)  # nor does a failed model fetch
                self.fetch_bar.setVisible(False)

    def _on_log(self, data: dict[str, Any]) -> None:
        job = data.get("job_id")
        if job:
            self.log_title.setText(f"Live log: {job}")
        raw = data.get("lines") or data.get("line") or data.get("text") or ""
        new = [str(x) for x in raw] if isinstance(raw, list | tuple) else str(raw).splitlines()
        needle = self.log_search.text().lower()
        for line in new:
            self.lines.append(line)
            if not needle or needle in line.lower():
                self.log_view.appendPlainText(line)

    def _render_log(self, text: str) -> None:
        needle = text.lower()
        shown = [line for line in self.lines if not needle or needle in line.lower()]
        self.log_view.setPlainText("\n".join(shown))


def _show_progress(label: QLabel, bar: QProgressBar, text: str, data: dict[str, Any]) -> None:
    """A download's line and bar (image pull, model fetch); hidden once `text` is "" (finished)."""
    label.setText(text)
    label.setVisible(bool(text))
    total = int(data.get("bytes_total") or 0)
    bar.setVisible(bool(text) and total > 0)
    if total:
        # Per mille of the bytes known so far: an int range, whatever the download's size.
        bar.setRange(0, 1000)
        bar.setValue(min(1000, int(data.get("bytes_done") or 0) * 1000 // total))
