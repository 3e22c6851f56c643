"""Wallet: address with QR and copy, balances, payout address, create / import / export / withdraw.

Every wallet call goes through `WalletActions` (hostapp.wallet.service.WalletService underneath)
on a worker thread; results come back to the GUI thread, errors as a dialog with one line.
Dialogs open with `open()` (never a nested `exec()` loop), so each step is a callback and the
flow is the same under a test as in use.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
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

from hostapp.earnings.pricing import Rate, fee_text
from hostapp.gui.bridge import EventBridge
from hostapp.gui.pages.common import Coalesced, Message, ask, card, heading, show_error
from hostapp.gui.pages.earnings import current_rate, money_text, payout_state_text, plain_label
from hostapp.gui.viewmodels import Balances, CreatedWallet, WalletSummary, WithdrawalPlan, format_amount, one_line
from hostapp.gui.widgets.qr import QrCode
from hostapp.gui.wiring import GuiServices
from hostapp.gui.workers import run_in_background
from hostapp.wallet.backends import place_name


def _buttons(dialog: QDialog, cancel: bool = True) -> QDialogButtonBox:
    which = QDialogButtonBox.StandardButton.Ok
    if cancel:
        which |= QDialogButtonBox.StandardButton.Cancel
    buttons = QDialogButtonBox(which)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class BackupWordsDialog(QDialog):
    """Shows a new seed phrase once, then asks some of its words back (the service checks them).

    Without `created` (the app restarted before the backup was confirmed) it asks the words as
    "N:word, …", like `hostapp wallet create --confirm-words`, with the service's hint naming N.
    """

    def __init__(self, created: CreatedWallet | None, hint: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Back up your seed phrase")
        layout = QVBoxLayout(self)
        self.word_edits: dict[int, QLineEdit] = {}
        self.free_text: QLineEdit | None = None
        form = QFormLayout()
        if created is not None:
            layout.addWidget(
                QLabel(
                    "Write these words down, in order, and keep them offline.\n"
                    "Anyone with them controls this wallet; hostapp cannot recover them."
                )
            )
            words = QPlainTextEdit(created.phrase)
            words.setReadOnly(True)
            words.setMaximumHeight(80)
            layout.addWidget(words)
            layout.addWidget(QLabel("To check your copy, enter these words from it:"))
            for position in created.confirm_positions:
                edit = QLineEdit()
                edit.textChanged.connect(self._update)
                self.word_edits[position] = edit
                form.addRow(f"Word {position}", edit)
        else:
            label = QLabel(f"{hint}\nEnter them from your written copy as N:word, e.g. 3:apple, 7:river, 11:stone")
            label.setWordWrap(True)
            layout.addWidget(label)
            self.free_text = QLineEdit()
            self.free_text.textChanged.connect(self._update)
            form.addRow("Words", self.free_text)
        layout.addLayout(form)
        buttons = _buttons(self)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout.addWidget(buttons)
        self._update()

    def _update(self) -> None:
        self.ok_button.setEnabled(bool(self.answers()))

    def answers(self) -> dict[int, str]:
        if self.free_text is None:
            given = {p: e.text().strip() for p, e in self.word_edits.items()}
            return given if all(given.values()) else {}
        answers: dict[int, str] = {}
        for item in self.free_text.text().split(","):
            position, sep, word = item.partition(":")
            if not sep or not position.strip().isdigit() or not word.strip():
                return {}
            answers[int(position)] = word.strip()
        return answers


class ImportDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import a wallet")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Seed phrase (12–24 words), base58 private key, or solana-keygen JSON:"))
        self.secret = QPlainTextEdit()
        layout.addWidget(self.secret)
        layout.addWidget(_buttons(self))


class SecretDialog(QDialog):
    def __init__(self, secret: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Your wallet's secret")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Keep this offline. Anyone who sees it controls the wallet."))
        self.secret = QPlainTextEdit(secret)
        self.secret.setReadOnly(True)
        layout.addWidget(self.secret)
        layout.addWidget(_buttons(self, cancel=False))


# Solana's base fee per signature: what the dialog quotes before the exact fee is known (the plan
# asks the cluster). Opening a recipient's token account costs its rent on top (TOKEN_ACCOUNT_RENT).
TYPICAL_FEE_LAMPORTS = 5_000
TOKEN_ACCOUNT_RENT_LAMPORTS = 2_039_280


class WithdrawDialog(QDialog):
    """Asset, address, amount — with what is available, a Max button, the fee in SOL, grid tokens and
    money, and, when the wallet has no SOL for the fee, how much it needs and how to get it."""

    def __init__(
        self,
        symbol: str,
        balances: Balances | None,
        rate: Rate | None,
        address: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Withdraw")
        self._symbol, self._rate, self._address = symbol, rate, address
        self.balances = balances
        form = QFormLayout(self)
        self.asset = QComboBox()
        self.asset.addItem(f"{symbol} (grid token)", "token")
        self.asset.addItem("SOL", "SOL")
        self.available = plain_label()
        self.to_address = QLineEdit()
        self.amount = QLineEdit()
        self.amount.setPlaceholderText("e.g. 12.5")
        self.max_button = QPushButton("Max")
        self.max_button.clicked.connect(self.fill_max)
        amount_row = QHBoxLayout()
        amount_row.addWidget(self.amount, 1)
        amount_row.addWidget(self.max_button)
        self.fee_label = plain_label()
        self.fee_label.setWordWrap(True)
        self.sol_problem = plain_label()  # no SOL for the fee: how much, and how to get it
        self.sol_problem.setWordWrap(True)
        form.addRow("Asset", self.asset)
        form.addRow("Available", self.available)
        form.addRow("To address", self.to_address)
        form.addRow("Amount", amount_row)
        form.addRow("Network fee", self.fee_label)
        form.addRow(self.sol_problem)
        form.addRow(_buttons(self))
        self.asset.currentIndexChanged.connect(lambda _i: self.show_balances(self.balances))
        self.show_balances(balances)

    def _decimals(self) -> int:
        if self.asset.currentData() == "SOL":
            return 9
        return self.balances.token_decimals if self.balances is not None else 6

    def _available(self) -> int | None:
        if self.balances is None:
            return None
        if self.asset.currentData() == "SOL":
            return self.balances.sol_lamports
        return self.balances.token_base_units

    def show_balances(self, balances: Balances | None) -> None:
        self.balances = balances
        token = self.asset.currentData() == "token"
        available = self._available()
        decimals = self._decimals()
        if available is None:
            self.available.setText(balances.problem if balances and balances.problem else "reading the balance…")
        elif token:
            self.available.setText(money_text(available, decimals, self._symbol, self._rate))
        else:
            self.available.setText(format_amount(available, 9, "SOL"))
        self.max_button.setEnabled(bool(available))
        fee = fee_text(TYPICAL_FEE_LAMPORTS, self._token_decimals(), self._symbol, self._rate)
        rent = fee_text(TOKEN_ACCOUNT_RENT_LAMPORTS, self._token_decimals(), self._symbol, self._rate)
        self.fee_label.setText(
            f"about {fee}"
            + (f"; {rent} more if the recipient has no {self._symbol} account yet" if token else "")
            + ". The exact fee is shown before anything is sent."
        )
        sol = balances.sol_lamports if balances is not None else None
        if sol is not None and sol < TYPICAL_FEE_LAMPORTS:
            self.sol_problem.setText(
                f"This wallet has {format_amount(sol, 9, 'SOL')}: every withdrawal needs SOL for the network fee "
                f"(at least {format_amount(TYPICAL_FEE_LAMPORTS - sol, 9, 'SOL')} more, "
                f"{format_amount(TYPICAL_FEE_LAMPORTS + TOKEN_ACCOUNT_RENT_LAMPORTS - sol, 9, 'SOL')} if the "
                f"recipient has no {self._symbol} account yet). Payouts come in {self._symbol} only: send SOL to "
                f"this wallet ({self._address}) from an exchange or another wallet."
            )
        else:
            self.sol_problem.setText("")
        self.sol_problem.setVisible(bool(self.sol_problem.text()))

    def _token_decimals(self) -> int:
        return self.balances.token_decimals if self.balances is not None else 6

    def fill_max(self) -> None:
        """Everything: all the tokens, or all the SOL less the fee (the account may be emptied)."""
        available = self._available() or 0
        if self.asset.currentData() == "SOL":
            available = max(0, available - TYPICAL_FEE_LAMPORTS)
        self.amount.setText(format_amount(available, self._decimals()).replace(",", ""))


class _LinkMessage(Message):
    """Plain text (errors quote the chain and the keyring), except the one link this page writes itself."""

    def __init__(self) -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.PlainText)

    def ok(self, text: str) -> None:
        self.setTextFormat(Qt.TextFormat.PlainText)
        super().ok(text)

    def error(self, text: str) -> None:
        self.setTextFormat(Qt.TextFormat.PlainText)
        super().error(text)

    def link(self, prefix: str, url: str, text: str) -> None:
        self.setTextFormat(Qt.TextFormat.RichText)
        super().ok(f'{html.escape(prefix)}<a href="{html.escape(url)}">{html.escape(text)}</a>')


class WalletPage(QWidget):
    title = "Wallet"

    def __init__(self, services: GuiServices, bridge: EventBridge) -> None:
        super().__init__()
        self._services = services
        self.summary: WalletSummary | None = None
        self.dialog: QDialog | None = None  # the dialog of the running flow (tests drive it)
        self.error_box: QMessageBox | None = None
        self.question: QMessageBox | None = None  # the open Yes/No confirmation
        self.last_signature: str | None = None
        self.balances: Balances | None = None  # the last balances read, for the Withdraw dialog
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
        self.backup_label = QLabel()
        self.backup_label.setWordWrap(True)
        self.confirm_button = QPushButton("Confirm backup…")
        self.confirm_button.clicked.connect(self.confirm_backup)
        self.sol_label = QLabel("SOL: —")
        self.token_label = QLabel(f"{services.unit_symbol}: —")
        self.payout_state = plain_label()  # pending (credited, not yet on chain) vs paid, next payout
        self.balance_problem = plain_label()  # the RPC's words
        self.balance_problem.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh balances")
        self.refresh_button.clicked.connect(self.refresh_balances)
        for widget in (
            self.address_label,
            self.copy_button,
            self.backup_label,
            self.confirm_button,
            self.sol_label,
            self.token_label,
            self.payout_state,
            self.balance_problem,
            self.refresh_button,
        ):
            info.addWidget(widget)
        info.addStretch(1)
        top.addLayout(info, 1)
        frame = card(top)
        layout.addWidget(frame)

        payout = QHBoxLayout()
        self.payout_edit = QLineEdit()
        self.payout_edit.setPlaceholderText("optional: a cold wallet that receives payouts")
        self.save_payout_button = QPushButton("Save payout address")
        self.save_payout_button.clicked.connect(self.save_payout)
        payout.addWidget(QLabel("Payout address"))
        payout.addWidget(self.payout_edit, 1)
        payout.addWidget(self.save_payout_button)
        layout.addLayout(payout)

        actions = QHBoxLayout()
        self.action_buttons: dict[str, QPushButton] = {}
        for text, slot in (
            ("Create new…", self.create_wallet),
            ("Import…", self.import_wallet),
            ("Export…", self.export_wallet),
            ("Withdraw…", self.withdraw),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            self.action_buttons[text] = button
            actions.addWidget(button)
        actions.addStretch(1)
        layout.addLayout(actions)
        self.message = _LinkMessage()
        self.message.setOpenExternalLinks(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        layout.addWidget(self.message)
        layout.addStretch(1)

        self.show_address()
        self.show_payout_state()
        # What the node's events change, re-read only while on screen (hidden: once when next shown).
        self.address_changed = Coalesced(self, self.show_address)
        self.payouts_moved = Coalesced(self, self.show_payout_state, throttled=True)
        self.balance_moved = Coalesced(self, self.refresh_balances, throttled=True)
        bridge.on("wallet.*", self, self.address_changed.request)
        bridge.on("ledger.changed", self, self._on_ledger_changed)
        bridge.on("control.link", self, lambda _data: self._reattached())

    # -- display -------------------------------------------------------------------------
    def _reattached(self) -> None:
        """The node (re)attached: its wallet and its ledger, as they are now."""
        self.address_changed.request()
        self.payouts_moved.request()

    def show_address(self) -> None:
        wallet = self._services.wallet
        try:
            self.summary = wallet.summary() if wallet else None
        except ValueError as exc:
            self.summary = None
            self.message.error(one_line(exc))
        summary = self.summary
        self.address_label.setText(summary.address if summary else "No wallet yet: create or import one.")
        self.copy_button.setEnabled(summary is not None)
        self.qr.set_text(summary.address if summary else None)
        for name in ("Export…", "Withdraw…"):
            self.action_buttons[name].setEnabled(summary is not None)
        self.refresh_button.setEnabled(summary is not None)
        confirmed = summary is None or summary.backup_confirmed
        self.confirm_button.setVisible(not confirmed)
        if summary is None:
            self.backup_label.setText("")
        elif confirmed:
            self.backup_label.setText(f"Key kept in {place_name(summary.kept_in)}")
            self.backup_label.setToolTip(summary.kept_in)
        else:
            self.backup_label.setText("Seed phrase backup not confirmed: this wallet is not used until you confirm it.")
        if summary is not None and summary.payout_address != summary.address:
            self.payout_edit.setText(summary.payout_address)
        else:
            self.payout_edit.setText("")

    def copy_address(self) -> None:
        if self.summary is not None:
            QGuiApplication.clipboard().setText(self.summary.address)
            self.message.ok("Address copied")

    def refresh_balances(self) -> None:
        wallet = self._services.wallet
        if wallet is None or self.summary is None:
            return
        self.balance_problem.setText("Loading balances…")
        run_in_background(wallet.balances, self.show_balances, self._failed("Balances"))

    def show_balances(self, balances: Balances) -> None:
        self.balances = balances
        self.sol_label.setText(f"SOL: {format_amount(balances.sol_lamports, 9)}")
        token = balances.token_base_units
        amount = (
            money_text(token, balances.token_decimals, "", current_rate(self._services))
            if token is not None
            else format_amount(None, 0)
        )
        self.token_label.setText(f"{self._services.unit_symbol}: {amount}")
        self.balance_problem.setText(balances.problem or "")
        if isinstance(self.dialog, WithdrawDialog) and self.dialog.isVisible():
            self.dialog.show_balances(balances)

    def _failed(self, title: str, after: Callable[[], None] | None = None) -> Callable[[Exception], None]:
        def show(exc: Exception) -> None:
            self.error_box = show_error(self, title, one_line(exc))
            if after is not None:
                after()

        return show

    def _open(self, dialog: QDialog, on_accept: Callable[[], None]) -> QDialog:
        self.dialog = dialog
        dialog.accepted.connect(on_accept)
        dialog.open()
        return dialog

    # -- payout address --------------------------------------------------------------------
    def save_payout(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            return
        text = self.payout_edit.text().strip()
        self.save_payout_button.setEnabled(False)

        def saved(address: str) -> None:
            self.save_payout_button.setEnabled(True)
            if text:
                self.message.ok(f"Payout address saved: payouts go to {address}")
            else:
                self.message.ok("Payout address cleared: payouts go to this wallet")

        run_in_background(
            lambda: wallet.set_payout_address(text or None),
            saved,
            self._failed("Payout address not saved", lambda: self.save_payout_button.setEnabled(True)),
        )

    # -- create and confirm ------------------------------------------------------------------
    def create_wallet(self) -> None:
        if self._services.wallet is None:
            return
        if self.summary is not None:
            self.question = ask(
                self,
                "Replace the wallet?",
                "This PC already has a wallet. Export its seed phrase first if it holds funds: "
                "a new wallet replaces it here.",
                lambda: self._create(replace=True),
            )
            return
        self._create(replace=False)

    def _create(self, replace: bool) -> None:
        wallet = self._services.wallet
        assert wallet is not None
        run_in_background(lambda: wallet.create(replace=replace), self._created, self._failed("Wallet not created"))

    def _created(self, created: CreatedWallet) -> None:
        self.show_address()
        dialog = BackupWordsDialog(created, parent=self)
        self._open(dialog, lambda: self._send_answers(dialog.answers()))

    def confirm_backup(self) -> None:
        """The app restarted before the backup was confirmed: ask the words the service names."""
        wallet = self._services.wallet
        if wallet is None:
            return

        def ask_words(exc: Exception) -> None:
            dialog = BackupWordsDialog(None, hint=one_line(exc), parent=self)
            self._open(dialog, lambda: self._send_answers(dialog.answers()))

        # With no answers the service says which word positions it wants.
        run_in_background(lambda: wallet.confirm_backup({}), lambda _address: self.show_address(), ask_words)

    def _send_answers(self, answers: dict[int, str]) -> None:
        wallet = self._services.wallet
        assert wallet is not None

        def confirmed(address: str) -> None:
            self.show_address()
            self.message.ok(f"Backup confirmed: wallet {address} is ready")

        run_in_background(
            lambda: wallet.confirm_backup(answers),
            confirmed,
            self._failed("Backup not confirmed", self.show_address),
        )

    # -- import / export ---------------------------------------------------------------------
    def import_wallet(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            return
        dialog = ImportDialog(self)
        replace = self.summary is not None

        def start() -> None:
            text = dialog.secret.toPlainText()
            run_in_background(
                lambda: wallet.import_secret(text, replace=replace), self._imported, self._failed("Not imported")
            )

        if replace:
            self.question = ask(
                self,
                "Replace the wallet?",
                "This PC already has a wallet. Export its seed phrase first if it holds funds: "
                "the imported wallet replaces it here.",
                lambda: self._open(dialog, start),
            )
        else:
            self._open(dialog, start)

    def _imported(self, address: str) -> None:
        self.show_address()
        self.message.ok(f"Wallet {address} imported")

    def export_wallet(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            return
        self.question = ask(
            self,
            "Show the secret?",
            "The seed phrase or private key will be shown on screen. Anyone who sees it controls this "
            "wallet. Continue?",
            lambda: run_in_background(wallet.export_secret, self._show_secret, self._failed("Not exported")),
        )

    def _show_secret(self, secret: str) -> None:
        self._open(SecretDialog(secret, self), lambda: None)

    # -- withdraw ------------------------------------------------------------------------------
    def withdraw(self) -> None:
        wallet = self._services.wallet
        if wallet is None:
            return
        address = self.summary.address if self.summary is not None else ""
        dialog = WithdrawDialog(self._services.unit_symbol, self.balances, current_rate(self._services), address, self)
        self.refresh_balances()  # the dialog shows them as they come

        def plan() -> None:
            asset = str(dialog.asset.currentData())
            to, amount = dialog.to_address.text(), dialog.amount.text()
            self.message.setText("Preparing the withdrawal…")
            run_in_background(
                lambda: wallet.plan_withdrawal(asset, to, amount), self._confirm_plan, self._withdraw_failed
            )

        self._open(dialog, plan)

    def _withdraw_failed(self, exc: Exception) -> None:
        """An error replaces the progress line ("Preparing…", "Sending…"): nothing stays that is no longer true."""
        self.message.error(f"Not sent: {one_line(exc)}")
        self._failed("Not sent")(exc)

    def _confirm_plan(self, plan: WithdrawalPlan) -> None:
        wallet = self._services.wallet
        assert wallet is not None
        self.message.setText("")
        decimals = self.balances.token_decimals if self.balances is not None else self._services.token_decimals
        symbol, rate = self._services.unit_symbol, current_rate(self._services)
        fee = f"Network fee: {fee_text(plan.fee_lamports, decimals, symbol, rate)}"
        if plan.rent_lamports:
            fee += f"; opening the recipient's account: {fee_text(plan.rent_lamports, decimals, symbol, rate)}"
        text = plan.summary[:1].upper() + plan.summary[1:] + f".\n{fee}.\n\nThis cannot be undone. Send?"

        def send() -> None:
            self.message.setText("Sending the withdrawal…")
            run_in_background(lambda: wallet.send_withdrawal(plan), self._sent, self._withdraw_failed)

        self.question = ask(self, "Send?", text, send)

    def _sent(self, signature: str) -> None:
        self.last_signature = signature
        url = self._services.explorer_url(signature)
        if url:
            self.message.link("Sent: ", url, signature)
        else:
            self.message.ok(f"Sent: {signature}")
        self.refresh_balances()

    def _on_ledger_changed(self, data: dict[str, object]) -> None:
        self.payouts_moved.request()
        if data.get("status") == "paid":  # a payout confirmed on chain: the balance moved
            self.balance_moved.request()

    def show_payout_state(self) -> None:
        queries = self._services.earnings()
        try:
            state = queries.payout_state()
        finally:
            queries.close()
        self.payout_state.setText(
            payout_state_text(
                state, self._services.token_decimals, self._services.unit_symbol, rate=current_rate(self._services)
            )
        )
