"""First-run wizard: welcome → checks → wallet (→ its words → check them) → payout address →
schedule preset and start at login → network (local demo grid or Nosana, beta) → done."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from hostapp.gui.pages.common import Message
from hostapp.gui.schedule_labels import PRESET_LABELS
from hostapp.gui.viewmodels import CreatedWallet, one_line
from hostapp.gui.wiring import GuiServices
from hostapp.gui.workers import run_in_background
from hostapp.schedule.grid import Preset
from hostapp.schedule.policy import Rules

if TYPE_CHECKING:
    from hostapp.health.doctor import DoctorReport

WORD_MIN_WIDTH = 100  # a seed word (at most 8 letters) and its number, at any font scale


def _text_page(title: str, text: str, *below: QWidget) -> QWizardPage:
    page = QWizardPage()
    page.setTitle(title)
    layout = QVBoxLayout(page)
    label = QLabel(text)
    label.setWordWrap(True)
    layout.addWidget(label)
    for widget in below:
        layout.addWidget(widget)
    return page


CHECK_MARKS = {"OK": "✔", "WARN": "⚠", "FAIL": "✖"}


def _text(value: str) -> str:
    return html.escape(value, quote=False)  # plain text inside the rich-text label


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

    def show_report(self, report: DoctorReport) -> None:
        # What each finding means for the user; the technical detail and full fix are one
        # click away on the Diagnostics page (and in the tooltip here).
        lines, details = [], []
        for check in report.checks:
            mark = CHECK_MARKS.get(check.status.value, check.status.value)
            lines.append(f"{mark} <b>{_text(check.title)}</b>: {_text(check.says)}")
            if check.hint and check.status.value != "OK":
                lines.append(f"&nbsp;&nbsp;&nbsp;&nbsp;<small>Fix: {_text(check.hint)}</small>")
            details.append(f"{check.id}: {check.summary}" + (f" (fix: {check.hint})" if check.hint else ""))
        if not report.ok:
            lines.append("<br>Setup can go on; the Diagnostics page checks again whenever you open it.")
        self.results.setTextFormat(Qt.TextFormat.RichText)
        self.results.setText("<br>".join(lines))
        self.results.setToolTip("\n".join(details))
        self.done = True
        self.completeChanged.emit()

    def _failed(self, exc: Exception) -> None:
        self.results.setText(f"The checks could not run ({exc}); you can run them later under Diagnostics.")
        self.done = True
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.done  # a failing check is shown with its fix but does not block setup


class WalletStep(QWizardPage):
    """Create a new wallet or import one; both run through the core WalletService on a worker
    thread. A created wallet's words are shown on the next page and asked back on the one after;
    an imported (or an existing, confirmed) wallet skips both."""

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
        import_label = QLabel("Or import a seed phrase, base58 private key or solana-keygen JSON:")
        import_label.setWordWrap(True)
        layout.addWidget(import_label)
        self.import_text = QLineEdit()
        self.import_text.setEchoMode(QLineEdit.EchoMode.Password)  # a secret: not for onlookers
        self.import_button = QPushButton("Import")
        self.import_button.clicked.connect(self.import_wallet)
        import_row = QHBoxLayout()
        import_row.addWidget(self.import_text, 1)
        import_row.addWidget(self.import_button)
        layout.addLayout(import_row)
        layout.addStretch(1)
        self.message = Message()
        layout.addWidget(self.message)
        self.address: str | None = None
        self.backup_confirmed = False
        self.created: CreatedWallet | None = None  # until its backup is confirmed

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
                # A key from an unfinished setup whose words nobody saw: creating replaces it.
                self.message.error("Setup was interrupted before the seed phrase was confirmed: create a new wallet.")
            self.completeChanged.emit()

    def create_wallet(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            return
        self.create_button.setEnabled(False)
        replace = self.address is not None and not self.backup_confirmed  # an unfinished wizard's key
        run_in_background(lambda: wallet.create(replace=replace), self._created, self._failed)

    def _created(self, created: CreatedWallet) -> None:
        self.create_button.setEnabled(True)
        self.address, self.backup_confirmed, self.created = created.address, False, created
        self.message.ok(f"Wallet {created.address} created and stored in the keyring")
        self.completeChanged.emit()
        wizard = self.wizard()
        if wizard is not None and wizard.currentPage() is self:
            wizard.next()  # straight to its words

    def import_wallet(self) -> None:
        wallet = self._services.wallet
        text = self.import_text.text()
        if wallet is None or not text.strip():
            self.message.error("Paste a seed phrase or key first")
            return
        replace = self.address is not None and not self.backup_confirmed
        run_in_background(lambda: wallet.import_secret(text, replace=replace), self._imported, self._failed)

    def _imported(self, address: str) -> None:
        self.address, self.backup_confirmed, self.created = address, True, None
        self.import_text.clear()
        self.message.ok(f"Wallet {address} imported")
        self.completeChanged.emit()

    def _failed(self, exc: Exception) -> None:
        self.create_button.setEnabled(True)
        self.message.error(one_line(exc))

    def isComplete(self) -> bool:
        if self._services.wallet is None:
            return True
        return bool(self.address) and (self.backup_confirmed or self.created is not None)

    def nextId(self) -> int:
        wizard = self.wizard()
        if isinstance(wizard, FirstRunWizard) and (self.backup_confirmed or self.created is None):
            return wizard.page_ids[wizard.payout]
        return super().nextId()


class PhraseStep(QWizardPage):
    """The new wallet's words, numbered, in a grid that fits the window: shown once."""

    def __init__(self, wallet_step: WalletStep) -> None:
        super().__init__()
        self._wallet_step = wallet_step
        self.setTitle("Write down your seed phrase")
        self.setSubTitle("On paper, in this order. Anyone with these words controls the wallet; keep them offline.")
        layout = QVBoxLayout(self)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(12)
        layout.addLayout(self.grid)
        layout.addStretch(1)
        self.word_labels: list[QLabel] = []

    def initializePage(self) -> None:
        created = self._wallet_step.created
        self.show_words(created.phrase.split() if created is not None else [])

    def show_words(self, words: list[str]) -> None:
        for label in self.word_labels:
            self.grid.removeWidget(label)
            label.deleteLater()
        self.word_labels = []
        columns = 3 if len(words) <= 12 else 4  # 12 words: 3×4, 24 words: 4×6
        rows = max(1, -(-len(words) // columns))
        for index, word in enumerate(words):
            label = QLabel(f"{index + 1}. {word}")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)  # no copy to a clipboard
            label.setMinimumWidth(WORD_MIN_WIDTH)
            # Down the columns, as the words are written on paper: 1–4 in the first column.
            self.grid.addWidget(label, index % rows, index // rows)
            self.word_labels.append(label)

    def forget(self) -> None:
        self.show_words([])


class ConfirmStep(QWizardPage):
    """Three of the words asked back by number; a wrong one can be corrected and checked again."""

    def __init__(self, services: GuiServices, wallet_step: WalletStep, phrase_step: PhraseStep) -> None:
        super().__init__()
        self._services = services
        self._wallet_step = wallet_step
        self._phrase_step = phrase_step
        self.setTitle("Check your copy")
        self.setSubTitle("Type these words from your written copy (Back shows the phrase again).")
        layout = QVBoxLayout(self)
        self.words_form = QFormLayout()
        layout.addLayout(self.words_form)
        self.check_button = QPushButton("Check the words")
        self.check_button.clicked.connect(self.check_words)
        check_row = QHBoxLayout()
        check_row.addWidget(self.check_button)
        check_row.addStretch(1)
        layout.addLayout(check_row)
        layout.addStretch(1)
        self.message = Message()
        layout.addWidget(self.message)
        self.word_edits: dict[int, QLineEdit] = {}
        self.confirmed_address: str | None = None

    def initializePage(self) -> None:
        created = self._wallet_step.created
        positions = created.confirm_positions if created is not None else []
        if sorted(self.word_edits) == sorted(positions):
            return
        while self.words_form.rowCount():
            self.words_form.removeRow(0)
        self.word_edits = {}
        for position in positions:
            edit = QLineEdit()
            edit.setMinimumWidth(WORD_MIN_WIDTH)
            self.word_edits[position] = edit
            self.words_form.addRow(f"Word {position}", edit)

    def check_words(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            return
        answers = {p: e.text() for p, e in self.word_edits.items()}
        self.check_button.setEnabled(False)
        run_in_background(lambda: wallet.confirm_backup(answers), self._confirmed, self._failed)

    def _confirmed(self, address: str) -> None:
        self.confirmed_address = address
        self._wallet_step.backup_confirmed = True
        self._wallet_step.created = None
        self._phrase_step.forget()  # shown once
        self.check_button.setEnabled(True)
        self.message.ok(f"Backup confirmed: wallet {address} is ready")
        self.completeChanged.emit()

    def _failed(self, exc: Exception) -> None:
        self.check_button.setEnabled(True)
        self.message.error(one_line(exc))

    def isComplete(self) -> bool:
        return self._wallet_step.backup_confirmed


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


def preset_description(preset: Preset, idle_minutes: int) -> str:
    """What a preset means in hours, beside its name on the wizard's schedule page."""
    if preset is Preset.ALWAYS:
        return "any hour, day and night"
    if preset is Preset.WHEN_IDLE:
        return f"any hour, once you have not used this PC for {idle_minutes} min"
    return "Mon–Fri 18:00–08:00, all of Saturday and Sunday"


class ScheduleStep(QWizardPage):
    def __init__(self, services: GuiServices) -> None:
        super().__init__()
        self._services = services
        self.setTitle("When may this PC work?")
        self.setSubTitle("You can paint your own week later on the Schedule page.")
        layout = QVBoxLayout(self)
        self.group = QButtonGroup(self)
        self.buttons: dict[Preset, QRadioButton] = {}
        try:
            idle_minutes = services.schedule.rules().idle_minutes
        except (ValueError, OSError):
            idle_minutes = Rules().idle_minutes
        for preset in Preset:
            text = f"{PRESET_LABELS[preset]}: {preset_description(preset, idle_minutes)}"
            button = QRadioButton(text.replace("&", "&&"))
            self.group.addButton(button)
            self.buttons[preset] = button
            layout.addWidget(button)
        self.buttons[Preset.NIGHTS_AND_WEEKENDS].setChecked(True)
        self.games_note = QLabel(
            "Whatever you choose, the GPU stops within seconds when a game or any other program starts "
            "using it, and goes back to work when it closes."
        )
        self.games_note.setWordWrap(True)
        layout.addWidget(self.games_note)
        # A tray app earns only while it runs: on by default, one click to say no.
        self.autostart = QCheckBox("Start hostapp when I log in")
        self.autostart.setChecked(True)
        layout.addWidget(self.autostart)
        layout.addStretch(1)
        self.message = Message()
        layout.addWidget(self.message)

    def initializePage(self) -> None:
        try:
            autostart = self._services.autostart()
            supported, reason = autostart.supported, autostart.reason
        except Exception as exc:  # a broken registry or plist: the box says so, setup goes on
            supported, reason = False, one_line(exc)
        self.autostart.setEnabled(supported)
        self.autostart.setToolTip(reason)
        if not supported:
            self.autostart.setChecked(False)

    def chosen(self) -> Preset:
        return next(p for p, b in self.buttons.items() if b.isChecked())

    def validatePage(self) -> bool:
        from hostapp.autostart import AutostartError

        try:
            self._services.schedule.save(self.chosen().grid())
        except (ValueError, OSError) as exc:
            self.message.error(f"Not saved: {exc}")
            return False
        if self.autostart.isEnabled():
            try:
                autostart = self._services.autostart()
                if autostart.is_enabled() != self.autostart.isChecked():
                    autostart.enable() if self.autostart.isChecked() else autostart.disable()
            except (AutostartError, OSError) as exc:
                self.message.error(f"Start at login not changed: {one_line(exc)} (Settings can retry)")
                return False
        return True


NETWORK_CHOICES = {"embedded": "Local demo grid", "nosana": "Nosana network (beta)"}  # grid.backend → label


class NetworkStep(QWizardPage):
    """Which grid the GPU works for. The local demo grid unless the user picks Nosana (beta), whose
    requirements are stated here, before the choice, and checked by `hostapp doctor`."""

    def __init__(self, services: GuiServices) -> None:
        from hostapp.nosana.requirements import REQUIREMENTS

        super().__init__()
        self._services = services
        self.setTitle("Which network?")
        self.setSubTitle("You can change this later in the settings (grid.backend).")
        layout = QVBoxLayout(self)
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QRadioButton] = {}
        for backend, label in NETWORK_CHOICES.items():
            button = QRadioButton(label)
            self.group.addButton(button)
            self.buttons[backend] = button
            layout.addWidget(button)
            if backend == "embedded":
                layout.addWidget(self._note("Demo tokens on a chain on this PC: try hostapp, nothing to set up."))
        self.requirements = self._note(
            "Earn NOS on Solana by hosting the official Nosana node; hostapp starts and stops it by your "
            "schedule. It requires:<ul>" + "".join(f"<li>{_text(line)}</li>" for line in REQUIREMENTS) + "</ul>"
            "<code>hostapp doctor</code> checks each of them."
        )
        layout.addWidget(self.requirements)
        layout.addStretch(1)
        self.message = Message()
        layout.addWidget(self.message)
        self.buttons[services.settings.grid.backend].setChecked(True)

    @staticmethod
    def _note(text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setContentsMargins(24, 0, 0, 8)
        return label

    def chosen(self) -> str:
        return next(b for b, button in self.buttons.items() if button.isChecked())

    def validatePage(self) -> bool:
        settings = self._services.settings
        if self.chosen() == settings.grid.backend:
            return True  # nothing changed: nothing written
        grid = settings.grid.model_copy(update={"backend": self.chosen()})
        try:
            self._services.save_settings(settings.model_copy(update={"grid": grid}))
        except (ValueError, OSError) as exc:
            self.message.error(f"Not saved: {one_line(exc)}")
            return False
        return True


# The wizard's size when it opens; every word of the seed phrase and every input fits it,
# also with 1.5× scaling (tests/gui/test_wizard_geometry.py).
DEFAULT_SIZE = (560, 440)


class FirstRunWizard(QWizard):
    def _estimate(self, services: GuiServices) -> None:
        from hostapp.earnings.pricing import UNIT_SYMBOL, current_estimate

        prices = services.prices
        if prices is None:
            return

        def show(_rate: object) -> None:
            estimate = current_estimate(
                (0, 0), prices.offered_price_per_second, services.settings.pricing.utilisation_percent
            )
            rate = prices.current()
            self.estimate_label.setText(estimate.text(services.token_decimals, UNIT_SYMBOL, rate) if estimate else "")

        run_in_background(prices.refresh, show, lambda _exc: None)

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
        self.phrase = PhraseStep(self.wallet)
        self.confirm = ConfirmStep(services, self.wallet, self.phrase)
        self.payout = PayoutStep(services)
        self.schedule = ScheduleStep(services)
        self.network = NetworkStep(services)
        self.page_ids: dict[QWizardPage, int] = {}
        for page in (self.checks, self.wallet, self.phrase, self.confirm, self.payout, self.schedule, self.network):
            self.page_ids[page] = self.addPage(page)
        # What this card should earn, from the grid's offered price (read off the GUI thread).
        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)
        self.done_page = _text_page(
            "Done",
            "hostapp now lives in your system tray. Its icon shows what it is doing: green working, "
            "blue waiting for work, amber paused (a game, your schedule, heat), grey offline, red an "
            "error that needs you. Right-click it to pause or resume; the dashboard shows earnings.",
            self.estimate_label,
        )
        self.page_ids[self.done_page] = self.addPage(self.done_page)
        self.currentIdChanged.connect(
            lambda page_id: self._estimate(services) if page_id == self.page_ids[self.done_page] else None
        )
        self.resize(*DEFAULT_SIZE)
