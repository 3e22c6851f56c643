"""Wallet: address with QR and copy, balances, payout address, create / import / export / withdraw."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hostapp.gui.bridge import EventBridge
from hostapp.gui.pages.common import Message, card, heading
from hostapp.gui.viewmodels import Balances, format_amount, parse_amount
from hostapp.gui.widgets.qr import QrCode
from hostapp.gui.wiring import GuiServices
from hostapp.gui.workers import run_in_background


class SeedBackupDialog(QDialog):
    """Shows a new seed phrase once; OK only after the user confirms the written backup."""

    def __init__(self, phrase: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Back up your seed phrase")
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Write these words down, in order, and keep them offline.\n"
                "Anyone with them controls this wallet; hostapp cannot recover them."
            )
        )
        words = QPlainTextEdit(phrase)
        words.setReadOnly(True)
        layout.addWidget(words)
        self.confirm = QCheckBox("I have written the seed phrase down")
        layout.addWidget(self.confirm)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setEnabled(False)
        self.confirm.toggled.connect(self.ok_button.setEnabled)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)


class ImportDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import a wallet")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Seed phrase (12–24 words), base58 private key, or solana-keygen JSON:"))
        self.secret = QPlainTextEdit()
        layout.addWidget(self.secret)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class WithdrawDialog(QDialog):
    def __init__(self, decimals: int, symbol: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Withdraw")
        form = QFormLayout(self)
        self.to_address = QLineEdit()
        self.amount = QLineEdit()
        self.amount.setPlaceholderText(f"e.g. 12.5 {symbol}")
        form.addRow("To address", self.to_address)
        form.addRow("Amount", self.amount)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class WalletPage(QWidget):
    title = "Wallet"

    def __init__(self, services: GuiServices, bridge: EventBridge) -> None:
        super().__init__()
        self._services = services
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Wallet"))

        top = QHBoxLayout()
        self.qr = QrCode()
        top.addWidget(self.qr)
        info = QVBoxLayout()
        self.address_label = QLabel()
        self.address_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy address")
        self.copy_button.clicked.connect(self.copy_address)
        self.sol_label = QLabel("SOL: —")
        self.token_label = QLabel(f"{services.unit_symbol}: —")
        self.balance_problem = QLabel()
        self.balance_problem.setWordWrap(True)
        refresh = QPushButton("Refresh balances")
        refresh.clicked.connect(self.refresh_balances)
        for widget in (
            self.address_label,
            self.copy_button,
            self.sol_label,
            self.token_label,
            self.balance_problem,
            refresh,
        ):
            info.addWidget(widget)
        info.addStretch(1)
        top.addLayout(info, 1)
        frame = card()
        frame.layout().addLayout(top)  # type: ignore[union-attr]
        layout.addWidget(frame)

        payout = QHBoxLayout()
        self.payout_edit = QLineEdit(services.settings.payout_address or "")
        self.payout_edit.setPlaceholderText("optional: a cold wallet that receives payouts")
        save_payout = QPushButton("Save payout address")
        save_payout.clicked.connect(self.save_payout)
        payout.addWidget(QLabel("Payout address"))
        payout.addWidget(self.payout_edit, 1)
        payout.addWidget(save_payout)
        layout.addLayout(payout)

        actions = QHBoxLayout()
        for text, slot in (
            ("Create new…", self.create_wallet),
            ("Import…", self.import_wallet),
            ("Export…", self.export_wallet),
            ("Withdraw…", self.withdraw),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            actions.addWidget(button)
        actions.addStretch(1)
        layout.addLayout(actions)
        self.message = Message()
        layout.addWidget(self.message)
        layout.addStretch(1)

        self.show_address()
        bridge.on("wallet.*", self, lambda _data: self.show_address())
        bridge.on("payout.*", self, lambda _data: self.refresh_balances())

    # -- display -------------------------------------------------------------------------
    def show_address(self) -> None:
        wallet = self._services.wallet
        address = wallet.address() if wallet else None
        self.address_label.setText(address or "No wallet yet: create or import one.")
        self.copy_button.setEnabled(bool(address))
        self.qr.set_text(address)

    def copy_address(self) -> None:
        wallet = self._services.wallet
        address = wallet.address() if wallet else None
        if address:
            QGuiApplication.clipboard().setText(address)
            self.message.ok("Address copied")

    def refresh_balances(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            return
        self.balance_problem.setText("Loading balances…")
        run_in_background(wallet.balances, self.show_balances, self._failed)

    def show_balances(self, balances: Balances) -> None:
        self.sol_label.setText(f"SOL: {format_amount(balances.sol_lamports, 9)}")
        self.token_label.setText(
            f"{self._services.unit_symbol}: {format_amount(balances.token_base_units, balances.token_decimals)}"
        )
        self.balance_problem.setText(balances.problem or "")

    def _failed(self, exc: Exception) -> None:
        self.message.error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        self.balance_problem.setText("")

    # -- actions -------------------------------------------------------------------------
    def save_payout(self) -> None:
        text = self.payout_edit.text().strip()
        try:
            address = self._services.wallet.validate_address(text) if (text and self._services.wallet) else None
        except ValueError as exc:
            self.message.error(f"Payout address not saved: {exc}")
            return
        settings = self._services.settings.model_copy(update={"payout_address": address})
        self._services.save_settings(settings)
        self._services.settings = settings
        self.message.ok("Payout address saved" if address else "Payout address cleared: payouts go to this wallet")

    def create_wallet(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            return
        if wallet.address() and not self._confirm(
            "Replace the wallet?",
            "This PC already has a wallet. Export its seed phrase first if it holds "
            "funds: a new wallet replaces it here.",
        ):
            return
        run_in_background(wallet.create, self._created, self._failed)

    def _created(self, result: tuple[str, str]) -> None:
        address, phrase = result
        SeedBackupDialog(phrase, self).exec()
        self.show_address()
        self.message.ok(f"Wallet {address} created and stored in the keyring")

    def import_wallet(self) -> None:
        wallet = self._services.wallet
        dialog = ImportDialog(self)
        if wallet is None or dialog.exec() != QDialog.DialogCode.Accepted:
            return
        text = dialog.secret.toPlainText()
        run_in_background(lambda: wallet.import_secret(text), self._imported, self._failed)

    def _imported(self, address: Any) -> None:
        self.show_address()
        self.message.ok(f"Wallet {address} imported")

    def export_wallet(self) -> None:
        wallet = self._services.wallet
        if wallet is None or not self._confirm(
            "Show the secret?",
            "The seed phrase or private key will be shown on screen. Anyone who sees it "
            "controls this wallet. Continue?",
        ):
            return
        run_in_background(wallet.export_secret, self._show_secret, self._failed)

    def _show_secret(self, secret: str) -> None:
        SeedBackupDialog(secret, self).exec()

    def withdraw(self) -> None:
        wallet = self._services.wallet
        dialog = WithdrawDialog(self._services.token_decimals, self._services.unit_symbol, self)
        if wallet is None or dialog.exec() != QDialog.DialogCode.Accepted:
            return
        try:
            to = wallet.validate_address(dialog.to_address.text())
            amount = parse_amount(dialog.amount.text(), self._services.token_decimals)
        except ValueError as exc:
            self.message.error(f"Not sent: {exc}")
            return
        shown = format_amount(amount, self._services.token_decimals, self._services.unit_symbol)
        if not self._confirm("Send?", f"Send {shown} to {to}? This cannot be undone."):
            return
        run_in_background(
            lambda: wallet.withdraw(to, amount), lambda sig: self.message.ok(f"Sent: {sig}"), self._failed
        )

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes
