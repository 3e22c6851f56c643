"""Diagnostics: the doctor's checks (on a worker thread, each time the page opens), each saying
what it means for the user first; the technical finding, the full fix and the details on expand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QBrush, QColor, QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hostapp.gui.bridge import EventBridge
from hostapp.gui.pages.common import Message, heading, show_error, status_colour
from hostapp.gui.viewmodels import NodeState, one_line
from hostapp.gui.wiring import GuiServices
from hostapp.gui.workers import run_in_background

if TYPE_CHECKING:
    from hostapp.health.diagnostics import Bundle
    from hostapp.health.doctor import DoctorReport

STATUS_KINDS = {"OK": "ok", "WARN": "warn", "FAIL": "error"}


class DiagnosticsPage(QWidget):
    title = "Diagnostics"

    def __init__(self, services: GuiServices, bridge: EventBridge) -> None:
        super().__init__()
        self._services = services
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Diagnostics"))
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run checks")
        self.run_button.clicked.connect(self.run_checks)
        open_logs = QPushButton("Open logs folder")
        open_logs.clicked.connect(self.open_logs)
        self.bundle_button = QPushButton("Export redacted log bundle…")
        self.bundle_button.clicked.connect(self.ask_bundle)
        buttons.addWidget(self.run_button)
        buttons.addWidget(open_logs)
        buttons.addWidget(self.bundle_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Status", "Check", "What it means"])
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.tree.setWordWrap(True)
        self.tree.setUniformRowHeights(False)  # a wrapped fix takes the lines it needs
        layout.addWidget(self.tree, 1)
        self.logs_label = QLabel(f"Logs: {services.paths.logs}")
        layout.addWidget(self.logs_label)
        self.message = Message()
        layout.addWidget(self.message)
        self.report: DoctorReport | None = None
        self.error_box: QMessageBox | None = None
        self.checking = False

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.checking:
            self.run_checks()  # opening the page is asking "is this PC ready?"

    def run_checks(self) -> None:
        self.checking = True
        self.run_button.setEnabled(False)
        self.message.setText("Checking…")
        run_in_background(self._services.run_doctor, self.show_report, self._failed)

    def show_report(self, report: DoctorReport) -> None:
        self.report = report
        self.checking = False
        self.run_button.setEnabled(True)
        self.tree.clear()
        for check in report.checks:
            status = str(check.status.value)
            item = QTreeWidgetItem([status, check.title, check.says])
            item.setToolTip(2, check.says)
            item.setForeground(0, QBrush(QColor(status_colour(STATUS_KINDS.get(status, "error"), self))))
            # On expand: the full fix, the technical finding (backend, runtime names), the details.
            if check.hint and status != "OK":
                QTreeWidgetItem(item, ["", "Fix", check.hint]).setToolTip(2, check.hint)
            if check.meaning:
                QTreeWidgetItem(item, ["", "Detail", check.summary]).setToolTip(2, check.summary)
            for key, value in (check.details or {}).items():
                if value not in (None, "", [], {}) and not isinstance(value, (dict, list)):
                    QTreeWidgetItem(item, ["", key.replace("_", " "), str(value)])
            self.tree.addTopLevelItem(item)
        for column in (0, 1):  # whole status words and check names; the meaning takes the rest
            self.tree.resizeColumnToContents(column)
        # The machine can pass every check while the node itself is stuck (a grid that refuses it):
        # "Ready" only when both say so.
        node = self._services.node.status()
        if node.state is NodeState.ERROR:
            fix = f" Fix: {node.fix}" if node.fix else ""
            self.message.error(f"Not ready: {node.reason or node.headline}.{fix}")
        elif report.ok and (warnings := [c.title for c in report.checks if str(c.status.value) == "WARN"]):
            # Not a plain "Ready": a warning can mean GPU jobs can't run while CPU jobs do.
            self.message.ok(f"Ready, with a warning on {', '.join(warnings)}: see what it means above")
        elif report.ok:
            self.message.ok("Ready to share this GPU")
        else:
            self.message.error("Some checks failed: see the fixes above")

    def _failed(self, exc: Exception) -> None:
        self.checking = False
        self.run_button.setEnabled(True)
        self.message.error(f"The checks could not run: {exc}")

    def open_logs(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._services.paths.logs)))

    def ask_bundle(self) -> None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
        path, _ = QFileDialog.getSaveFileName(
            self, "Export a redacted log bundle", f"hostapp-diagnostics-{stamp}.zip", "Zip (*.zip)"
        )
        if path:
            self.export_bundle(path)

    def export_bundle(self, path: str) -> None:
        """Zips logs + doctor + settings, each redacted (hostapp.health.diagnostics), on a worker thread."""
        from hostapp.health.diagnostics import export_bundle

        services = self._services
        self.bundle_button.setEnabled(False)
        self.message.setText("Collecting logs and running the checks…")
        run_in_background(
            lambda: export_bundle(services.paths, Path(path), lambda: services.run_doctor().to_json()),
            self._bundled,
            self._bundle_failed,
        )

    def _bundled(self, bundle: Bundle) -> None:
        self.bundle_button.setEnabled(True)
        self.message.ok(f"Saved {bundle.path} ({len(bundle.files)} files, secrets redacted)")

    def _bundle_failed(self, exc: Exception) -> None:
        self.bundle_button.setEnabled(True)
        self.message.setText("")
        self.error_box = show_error(self, "Bundle not saved", one_line(exc))
