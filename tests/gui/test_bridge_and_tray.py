"""The bridge delivers on the GUI thread; the tray follows node.state and steers the real schedule."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread

from hostapp.events import EventBus
from hostapp.gui.bridge import EventBridge
from hostapp.gui.single_instance import SingleInstance
from hostapp.gui.viewmodels import NodeState
from hostapp.schedule.policy_file import load_policy, policy_path

pytestmark = pytest.mark.gui


def test_bridge_delivers_worker_events_on_gui_thread_intact(qtbot) -> None:
    bus = EventBus(strict=False)  # the bridge carries any payload: this one is deliberately not a topic's
    bridge = EventBridge(bus)
    seen: list[tuple[str, dict, bool]] = []
    bridge.received.connect(lambda topic, data: seen.append((topic, data, QThread.currentThread() is bridge.thread())))
    amount = 2**64 + 7  # a QVariantMap would overflow this; money must arrive exact
    worker = threading.Thread(target=lambda: bus.publish("ledger.credited", amount=amount, keys={1: "x"}))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(seen) == 1)
    topic, data, on_gui_thread = seen[0]
    assert (topic, data["amount"], data["keys"], on_gui_thread) == ("ledger.credited", amount, {1: "x"}, True)
    bridge.close()
    bus.publish("after.close")
    qtbot.wait(20)
    assert len(seen) == 1


def test_tooltip_and_icon_follow_node_state_events(tray_app, qtbot) -> None:
    tray = tray_app.tray
    tray_app.services.bus.publish("node.state", state="paused", reason="game running: eldenring.exe")
    qtbot.waitUntil(lambda: tray.status.state is NodeState.PAUSED)
    assert tray.tray.toolTip() == "Paused — game running: eldenring.exe"
    assert tray.icon_name == "paused"
    tray_app.services.bus.publish("node.state", state="error", reason="Docker engine not running")
    qtbot.waitUntil(lambda: tray.icon_name == "error")
    tray.rebuild_menu()
    labels = [a.text() for a in tray.menu.actions()]
    assert labels[0] == "Error — Docker engine not running"
    assert "Start" in labels and "Open dashboard" in labels and "Quit" in labels


def test_tray_pause_and_resume_change_the_saved_policy_and_state(tray_app, qtbot) -> None:
    """Before the node runs (no wallet yet) the node process keeps the pause for it: the tray's menu
    reaches the policy through the control socket. (A running node's state: tests/gui/test_startup.py.)"""
    tray = tray_app.tray
    path = policy_path(tray_app.services.paths)
    tray.action("1 hour").trigger()
    qtbot.waitUntil(lambda: load_policy(path).snooze is not None)
    assert tray.status.headline == "Create a wallet to start"  # no work before there is a key, paused or not
    snooze = load_policy(path).snooze
    assert snooze is not None and snooze.until is not None
    tray.action("Indefinitely").trigger()
    qtbot.waitUntil(lambda: load_policy(path).snooze is not None and load_policy(path).snooze.until is None)

    tray_app.services.node.resume()  # the menu offers Resume once a node runs and reports Snoozed
    qtbot.waitUntil(lambda: load_policy(path).snooze is None)


def test_open_dashboard_and_close_keeps_app_in_tray(tray_app, qtbot) -> None:
    window = tray_app.window
    window.show_page("Earnings")
    tray_app.tray.action("Open dashboard").trigger()
    assert window.isVisible() and window.stack.currentWidget() is window.pages["Dashboard"]
    window.close()
    assert not window.isVisible()
    assert window.keep_in_tray  # hidden, not gone: the tray icon reopens it


def test_second_instance_raises_the_first(qtbot, tmp_path) -> None:
    first = SingleInstance(str(tmp_path))
    assert first.claim()
    second = SingleInstance(str(tmp_path))
    with qtbot.waitSignal(first.raise_requested, timeout=3000):
        assert not second.claim()
    first.release()
    third = SingleInstance(str(tmp_path))
    assert third.claim()  # the name is free again after the first quits
    third.release()


def test_notifications_follow_node_events_once_each_and_obey_settings(tray_app, qtbot) -> None:
    services, notifier = tray_app.services, tray_app.notifier
    bus = services.bus
    services.settings.notifications.job_started = True

    def publish_all() -> None:  # the topics and fields hostapp/node/slots.py publishes, from a worker thread
        bus.publish("node.job_started", job_id="job-7", attempt=1, gpu="GPU-abc")
        bus.publish("node.job_finished", job_id="job-7", attempt=1, status="succeeded")
        bus.publish("node.payout", job_id="job-7", amount=2_500_000, signature="5sig")
        for _ in range(2):  # the same state twice: one notification
            bus.publish(
                "node.state",
                previous="working",
                overall="paused",
                gpu="GPU-abc",
                state="paused",
                headline="Paused — game running: eldenring.exe (job frozen)",
            )
        bus.publish(
            "node.state",
            previous="paused",
            overall="error",
            gpu="GPU-abc",
            state="error",
            headline="Error — Docker engine not running",
        )

    worker = threading.Thread(target=publish_all)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(notifier.shown) == 5)
    assert [(n.title, n.text) for n in notifier.shown] == [
        ("Job started", "Job job-7 is running on GPU-abc"),
        ("Job finished", "Job job-7 succeeded"),
        ("Payout received", "2.50 GRID for job job-7"),
        ("Paused for a game", "Paused — game running: eldenring.exe"),
        ("hostapp needs you", "Error — Docker engine not running"),
    ]
    settings = services.settings.model_copy(deep=True)
    settings.notifications.job_finished = False
    services.save_settings(settings)  # what the Settings page's Save does
    # A failed job would show (a failure is never kept quiet behind a success) but is switched off;
    # a second payout within half an hour is quiet (tests/gui/test_notifications_quiet.py); an error shows.
    bus.publish("node.job_finished", job_id="job-8", attempt=1, status="failed")
    bus.publish("node.payout", job_id="job-8", amount=1, signature="6sig")
    bus.publish("node.state", overall="error", gpu="GPU-abc", state="error", headline="Error — disk full")
    qtbot.waitUntil(lambda: len(notifier.shown) == 6)
    qtbot.wait(50)
    assert notifier.shown[-1].text == "Error — disk full" and len(notifier.shown) == 6
