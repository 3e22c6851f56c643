"""The tray app tells the truth about a node in Error: the tooltip carries the fix, Start explains why
it cannot start, and Diagnostics does not say "Ready". Real parts: the core node started by the app
(Docker, the wallet in the real Secret Service), a real grid server that refuses it (the LocalGrid
under a path it does not serve, like a mistyped grid URL), the doctor over the control socket."""

from __future__ import annotations

import pytest

from hostapp.gui.viewmodels import NodeState, NodeStatus

pytestmark = [pytest.mark.gui]


@pytest.mark.keyring
@pytest.mark.docker
@pytest.mark.slow
def test_a_refused_node_shows_its_fix_and_start_and_diagnostics_say_why(tray_app, node_daemon, qtbot, grid) -> None:
    from hostapp.gui.app import start_or_set_up

    services = tray_app.services
    node_daemon.services.settings.grid.url = f"{grid.url}/not-a-grid"  # the node's settings: it connects
    wallet = node_daemon.services.wallet
    wallet.create()
    wallet.skip_backup_confirmation()
    start_or_set_up(services, tray_app, lambda: pytest.fail("the wizard opened although a wallet exists"))
    tray = tray_app.tray
    qtbot.waitUntil(lambda: tray.status.state is NodeState.ERROR, timeout=60_000)

    page = tray_app.window.pages["Diagnostics"]
    page.run_checks()
    qtbot.waitUntil(lambda: page.report is not None, timeout=60_000)
    assert "Ready" not in page.message.text()
    assert page.message.text().startswith("Not ready: grid refused registration")
    checks = {c.id: c for c in page.report.checks}
    assert checks["node"].status.value == "FAIL" and checks["node"].summary.startswith("grid refused registration")

    tray.action("Start").trigger()
    assert tray.start_refusal is not None and "grid refused registration" in tray.start_refusal

    problem = node_daemon.node.status().problem
    assert problem is not None and problem.reason.startswith("grid refused registration")
    assert problem.reason in tray.start_refusal and problem.fix in tray.start_refusal
    assert problem.fix in page.message.text() and checks["node"].hint == problem.fix
    assert tray.tray.toolTip().startswith("Error — grid refused registration")
    assert f"Fix: {problem.fix}" in tray.tray.toolTip()


def test_the_gui_reads_reason_and_fix_from_the_typed_snapshot_without_splitting() -> None:
    from hostapp.control.status import NodeSnapshot, Problem, SlotSnapshot

    # A reason that itself contains " — " survives whole: nothing splits the headline.
    problem = Problem(reason="grid refused registration: body — gpus.0: bad", fix="update hostapp")
    slot = SlotSnapshot(gpu="GPU-1", state="error", headline="Error — " + problem.reason, problem=problem)
    snapshot = NodeSnapshot(state="error", headline=slot.headline, reason=problem.reason, problem=problem, slots=[slot])
    status = NodeStatus.from_snapshot(snapshot)
    assert (status.state, status.reason, status.fix) == (NodeState.ERROR, problem.reason, "update hostapp")
    assert status.headline == "Error — grid refused registration: body — gpus.0: bad"

    working = SlotSnapshot(
        gpu="GPU-1",
        state="working",
        headline="Working — job j1, up to 4 min left",
        reason="job j1, up to 4 min left",
        job_id="j1",
        job_started_at=100.0,
        timeout_seconds=300,
        price_per_second=1000,
    )
    status = NodeStatus.from_snapshot(
        NodeSnapshot(state="working", headline=working.headline, reason=working.reason, slots=[working])
    )
    assert status.reason == "job j1, up to 4 min left" and status.fix is None
    assert status.job is not None and (status.job.job_id, status.job.rate_per_second) == ("j1", 1000)
