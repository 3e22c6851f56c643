"""The main window: a sidebar of pages; closing it keeps the app running in the tray."""

from __future__ import annotations

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QMainWindow, QStackedWidget, QWidget

from hostapp.gui.bridge import EventBridge
from hostapp.gui.icons import icon
from hostapp.gui.pages.dashboard import DashboardPage
from hostapp.gui.pages.diagnostics import DiagnosticsPage
from hostapp.gui.pages.earnings import EarningsPage
from hostapp.gui.pages.jobs import JobsPage
from hostapp.gui.pages.schedule import SchedulePage
from hostapp.gui.pages.settings import SettingsPage
from hostapp.gui.pages.wallet import WalletPage
from hostapp.gui.wiring import GuiServices

PAGE_CLASSES = (DashboardPage, SchedulePage, EarningsPage, WalletPage, JobsPage, SettingsPage, DiagnosticsPage)


class MainWindow(QMainWindow):
    def __init__(self, services: GuiServices, bridge: EventBridge) -> None:
        super().__init__()
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
        self.pages: dict[str, QWidget] = {}
        for page_class in PAGE_CLASSES:
            page = page_class(services, bridge)
            self.pages[page_class.title] = page
            self.sidebar.addItem(page_class.title)
            self.stack.addWidget(page)
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.sidebar.setCurrentRow(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

    def show_page(self, title: str) -> QWidget:
        page = self.pages[title]
        self.sidebar.setCurrentRow(list(self.pages).index(title))
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
