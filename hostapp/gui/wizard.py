"""First-run wizard: welcome → checks → wallet → payout address → schedule preset → done."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from hostapp.gui.pages.common import Message
from hostapp.gui.viewmodels import PRESET_LABELS
from hostapp.gui.wiring import GuiServices
from hostapp.gui.workers import run_in_background
from hostapp.schedule.grid import Preset


def _text_page(title: str, text: str) -> QWizardPage:
    page = QWizardPage()
    page.setTitle(title)
    layout = QVBoxLayout(page)
    label = QLabel(text)
    label.setWordWrap(True)
    layout.addWidget(label)
    return page


class ChecksStep(QWizardPage):
    def __init__(self, services: GuiServices) -> None:
        super().__init__()
        self._services = services
        self.setTitle("Checking this PC")
        self.setSubTitle("Docker, the GPU and its driver, the container runtime, the keyring, disk space.")
        layout = QVBoxLayout(self)
        self.results = QLabel("Checking…")
        self.results.setWordWrap(True)
        layout.addWidget(self.results)
        self.done = False

    def initializePage(self) -> None:
        self.done = False
        self.results.setText("Checking…")
        run_in_background(self._services.run_doctor, self.show_report, self._failed)

    def show_report(self, report: Any) -> None:
        lines = []
        for check in report.checks:
            lines.append(f"<b>{check.status.value}</b> {check.id}: {check.summary}")
            if check.hint and check.status.value != "OK":
                lines.append(f"&nbsp;&nbsp;&nbsp;fix: {check.hint}")
        self.results.setText("<br>".join(lines))
        self.done = True
        self.completeChanged.emit()

    def _failed(self, exc: Exception) -> None:
        self.results.setText(f"The checks could not run ({exc}); you can run them later under Diagnostics.")
        self.done = True
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.done  # a failing check is shown with its fix but does not block setup


class WalletStep(QWizardPage):
    def __init__(self, services: GuiServices) -> None:
        super().__init__()
        self._services = services
        self.setTitle("Your wallet")
        self.setSubTitle("This PC's key signs its work for the grid. It is kept in your OS keyring.")
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.create_button = QPushButton("Create a new wallet")
        self.create_button.clicked.connect(self.create_wallet)
        row.addWidget(self.create_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.phrase = QPlainTextEdit()
        self.phrase.setReadOnly(True)
        self.phrase.setVisible(False)
        layout.addWidget(self.phrase)
        self.backup_confirmed = QCheckBox("I have written the seed phrase down and keep it offline")
        self.backup_confirmed.setVisible(False)
        self.backup_confirmed.toggled.connect(lambda _on: self.completeChanged.emit())
        layout.addWidget(self.backup_confirmed)
        layout.addWidget(QLabel("Or import a seed phrase, base58 private key or solana-keygen JSON:"))
        self.import_text = QLineEdit()
        self.import_button = QPushButton("Import")
        self.import_button.clicked.connect(self.import_wallet)
        import_row = QHBoxLayout()
        import_row.addWidget(self.import_text, 1)
        import_row.addWidget(self.import_button)
        layout.addLayout(import_row)
        self.message = Message()
        layout.addWidget(self.message)
        self.address: str | None = None
        self.needs_backup = False

    def initializePage(self) -> None:
        wallet = self._services.wallet
        self.address = wallet.address() if wallet else None
        if wallet is None:
            self.message.error("No wallet service in this build: set one up later on the Wallet page.")
        elif self.address:
            self.message.ok(f"Using the existing wallet {self.address}")

    def create_wallet(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            return
        self.create_button.setEnabled(False)
        run_in_background(wallet.create, self._created, self._failed)

    def _created(self, result: tuple[str, str]) -> None:
        self.address, phrase = result
        self.needs_backup = True
        self.phrase.setPlainText(phrase)
        self.phrase.setVisible(True)
        self.backup_confirmed.setVisible(True)
        self.message.ok(f"Wallet {self.address} created and stored in the keyring")
        self.completeChanged.emit()

    def import_wallet(self) -> None:
        wallet = self._services.wallet
        text = self.import_text.text()
        if wallet is None or not text.strip():
            self.message.error("Paste a seed phrase or key first")
            return
        run_in_background(lambda: wallet.import_secret(text), self._imported, self._failed)

    def _imported(self, address: str) -> None:
        self.address = address
        self.needs_backup = False
        self.import_text.clear()
        self.message.ok(f"Wallet {address} imported")
        self.completeChanged.emit()

    def _failed(self, exc: Exception) -> None:
        self.create_button.setEnabled(True)
        self.message.error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    def isComplete(self) -> bool:
        if self._services.wallet is None:
            return True
        return bool(self.address) and (not self.needs_backup or self.backup_confirmed.isChecked())


class PayoutStep(QWizardPage):
    def __init__(self, services: GuiServices) -> None:
        super().__init__()
        self._services = services
        self.setTitle("Payout address (optional)")
        self.setSubTitle("Send earnings to another wallet (a cold wallet), so this PC's hot key holds little.")
        layout = QVBoxLayout(self)
        self.address = QLineEdit(services.settings.payout_address or "")
        self.address.setPlaceholderText("leave empty to keep earnings in this PC's wallet")
        layout.addWidget(self.address)
        self.message = Message()
        layout.addWidget(self.message)

    def validatePage(self) -> bool:
        text = self.address.text().strip()
        wallet = self._services.wallet
        try:
            address = wallet.validate_address(text) if (text and wallet) else (text or None)
        except ValueError as exc:
            self.message.error(str(exc))
            return False
        settings = self._services.settings.model_copy(update={"payout_address": address})
        self._services.save_settings(settings)
        self._services.settings = settings
        return True


class ScheduleStep(QWizardPage):
    def __init__(self, services: GuiServices) -> None:
        super().__init__()
        self._services = services
        self.setTitle("When may this PC work?")
        self.setSubTitle("You can paint your own week later on the Schedule page.")
        layout = QVBoxLayout(self)
        self.group = QButtonGroup(self)
        self.buttons: dict[Preset, QRadioButton] = {}
        for preset in Preset:
            button = QRadioButton(PRESET_LABELS[preset].replace("&", "&&"))
            self.group.addButton(button)
            self.buttons[preset] = button
            layout.addWidget(button)
        self.buttons[Preset.NIGHTS_AND_WEEKENDS].setChecked(True)
        self.message = Message()
        layout.addWidget(self.message)

    def chosen(self) -> Preset:
        return next(p for p, b in self.buttons.items() if b.isChecked())

    def validatePage(self) -> bool:
        try:
            self._services.schedule.save(self.chosen().grid())
        except (ValueError, OSError) as exc:
            self.message.error(f"Not saved: {exc}")
            return False
        return True


class FirstRunWizard(QWizard):
    def __init__(self, services: GuiServices) -> None:
        super().__init__()
        self.setWindowTitle("Set up hostapp")
        self.addPage(
            _text_page(
                "Welcome",
                "hostapp rents out your NVIDIA GPU to an AI inference grid while you are not using it, "
                "and pays you for the work. The next steps check this PC, set up your wallet and pick "
                "when the GPU may work.",
            )
        )
        self.checks = ChecksStep(services)
        self.wallet = WalletStep(services)
        self.payout = PayoutStep(services)
        self.schedule = ScheduleStep(services)
        for page in (self.checks, self.wallet, self.payout, self.schedule):
            self.addPage(page)
        self.addPage(
            _text_page(
                "Done",
                "hostapp now lives in your system tray. Its icon shows what it is doing: green working, "
                "blue waiting for work, amber paused (a game, your schedule, heat), grey offline, red an "
                "error that needs you. Right-click it to pause or resume; the dashboard shows earnings.",
            )
        )
