"""Issue #17 "Money": every token amount beside its value in the user's currency, with the rate's age;
an estimate per day; the Earnings summary on every ledger change; a Withdraw dialog that says what is
available, fills Max, prices the fee and says how to get missing SOL. Real parts throughout: the
embedded grid over loopback HTTP declares the rate, LiteSVM is the chain, the keyring is real."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from solders.keypair import Keypair

from hostapp.chain import LocalChain, default_state_dir
from hostapp.earnings.pricing import PriceSource
from hostapp.localgrid.server import GridConfig, LocalGrid
from hostapp.node.ledger import Ledger

pytestmark = [pytest.mark.gui]

ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


@pytest.fixture
def demo_grid(tmp_path: Path):  # type: ignore[no-untyped-def]
    with LocalGrid(tmp_path / "grid", config=GridConfig(demo_feed=True)) as grid:
        yield grid


def test_dashboard_and_earnings_show_money_from_the_grid_rate_with_its_age_and_an_estimate(
    gui_services, demo_grid, qtbot, node_store, node_daemon
) -> None:
    from hostapp.gui.bridge import EventBridge
    from hostapp.gui.pages.dashboard import DashboardPage
    from hostapp.gui.pages.earnings import EarningsPage

    # The node's grid is the demo grid. The tray asks the node for the rate (`grid.price`), and the node
    # asks its grid: the tray opens no HTTP client of its own.
    node_daemon.services.settings.grid.url = demo_grid.url
    services = gui_services
    bridge = EventBridge(services.bus)
    dashboard, earnings = DashboardPage(services, bridge), EarningsPage(services, bridge)
    qtbot.addWidget(dashboard)
    qtbot.addWidget(earnings)
    dashboard.show()  # on screen: a hidden page refreshes only when next shown
    earnings.show()
    # The demo grid's rate ($0.05 per token), asked off the GUI thread; its age is said.
    qtbot.waitUntil(lambda: dashboard.rate_label.text() == "1 GRID ≈ $0.05 (grid rate from just now)", timeout=15_000)
    # Before the first job: the grid's offered price (0.001 GRID/s) × a day × 50 % busy.
    assert dashboard.estimate_label.text() == (
        "This card earns about $2.16 (43.2 GRID)/day at the current rate (grid's offered price, 50% busy)"
    )
    assert dashboard.wallet_label.text() == "Wallet: no wallet yet"
    earnings.refresh()
    assert earnings.summary.text().startswith("7 days: 0.00 GRID ≈ $0.00 earned")

    ledger = Ledger(node_store, services.bus)  # publishes ledger.changed: both pages refresh on it
    now = time.time()
    ledger.start("job-1", 1, "GPU-abc", 1000, started_at=now - 1800)
    ledger.credit("job-1", 1, 1800, 3_000_000, ended_at=now - 60)  # 3 GRID in the last half hour
    qtbot.waitUntil(lambda: dashboard.fiat_labels["today"].text() == "≈ $0.15")
    assert dashboard.earnings_labels["all"].text() == "3.00 GRID" and dashboard.fiat_labels["all"].text() == "≈ $0.15"
    assert dashboard.payout_state.text() == "Paid 0.00 GRID ≈ $0.00 · pending 3.00 GRID ≈ $0.15"
    # The node's own recent rate now: 3 GRID in 30 min → 144 GRID a day.
    assert dashboard.estimate_label.text() == (
        "This card earns about $7.20 (144 GRID)/day at the current rate (from your last 30 min)"
    )
    # The Earnings summary follows the ledger without a click on a range button.
    qtbot.waitUntil(lambda: earnings.summary.text().startswith("7 days: 3.00 GRID ≈ $0.15 earned"))
    assert earnings.payout_state.text() == dashboard.payout_state.text()
    assert earnings.rate_label.text() == "1 GRID ≈ $0.05 (grid rate from just now)"
    bridge.close()


def test_before_the_embedded_grid_runs_its_declared_rate_and_offer_are_shown(gui_services, qtbot) -> None:
    from hostapp.gui.bridge import EventBridge
    from hostapp.gui.pages.dashboard import DashboardPage

    bridge = EventBridge(gui_services.bus)
    page = DashboardPage(gui_services, bridge)  # the node has not started the embedded grid yet
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.rate_label.text() == "1 GRID ≈ $0.05 (grid rate from just now)", timeout=15_000)
    assert page.estimate_label.text().startswith("This card earns about $2.16 (43.2 GRID)/day")
    bridge.close()


def test_a_grid_that_does_not_answer_leaves_no_rate_and_says_why(gui_services, node_daemon) -> None:
    node_daemon.services.settings.grid.url = "http://127.0.0.1:9"  # nothing listens there
    prices = gui_services.prices
    assert prices is not None
    assert prices.refresh() is None
    assert (prices.problem or "").startswith("exchange rate not updated: the grid did not answer")


def test_with_pricing_off_amounts_stay_in_tokens_and_say_why(gui_services, qtbot) -> None:
    from hostapp.gui.bridge import EventBridge
    from hostapp.gui.pages.dashboard import DashboardPage

    settings = gui_services.settings.model_copy(deep=True)
    settings.pricing.source = "off"
    gui_services.save_settings(settings)
    bridge = EventBridge(gui_services.bus)
    page = DashboardPage(gui_services, bridge)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.wallet_label.text() == "Wallet: no wallet yet", timeout=15_000)  # refreshed
    assert page.rate_label.text().startswith("No exchange rate: amounts are in tokens only")
    assert page.fiat_labels["today"].text() == "" and page.earnings_labels["today"].text() == "0.00 GRID"
    bridge.close()


@pytest.fixture
def wallet_page(gui_services, no_embedded_grid, qtbot):  # type: ignore[no-untyped-def]
    from hostapp.gui.bridge import EventBridge
    from hostapp.gui.pages.wallet import WalletPage

    settings = gui_services.settings.model_copy(deep=True)  # a fixed rate: $0.05 per GRID, $150 per SOL
    settings.pricing.source, settings.pricing.currency = "fixed", "USD"
    settings.pricing.minor_units_per_token, settings.pricing.sol_minor_units_per_sol = 5, 15_000
    gui_services.save_settings(settings)
    services = dataclasses.replace(gui_services, prices=PriceSource(gui_services.settings))
    bridge = EventBridge(services.bus)
    page = WalletPage(services, bridge)
    qtbot.addWidget(page)
    yield page
    bridge.close()


@pytest.mark.keyring
@pytest.mark.slow
def test_withdraw_dialog_max_fee_in_money_missing_sol_and_no_stale_progress(gui_services, wallet_page, qtbot) -> None:
    page = wallet_page
    address = gui_services.wallet.import_secret(ABANDON)
    page.show_address()
    destination = str(Keypair().pubkey())
    with LocalChain(default_state_dir(gui_services.paths)) as chain:
        chain.pay(address, 4_500_000)  # payouts arrive in the grid token only: no SOL yet
        page.refresh_balances()
        # 4.5 × 5 ¢ = 22.5 ¢: half to even at display, $0.22
        qtbot.waitUntil(lambda: page.token_label.text() == "GRID: 4.50 ≈ $0.22", timeout=15_000)

        page.withdraw()
        dialog = page.dialog
        qtbot.waitUntil(lambda: dialog.available.text() == "4.50 GRID ≈ $0.22", timeout=15_000)
        assert dialog.fee_label.text().startswith("about 0.000005 SOL ≈ 0.015 GRID ≈ <$0.01; 0.00203928 SOL")
        assert dialog.sol_problem.text().startswith(
            "This wallet has 0.00 SOL: every withdrawal needs SOL for the network fee (at least 0.000005 SOL more, "
            "0.00204428 SOL if the recipient has no GRID account yet)."
        )
        problem = dialog.sol_problem.text()
        assert address in problem and "from an exchange or another wallet" in problem
        dialog.max_button.click()
        assert dialog.amount.text() == "4.50"
        dialog.to_address.setText(destination)
        dialog.accept()
        qtbot.waitUntil(lambda: page.error_box is not None, timeout=15_000)
        # Exactly how much SOL is missing and how to get it; the progress line is gone.
        assert "0.00204428 SOL needed" in page.error_box.text()
        assert f"send at least 0.00204428 SOL to this wallet ({address})" in page.error_box.text()
        assert "Preparing" not in page.message.text() and page.message.text().startswith("Not sent: not enough SOL")
        page.error_box.accept()

        chain.airdrop(address, 10_000_000)  # what the embedded grid gives a new node
        page.refresh_balances()
        qtbot.waitUntil(lambda: page.sol_label.text() == "SOL: 0.01", timeout=15_000)
        page.withdraw()
        dialog = page.dialog
        assert dialog.sol_problem.text() == "" and dialog.sol_problem.isHidden()
        dialog.asset.setCurrentIndex(dialog.asset.findData("SOL"))
        assert dialog.available.text() == "0.01 SOL"
        dialog.max_button.click()
        assert dialog.amount.text() == "0.009995"  # all of it less the fee
        dialog.asset.setCurrentIndex(dialog.asset.findData("token"))
        dialog.max_button.click()
        dialog.to_address.setText(destination)
        dialog.accept()
        qtbot.waitUntil(lambda: page.question is not None and page.question.windowTitle() == "Send?", timeout=15_000)
        text = page.question.text()
        assert "Network fee: 0.000005 SOL ≈ 0.015 GRID ≈ <$0.01" in text
        assert "opening the recipient's account: 0.00203928 SOL ≈ 6.11784 GRID ≈ $0.31" in text
        page.question.button(QMessageBox.StandardButton.Yes).click()
        qtbot.waitUntil(lambda: page.last_signature is not None, timeout=30_000)
        # The local chain's RPC process lands the transfer a moment after it hands back the signature.
        qtbot.waitUntil(lambda: chain.token_balance(destination) == 4_500_000, timeout=15_000)


def test_wizard_last_page_estimates_the_day_from_the_grid_offer(gui_services, qtbot) -> None:
    from hostapp.gui.wizard import FirstRunWizard

    wizard = FirstRunWizard(gui_services)
    qtbot.addWidget(wizard)
    assert wizard.estimate_label.text() == ""
    wizard.setStartId(wizard.page_ids[wizard.done_page])  # the last page, as after the schedule step
    wizard.restart()
    qtbot.waitUntil(
        lambda: (
            wizard.estimate_label.text()
            == "This card earns about $2.16 (43.2 GRID)/day at the current rate (grid's offered price, 50% busy)"
        ),
        timeout=15_000,
    )
