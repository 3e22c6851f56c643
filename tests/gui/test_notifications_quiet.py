"""Routine news stays quiet: on the embedded grid a demo job finishes (and is paid) every few
seconds, and a balloon for each buried the desktop (tests/journeys found 12 in 30 s)."""

from __future__ import annotations

import threading

from hostapp.gui.notifications import ROUTINE_QUIET_SECONDS, Notifier


def test_a_stream_of_jobs_and_payouts_shows_one_balloon_of_each_kind(tray_app, qtbot) -> None:
    notifier, bus = tray_app.notifier, tray_app.services.bus

    def publish() -> None:  # as hostapp/node/slots.py does, from its worker threads
        for i in range(10):
            bus.publish("node.job_finished", job_id=f"job-{i}", attempt=1, status="succeeded")
            bus.publish("node.payout", job_id=f"job-{i}", amount=1_000, signature=f"sig{i}")
        bus.publish("node.job_finished", job_id="job-bad", attempt=1, status="failed")
        bus.publish("node.state", overall="error", gpu="GPU-a", state="error", headline="Error — Docker stopped")

    worker = threading.Thread(target=publish)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(notifier.shown) >= 4)
    qtbot.wait(100)  # nothing more arrives
    assert [(n.title, n.text) for n in notifier.shown] == [
        ("Job finished", "Job job-0 succeeded"),
        ("Payout received", "0.001 GRID for job job-0"),
        ("Job finished", "Job job-bad failed"),  # a failure is news of its own, never hidden behind a success
        ("hostapp needs you", "Error — Docker stopped"),
    ]


def test_after_the_quiet_time_the_next_one_says_how_many_were_quiet(tray_app, qtbot, qapp) -> None:
    now = [1_000.0]
    services = tray_app.services
    notifier = Notifier(
        tray_app.tray.tray, tray_app.bridge, lambda: services.settings.notifications, clock=lambda: now[0]
    )
    for i in range(4):
        services.bus.publish("node.job_finished", job_id=f"job-{i}", attempt=1, status="succeeded")
    qtbot.waitUntil(lambda: len(notifier.shown) == 1)
    qapp.processEvents()  # the bridge delivers on the GUI thread: read the clock before moving it
    now[0] += ROUTINE_QUIET_SECONDS - 1
    services.bus.publish("node.job_finished", job_id="job-4", attempt=1, status="succeeded")
    qapp.processEvents()
    assert len(notifier.shown) == 1
    now[0] += 1
    services.bus.publish("node.job_finished", job_id="job-5", attempt=1, status="succeeded")
    qtbot.waitUntil(lambda: len(notifier.shown) == 2)
    assert notifier.shown[1].text == "Job job-5 succeeded (and 4 more since the last notice)"
