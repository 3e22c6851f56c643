"""First-run wizard: welcome → checks → wallet → payout address → schedule preset → done."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
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
from hostapp.gui.schedule_labels import PRESET_LABELS
from hostapp.gui.viewmodels import CreatedWallet, one_line
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
    """Create (seed phrase shown once, three of its words asked back) or import; both run through
    the core WalletService on a worker thread."""

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
        self.phrase.setMaximumHeight(70)
        self.phrase.setVisible(False)
        layout.addWidget(self.phrase)
        self.words_label = QLabel("Write the words down, in order, and keep them offline. Then enter from your copy:")
        self.words_label.setWordWrap(True)
        self.words_label.setVisible(False)
        layout.addWidget(self.words_label)
        self.words_form = QFormLayout()
        layout.addLayout(self.words_form)
        self.word_edits: dict[int, QLineEdit] = {}
        self.check_button = QPushButton("Check the words")
        self.check_button.setVisible(False)
        self.check_button.clicked.connect(self.check_words)
        layout.addWidget(self.check_button)
        layout.addWidget(QLabel("Or import a seed phrase, base58 private key or solana-keygen JSON:"))
        self.import_text = QLineEdit()
        self.import_text.setEchoMode(QLineEdit.EchoMode.Password)  # a secret: not for onlookers
        self.import_button = QPushButton("Import")
        self.import_button.clicked.connect(self.import_wallet)
        import_row = QHBoxLayout()
        import_row.addWidget(self.import_text, 1)
        import_row.addWidget(self.import_button)
        layout.addLayout(import_row)
        self.message = Message()
        layout.addWidget(self.message)
        self.address: str | None = None
        self.backup_confirmed = False

    def initializePage(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            self.message.error("No wallet service in this build: set one up later on the Wallet page.")
            return
        try:
            summary = wallet.summary()
        except ValueError as exc:
            self.message.error(one_line(exc))
            return
        if summary is not None:
            self.address = summary.address
            self.backup_confirmed = summary.backup_confirmed
            if summary.backup_confirmed:
                self.message.ok(f"Using the existing wallet {summary.address}")
            else:
                self.message.error("This wallet's seed phrase backup is not confirmed: confirm it on the Wallet page.")
            self.completeChanged.emit()

    def create_wallet(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            return
        self.create_button.setEnabled(False)
        replace = self.address is not None and not self.backup_confirmed  # an unfinished wizard's key
        run_in_background(lambda: wallet.create(replace=replace), self._created, self._failed)

    def _created(self, created: CreatedWallet) -> None:
        self.address, self.backup_confirmed = created.address, False
        self.phrase.setPlainText(created.phrase)
        for widget in (self.phrase, self.words_label, self.check_button):
            widget.setVisible(True)
        while self.words_form.rowCount():
            self.words_form.removeRow(0)
        self.word_edits = {}
        for position in created.confirm_positions:
            edit = QLineEdit()
            self.word_edits[position] = edit
            self.words_form.addRow(f"Word {position}", edit)
        self.message.ok(f"Wallet {created.address} created and stored in the keyring")
        self.completeChanged.emit()

    def check_words(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            return
        answers = {p: e.text() for p, e in self.word_edits.items()}
        self.check_button.setEnabled(False)
        run_in_background(lambda: wallet.confirm_backup(answers), self._confirmed, self._failed)

    def _confirmed(self, address: str) -> None:
        self.backup_confirmed = True
        self.check_button.setEnabled(True)
        self.phrase.clear()  # shown once
        self.phrase.setVisible(False)
        self.message.ok(f"Backup confirmed: wallet {address} is ready")
        self.completeChanged.emit()

    def import_wallet(self) -> None:
        wallet = self._services.wallet
        text = self.import_text.text()
        if wallet is None or not text.strip():
            self.message.error("Paste a seed phrase or key first")
            return
        replace = self.address is not None and not self.backup_confirmed
        run_in_background(lambda: wallet.import_secret(text, replace=replace), self._imported, self._failed)

    def _imported(self, address: str) -> None:
        self.address, self.backup_confirmed = address, True
        self.import_text.clear()
        self.message.ok(f"Wallet {address} imported")
        self.completeChanged.emit()

    def _failed(self, exc: Exception) -> None:
        self.create_button.setEnabled(True)
        self.check_button.setEnabled(True)
        self.message.error(one_line(exc))

    def isComplete(self) -> bool:
        if self._services.wallet is None:
            return True
        return bool(self.address) and self.backup_confirmed


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
        # A small local settings write through the wallet service (no keyring, no network).
        text = self.address.text().strip()
        wallet = self._services.wallet
        if wallet is None:
            return True
        try:
            wallet.set_payout_address(text or None)
        except (ValueError, OSError) as exc:
            self.message.error(one_line(exc))
            return False
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
