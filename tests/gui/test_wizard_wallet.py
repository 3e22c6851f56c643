"""The first-run wizard creates a wallet in the real Secret Service and saves payout + schedule."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from hostapp.schedule.grid import Preset
from hostapp.schedule.policy_file import load_policy, policy_path
from hostapp.wallet.secrets import SecretStore
from hostapp.wallet.seed import from_mnemonic

pytestmark = [pytest.mark.gui, pytest.mark.keyring]

COLD_WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


def test_wizard_creates_wallet_in_keyring_and_saves_payout_and_schedule(gui_services, qtbot) -> None:
    from hostapp.gui.wizard import FirstRunWizard

    wizard = FirstRunWizard(gui_services)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()  # welcome → checks
    qtbot.waitUntil(lambda: wizard.checks.isComplete(), timeout=60_000)
    wizard.next()  # → wallet
    assert not wizard.wallet.isComplete()
    qtbot.mouseClick(wizard.wallet.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.wallet.address is not None, timeout=30_000)
    assert not wizard.wallet.isComplete()  # the seed backup must be confirmed first
    wizard.wallet.backup_confirmed.setChecked(True)
    assert wizard.wallet.isComplete()

    phrase = wizard.wallet.phrase.toPlainText()
    secrets = SecretStore(gui_services.paths)
    record = secrets.read_record()
    assert record is not None and record.pubkey == wizard.wallet.address
    assert "SecretService" in record.backend
    assert secrets.load(record).pubkey == from_mnemonic(phrase).pubkey  # really in the keyring

    wizard.next()  # → payout
    wizard.payout.address.setText("not-an-address")
    wizard.next()
    assert wizard.currentPage() is wizard.payout and "not a Solana address" in wizard.payout.message.text()
    wizard.payout.address.setText(COLD_WALLET)
    wizard.next()  # → schedule
    assert gui_services.paths.settings_file.read_text().count(COLD_WALLET) == 1
    wizard.schedule.buttons[Preset.WHEN_IDLE].setChecked(True)
    wizard.next()  # → done
    assert load_policy(policy_path(gui_services.paths)).grid == Preset.WHEN_IDLE.grid()


def test_wallet_page_shows_address_qr_and_refuses_bad_payout(gui_services, qtbot) -> None:
    from hostapp.gui.bridge import EventBridge
    from hostapp.gui.pages.wallet import WalletPage

    address = gui_services.wallet.import_secret(
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
    )
    bridge = EventBridge(gui_services.bus)
    page = WalletPage(gui_services, bridge)
    qtbot.addWidget(page)
    assert page.address_label.text() == address and page.qr.matrix
    page.copy_address()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == address
    page.payout_edit.setText("xyz")
    page.save_payout()
    assert page.message.text().startswith("Payout address not saved:")
    assert gui_services.settings.payout_address is None
    bridge.close()
