"""The wizard and the wallet page through the core WalletService: real Secret Service, LiteSVM chain."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from solders.keypair import Keypair

from hostapp.chain import LocalChain, default_state_dir
from hostapp.schedule.grid import Preset
from hostapp.schedule.policy_file import load_policy, policy_path
from hostapp.wallet.secrets import SecretStore
from hostapp.wallet.seed import from_mnemonic

pytestmark = [pytest.mark.gui, pytest.mark.keyring]

COLD_WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def test_wizard_creates_wallet_confirms_backup_and_saves_payout_and_schedule(gui_services, qtbot) -> None:
    from hostapp.gui.wizard import FirstRunWizard

    wizard = FirstRunWizard(gui_services)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()  # welcome → checks
    qtbot.waitUntil(lambda: wizard.checks.isComplete(), timeout=60_000)
    wizard.next()  # → wallet
    step = wizard.wallet
    assert not step.isComplete()
    qtbot.mouseClick(step.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.phrase, timeout=30_000)  # straight to the words
    labels = [label.text() for label in wizard.phrase.word_labels]
    assert [label.split(". ")[0] for label in labels] == [str(n) for n in range(1, 13)]
    words = [label.split(". ")[1] for label in labels]

    secrets = SecretStore(gui_services.paths)
    record = secrets.read_record()
    assert record is not None and record.pubkey == step.address and not record.backup_confirmed
    assert "SecretService" in record.backend
    assert secrets.load(record).pubkey == from_mnemonic(" ".join(words)).pubkey  # really in the keyring

    wizard.next()  # → confirm, on its own page
    confirm = wizard.confirm
    assert wizard.currentPage() is confirm and not confirm.isComplete()
    assert len(confirm.word_edits) == 3
    assert [confirm.words_form.itemAt(i, confirm.words_form.ItemRole.LabelRole).widget().text() for i in range(3)] == [
        f"Word {p}" for p in record.confirm_positions
    ]
    for edit in confirm.word_edits.values():
        edit.setText("wrong")
    confirm.check_words()
    qtbot.waitUntil(lambda: "does not match" in confirm.message.text(), timeout=10_000)
    assert not confirm.isComplete() and confirm.check_button.isEnabled()  # corrected and checked again
    for position, edit in confirm.word_edits.items():
        edit.setText(words[position - 1])
    confirm.check_words()
    qtbot.waitUntil(confirm.isComplete, timeout=10_000)
    assert secrets.read_record().backup_confirmed  # type: ignore[union-attr]
    assert wizard.phrase.word_labels == []  # shown once

    wizard.next()  # → payout
    wizard.payout.address.setText("not-an-address")
    wizard.next()
    assert wizard.currentPage() is wizard.payout and "not a Solana address" in wizard.payout.message.text()
    wizard.payout.address.setText(COLD_WALLET)
    wizard.next()  # → schedule
    assert json.loads(gui_services.paths.settings_file.read_text())["payout_address"] == COLD_WALLET
    assert gui_services.settings.payout_address == COLD_WALLET  # the shared settings object, not a copy
    schedule = wizard.schedule
    assert "Mon–Fri 18:00–08:00" in schedule.buttons[Preset.NIGHTS_AND_WEEKENDS].text()
    assert "10 min" in schedule.buttons[Preset.WHEN_IDLE].text()
    assert "game" in schedule.games_note.text()
    assert schedule.autostart.isChecked() and schedule.autostart.isEnabled()  # start at login: yes by default
    schedule.buttons[Preset.WHEN_IDLE].setChecked(True)
    wizard.next()  # → done
    assert load_policy(policy_path(gui_services.paths)).grid == Preset.WHEN_IDLE.grid()
    assert gui_services.autostart().is_enabled()  # a real XDG autostart entry, in this test's folder


def test_wizard_import_skips_the_phrase_pages_and_start_at_login_can_be_declined(gui_services, qtbot) -> None:
    from hostapp.gui.wizard import FirstRunWizard

    wizard = FirstRunWizard(gui_services)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    qtbot.waitUntil(lambda: wizard.checks.isComplete(), timeout=60_000)
    wizard.next()  # → wallet
    wizard.wallet.import_text.setText(ABANDON)
    wizard.wallet.import_wallet()
    qtbot.waitUntil(wizard.wallet.isComplete, timeout=10_000)
    wizard.next()
    assert wizard.currentPage() is wizard.payout  # an imported phrase was written down already
    wizard.next()
    wizard.schedule.autostart.setChecked(False)
    wizard.next()
    assert not gui_services.autostart().is_enabled()


@pytest.fixture
def wallet_page(gui_services, no_embedded_grid, qtbot):  # type: ignore[no-untyped-def]
    from hostapp.gui.bridge import EventBridge
    from hostapp.gui.pages.wallet import WalletPage

    bridge = EventBridge(gui_services.bus)
    page = WalletPage(gui_services, bridge)
    qtbot.addWidget(page)
    yield page
    bridge.close()


def _yes(page) -> None:  # type: ignore[no-untyped-def]
    page.question.button(QMessageBox.StandardButton.Yes).click()


def test_wallet_page_imports_shows_qr_payout_and_errors_as_dialogs(gui_services, wallet_page, qtbot) -> None:
    page = wallet_page
    assert page.summary is None and not page.action_buttons["Withdraw…"].isEnabled()
    page.import_wallet()
    page.dialog.secret.setPlainText("twelve words that are not a seed phrase at all in any way ok")
    page.dialog.accept()
    qtbot.waitUntil(lambda: page.error_box is not None, timeout=10_000)
    assert page.error_box.windowTitle() == "Not imported" and "\n" not in page.error_box.text()
    page.error_box.accept()

    page.import_wallet()
    page.dialog.secret.setPlainText(ABANDON)
    page.dialog.accept()
    address = from_mnemonic(ABANDON).pubkey
    qtbot.waitUntil(lambda: page.address_label.text() == address, timeout=10_000)
    assert page.qr.matrix and page.action_buttons["Withdraw…"].isEnabled()
    page.copy_address()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == address

    page.error_box = None
    page.payout_edit.setText("xyz")
    page.save_payout()
    qtbot.waitUntil(lambda: page.error_box is not None, timeout=5_000)
    assert page.error_box.windowTitle() == "Payout address not saved"
    assert gui_services.settings.payout_address is None
    page.payout_edit.setText(COLD_WALLET)
    page.save_payout()
    qtbot.waitUntil(lambda: page.message.text().startswith("Payout address saved"), timeout=5_000)
    assert gui_services.settings.payout_address == COLD_WALLET
    assert json.loads(gui_services.paths.settings_file.read_text())["payout_address"] == COLD_WALLET

    page.export_wallet()  # a confirmation first, then the secret
    assert page.question.windowTitle() == "Show the secret?" and type(page.dialog).__name__ != "SecretDialog"
    _yes(page)
    qtbot.waitUntil(lambda: type(page.dialog).__name__ == "SecretDialog", timeout=10_000)
    assert page.dialog.secret.toPlainText() == ABANDON


@pytest.mark.slow
def test_wallet_page_balances_and_withdraw_with_fee_on_the_local_chain(gui_services, wallet_page, qtbot) -> None:
    page = wallet_page
    address = gui_services.wallet.import_secret(ABANDON)
    page.show_address()
    destination = str(Keypair().pubkey())
    with LocalChain(default_state_dir(gui_services.paths)) as chain:
        chain.airdrop(address, 3 * 10**9)
        chain.pay(address, 4_500_000)
        page.refresh_balances()
        qtbot.waitUntil(lambda: page.sol_label.text() == "SOL: 3.00", timeout=15_000)
        assert page.token_label.text() == "GRID: 4.50" and page.balance_problem.text() == ""

        page.withdraw()
        page.dialog.asset.setCurrentIndex(page.dialog.asset.findData("SOL"))
        page.dialog.to_address.setText(destination)
        page.dialog.amount.setText("10")
        page.dialog.accept()
        qtbot.waitUntil(lambda: page.error_box is not None, timeout=15_000)
        assert "not enough SOL" in page.error_box.text()
        page.error_box.accept()

        page.withdraw()
        page.dialog.to_address.setText(destination)  # the grid token, the default asset
        page.dialog.amount.setText("1.5")
        page.dialog.accept()
        qtbot.waitUntil(lambda: page.question is not None and page.question.windowTitle() == "Send?", timeout=15_000)
        assert "network fee 0.000005 SOL" in page.question.text()
        assert "to open the recipient's token account" in page.question.text()
        assert chain.token_balance(destination) == 0  # nothing sent before Yes
        _yes(page)
        qtbot.waitUntil(lambda: page.last_signature is not None, timeout=30_000)
        assert chain.token_balance(destination) == 1_500_000
        assert chain.token_balance(address) == 3_000_000
        assert page.last_signature in page.message.text()  # localnet: the signature, no explorer link
        assert "href" not in page.message.text()
        qtbot.waitUntil(lambda: page.token_label.text() == "GRID: 3.00", timeout=15_000)
