"""`hostapp gui`'s start: tray first, then the link to the node process, which starts working once a
wallet is ready; else the wizard. Real Secret Service, real Docker, the embedded local grid and chain;
the node's control side (hostapp/node/daemon.py) runs in this process, the tray reaches it over its socket."""

from __future__ import annotations

import pytest

from hostapp.gui.viewmodels import NodeState

pytestmark = [pytest.mark.gui, pytest.mark.keyring, pytest.mark.docker, pytest.mark.slow]


def test_without_a_wallet_the_wizard_opens_and_the_tray_says_why(tray_app, node_daemon, qtbot) -> None:
    from hostapp.gui.app import start_or_set_up

    asked: list[bool] = []
    start_or_set_up(tray_app.services, tray_app, lambda: asked.append(True))
    qtbot.waitUntil(lambda: asked == [True], timeout=20_000)
    assert node_daemon.node is None  # nothing started without a key
    assert tray_app.tray.status.state is NodeState.STOPPED
    assert "create or import a wallet" in tray_app.tray.tray.toolTip()


def test_with_a_wallet_the_real_node_works_and_the_tray_pauses_it(tray_app, node_daemon, qtbot, local_images) -> None:
    from hostapp.gui.app import start_or_set_up

    services = tray_app.services
    wallet = node_daemon.services.wallet  # the node's WalletService, as `hostapp wallet create` uses it
    wallet.create()
    wallet.skip_backup_confirmation()
    start_or_set_up(services, tray_app, lambda: pytest.fail("the wizard opened although a wallet exists"))
    tray = tray_app.tray
    shown: list[str] = []  # every tooltip the tray showed, in order
    tray.tray.setToolTip = lambda text, original=tray.tray.setToolTip: (shown.append(text), original(text))[1]
    qtbot.waitUntil(lambda: node_daemon.node is not None, timeout=60_000)
    # The embedded grid feeds demo inference jobs; they run in Docker through the real runner.
    qtbot.waitUntil(lambda: tray.status.state is NodeState.WORKING, timeout=120_000)
    assert tray.icon_name == "working"
    assert any(t == "Waiting for work" for t in shown) and any(t.startswith("Working — job ") for t in shown)

    tray.action("1 hour").trigger()
    qtbot.waitUntil(lambda: node_daemon.node.status().state == "paused", timeout=30_000)
    qtbot.waitUntil(lambda: tray.status.state is NodeState.PAUSED, timeout=10_000)
    assert tray.tray.toolTip().startswith("Snoozed until ")  # the node's reason, not a bare "Paused"
    tray.action("Resume").trigger()
    qtbot.waitUntil(lambda: node_daemon.node.status().state != "paused", timeout=30_000)
