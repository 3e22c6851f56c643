"""The main window: a sidebar of pages; closing it keeps the app running in the tray.

Pages are built when first shown (the Dashboard when the window opens), each with its module's
imports: a window that only ever shows the Dashboard never loads the Wallet's QR code, the
Earnings export or the Diagnostics bundle, nor asks the node what those pages would show.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QMainWindow, QStackedWidget, QWidget

from hostapp.gui.bridge import EventBridge
from hostapp.gui.icons import icon
from hostapp.gui.wiring import GuiServices

# (title, module, class), in sidebar order; each class's `title` is the same text.
PAGES = (
    ("Dashboard", "hostapp.gui.pages.dashboard", "DashboardPage"),
    ("Schedule", "hostapp.gui.pages.schedule", "SchedulePage"),
    ("Earnings", "hostapp.gui.pages.earnings", "EarningsPage"),
    ("Wallet", "hostapp.gui.pages.wallet", "WalletPage"),
    ("Jobs", "hostapp.gui.pages.jobs", "JobsPage"),
    ("Settings", "hostapp.gui.pages.settings", "SettingsPage"),
    ("Diagnostics", "hostapp.gui.pages.diagnostics", "DiagnosticsPage"),
)
TITLES = tuple(title for title, _module, _name in PAGES)


class LazyPages(Mapping[str, QWidget]):
    """Every page by title; reading one builds it if it was not yet (as showing it would)."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window

    def __getitem__(self, title: str) -> QWidget:
        return self._window.page(title)

    def __iter__(self) -> Iterator[str]:
        return iter(TITLES)

    def __len__(self) -> int:
        return len(TITLES)


class MainWindow(QMainWindow):
    def __init__(self, services: GuiServices, bridge: EventBridge) -> None:
        super().__init__()
        self._services = services
        self._bridge = bridge
        self.setWindowTitle("hostapp")
        self.setWindowIcon(icon("hostapp"))
        self.resize(1000, 700)
        self.keep_in_tray = True  # False while quitting, or when there is no tray to return to
        central = QWidget()
        layout = QHBoxLayout(central)
        self.sidebar = QListWidget()
        self.sidebar.setFixedWidth(160)
        self.sidebar.setSpacing(4)
        self.stack = QStackedWidget()
        self.built: dict[str, QWidget] = {}  # the pages built so far
        self.pages: Mapping[str, QWidget] = LazyPages(self)
        for title in TITLES:
            self.sidebar.addItem(title)
            self.stack.addWidget(QWidget())  # a placeholder until the page is first shown
        self.sidebar.currentRowChanged.connect(self._show_row)
        self.sidebar.setCurrentRow(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

    def page(self, title: str) -> QWidget:
        """The page named `title`, built (its module imported) on first use."""
        page = self.built.get(title)
        if page is None:
            index = TITLES.index(title)
            _title, module, name = PAGES[index]
            page_class = getattr(importlib.import_module(module), name)
            page = page_class(self._services, self._bridge)
            self.built[title] = page
            placeholder = self.stack.widget(index)
            assert placeholder is not None  # one widget per title, from __init__ on
            self.stack.insertWidget(index, page)
            if self.stack.currentWidget() is placeholder:  # its row is selected: the page takes its place
                self.stack.setCurrentWidget(page)
            self.stack.removeWidget(placeholder)  # no longer current: no other page is shown meanwhile
            placeholder.deleteLater()
        return page

    def _show_row(self, row: int) -> None:
        if row >= 0:
            self.page(TITLES[row])
            self.stack.setCurrentIndex(row)

    def show_page(self, title: str) -> QWidget:
        page = self.page(title)
        self.sidebar.setCurrentRow(TITLES.index(title))
        return page

    def bring_to_front(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.keep_in_tray:
            event.ignore()
            self.hide()  # the node keeps working; the tray icon reopens the window
        else:
            event.accept()
