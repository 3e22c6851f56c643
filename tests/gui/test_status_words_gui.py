"""The tray and the Dashboard before a wallet exists: "Create a wallet to start", not "Waiting for
work" (no work comes without a key to sign it), also after a pause or resume before the node runs."""

from __future__ import annotations

import pytest

from hostapp.gui.viewmodels import NodeState, PauseChoice

pytestmark = [pytest.mark.gui, pytest.mark.keyring]


def test_without_a_wallet_tray_and_dashboard_say_create_a_wallet(tray_app, qtbot) -> None:
    from hostapp.gui.app import start_or_set_up

    asked: list[bool] = []
    start_or_set_up(tray_app.services, tray_app, lambda: asked.append(True))
    qtbot.waitUntil(lambda: asked == [True], timeout=20_000)  # the wizard would open now
    tray = tray_app.tray
    assert tray.status.state is NodeState.STOPPED
    assert tray.tray.toolTip().startswith("Create a wallet to start\nFix: ")
    page = tray_app.window.show_page("Dashboard")
    # The Dashboard, built before the app knew there was no wallet, hears it through node.state.
    qtbot.waitUntil(lambda: page.reason_label.text() == "Create a wallet to start", timeout=5_000)

    tray_app.services.node.resume()  # the tray's Resume before any node runs: the schedule file only
    qtbot.waitUntil(lambda: tray.tray.toolTip().startswith("Create a wallet to start"), timeout=5_000)
    assert "Waiting for work" not in tray.tray.toolTip() and page.reason_label.text() == "Create a wallet to start"
    tray_app.services.node.pause(PauseChoice.INDEFINITELY)
    qtbot.waitUntil(lambda: tray.status.state is NodeState.STOPPED, timeout=5_000)
    assert "Next change" not in tray.tray.toolTip()
