"""What the open tray costs while the node works (issue #16): the first status shown at once, pages
built when first shown, hidden pages asking the node nothing until shown, a page on screen asking at
most once per interval, the Dashboard's clock ticking only on screen, the QR code encoded once.

Real parts: the node's control side in this process over its real socket (tests/gui/conftest.py), the
tray's pages over that socket; each test counts the requests that reach the node."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from hostapp.gui.viewmodels import JobProgress, NodeState, NodeStatus
from tests.support import run_tray_probe

pytestmark = pytest.mark.gui

DASHBOARD_ASKS = {"earnings.totals", "earnings.payout_state", "earnings.recent_earnings"}


def record_requests(client: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every command the tray's pages send to the node from now on, in order."""
    asked: list[str] = []
    call = client.call

    def counted(command: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(command)
        return call(command, *args, **kwargs)

    monkeypatch.setattr(client, "call", counted)
    return asked


def job_end(bus: Any, job: str) -> None:
    """What the node's stream delivers on the tray's bus when a demo job ends (hostapp/events/topics.py)."""
    bus.deliver("job.finished", {"job_id": job, "attempt": 1, "status": "succeeded", "reason": None})
    bus.deliver("ledger.changed", {"job_id": job, "attempt": 1, "status": "credited", "amount": 1000})
    bus.deliver("node.payout", {"job_id": job, "amount": 1000, "signature": "sig"})
    bus.deliver("ledger.changed", {"job_id": job, "attempt": 1, "status": "paid", "amount": 1000})
    bus.deliver("wallet.changed", {"address": "x"})


def test_the_icon_shows_the_nodes_state_from_its_first_answer(node_daemon, qtbot) -> None:
    """Right after the icon shows, before settings, the link or a page exist: one status request."""
    from hostapp.control.client import NodeClient, NodeSupervisor
    from hostapp.events import EventBus
    from hostapp.gui.app import launch
    from hostapp.gui.remote import NodeLink, RemoteNode
    from tests.support import wait_for

    # The node past its own start (an answer of "starting" would leave the icon as it is).
    wait_for(lambda: node_daemon.status().state.value != "starting", timeout=10, what="the node's start")
    started = launch()
    assert started is not None
    try:
        tray = started.tray_app.tray
        qtbot.waitUntil(lambda: tray.status.state is not NodeState.STARTING, timeout=3_000)
        # No wallet yet: the node says it waits for one, in its words.
        assert tray.status.state is NodeState.STOPPED and "wallet" in tray.tray.toolTip()
        assert tray.state_shown_at is not None
        # The link the tray builds next knows nothing yet (Starting): attaching it keeps what was shown.
        client = NodeClient(started.paths.control_socket)
        link = NodeLink(client, NodeSupervisor(client, started.paths.logs / "node.log", argv=["false"]), EventBus())
        tray.attach(RemoteNode(link))
        assert tray.status.state is NodeState.STOPPED
    finally:
        started.close()


def test_opening_the_window_builds_the_dashboard_only(tmp_path: Path) -> None:
    """The other pages, and what only they import (the QR code), come when first shown."""
    probe = """
tray_app.open_dashboard()
app.processEvents()
window = tray_app.window
print("open", ",".join(window.built), "qrcode" in sys.modules, "hostapp.gui.pages.wallet" in sys.modules)
window.show_page("Wallet")
app.processEvents()
shown = list(window.pages)[window.stack.currentIndex()]
print("wallet", ",".join(window.built), "hostapp.gui.pages.wallet" in sys.modules, shown)
"""
    out = run_tray_probe(probe, tmp_path / "home")
    lines = dict(line.split(" ", 1) for line in out if line.startswith(("open ", "wallet ")))
    assert lines["open"] == "Dashboard False False"
    assert lines["wallet"] == "Dashboard,Wallet True Wallet"


def test_hidden_pages_ask_the_node_nothing_until_shown(tray_app, qtbot, monkeypatch) -> None:
    window = tray_app.window
    for title in ("Schedule", "Earnings", "Wallet", "Jobs"):
        window.show_page(title)  # built once, as a user who looked at them
    tray_app.open_dashboard()
    qtbot.waitExposed(window)
    bus = tray_app.services.bus
    asked = record_requests(tray_app.services.client, monkeypatch)
    for job in range(3):
        job_end(bus, f"job-{job}")
        qtbot.wait(300)
    bus.deliver("schedule.changed", {"source": "cli", "revision": 2})
    qtbot.waitUntil(lambda: "earnings.totals" in asked)
    qtbot.wait(500)
    # Only the Dashboard, on screen, asked; Schedule, Earnings, Wallet and Jobs (hidden) asked nothing.
    assert set(asked) - {"status"} == DASHBOARD_ASKS, asked

    shown_asks = (
        ("Earnings", "earnings.page"),
        ("Jobs", "jobs.history"),
        ("Wallet", "wallet.summary"),
        ("Schedule", "schedule.show"),
    )
    for title, question in shown_asks:
        before = len(asked)
        window.show_page(title)  # what changed while hidden, once, when shown
        qtbot.waitUntil(lambda q=question, b=before: q in asked[b:])
        qtbot.wait(300)
        assert asked[before:].count(question) == 1, asked[before:]


def test_a_page_on_screen_asks_at_most_once_per_interval(tray_app, qtbot, monkeypatch) -> None:
    from hostapp.gui.pages.common import Coalesced

    monkeypatch.setattr(Coalesced, "visible_interval_ms", 1000)
    tray_app.open_dashboard()
    qtbot.waitExposed(tray_app.window)
    asked = record_requests(tray_app.services.client, monkeypatch)
    for job in range(8):  # a job's end every 250 ms for 2 s
        job_end(tray_app.services.bus, f"job-{job}")
        qtbot.wait(250)
    qtbot.wait(1500)
    refreshes = asked.count("earnings.totals")
    # Every 250 ms, each end would bring its own refresh (8); once a second: 2 s of ends, then the last.
    assert 2 <= refreshes <= 4, asked


def test_the_dashboard_clock_ticks_only_on_screen(tray_app, qtbot) -> None:
    tray_app.open_dashboard()
    window = tray_app.window
    qtbot.waitExposed(window)
    page = window.pages["Dashboard"]
    page.show_status(NodeStatus(NodeState.WORKING, job=JobProgress("job-1", time.time() - 5, 60, None)))
    assert page._job_timer.isActive()
    window.close()  # back to the tray: nothing ticks
    assert not window.isVisible() and not page._job_timer.isActive()
    tray_app.open_dashboard()
    assert page._job_timer.isActive() and page.job_label.text().startswith("Job job-1 · running ")


def test_the_same_address_is_encoded_once(qtbot) -> None:
    from hostapp.gui.widgets.qr import QrCode

    qr = QrCode()
    qtbot.addWidget(qr)
    qr.set_text("DXPsJHAkMh7XLEm9H1hqYV9DCvHpr8pyuYNhy6KK2oVg")
    matrix = qr.matrix
    qr.set_text("DXPsJHAkMh7XLEm9H1hqYV9DCvHpr8pyuYNhy6KK2oVg")  # every wallet event re-reads the address
    assert qr.matrix is matrix and matrix
    qr.set_text(None)
    assert qr.matrix == []
