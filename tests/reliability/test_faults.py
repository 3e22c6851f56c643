"""Faults while a node works: the grid away for half a minute, the keyring locked, the Docker engine restarted.

After each: zero ledger rows lost or duplicated, the result delivered once, the node in a sensible
state with a visible reason, and no wallet secret on disk. (kill -9 of `hostapp node` mid-job and
restart is tests/integration/node/test_embedded.py::test_headless_node_control_socket_and_kill_9_mid_job.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.localgrid.server import GridConfig, LocalGrid
from hostapp.node.slots import NodeState
from hostapp.schedule import policy as pol
from hostapp.store import Store
from tests.integration.node.test_node import Harness, job, submit
from tests.reliability.keyring_lock import locked_default_collection
from tests.reliability.secret_scan import assert_no_secret_on_disk, secret_forms
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = 30


def job_status(grid: LocalGrid, job_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{grid.url}/v1/jobs/{job_id}", headers=grid.owner_headers, timeout=10).json())


def ledger_rows(store: Store, job_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in store.query("SELECT * FROM ledger WHERE job_id = ? ORDER BY attempt", (job_id,))]


@pytest.fixture
def grid_dir(tmp_path: Path) -> Path:
    return tmp_path / "grid"


@pytest.mark.docker
@pytest.mark.slow
def test_grid_down_half_a_minute_then_back_result_credited_once(
    tmp_path: Path, grid_dir: Path, docker_client: Any, busybox_image: str
) -> None:
    # A lease long enough to outlive the outage: the node keeps the job and delivers from its outbox.
    config = GridConfig(lease_seconds=OUTAGE_SECONDS * 4, heartbeat_seconds=1)
    grid = LocalGrid(grid_dir, config=config)
    grid.start()
    h = Harness(tmp_path, grid, docker_client, pol.AvailabilityPolicy(), offline_retry_seconds=0.5)
    h.node.start()
    try:
        job_id = submit(grid, job(3, "outage"), price=777)
        wait_for(lambda: h.slot().state is NodeState.WORKING, what="working")
        port = grid.port
        grid.stop()  # the job finishes while the grid is away: its result goes to the outbox
        down_since = time.monotonic()
        wait_for(lambda: h.slot().state is NodeState.OFFLINE, timeout=30, what="node shows offline")
        assert "grid unreachable" in h.node.status().headline.lower()
        assert any(e.topic == "grid.offline" and e.data.get("reason") for e in h.events)
        wait_for(lambda: h.node.outbox.size() == 1, timeout=30, what="result kept in the outbox")
        row = h.node.ledger.get(job_id, 1)
        assert row is not None and row.status == "running"  # not credited before the grid says so
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))

        grid = LocalGrid(grid_dir, port=port, config=config)  # back, same state, same URL
        grid.start()
        wait_for(lambda: job_status(grid, job_id)["state"] == "succeeded", timeout=60, what="result delivered")
        wait_for(lambda: h.node.outbox.size() == 0, timeout=30, what="outbox drained")
        wait_for(lambda: (r := h.node.ledger.get(job_id, 1)) and r.status == "credited", timeout=30, what="credited")
        wait_for(lambda: h.slot().state is NodeState.WAITING, timeout=30, what="node back to waiting")
        rows = ledger_rows(h.store, job_id)
        assert [(r["attempt"], r["status"]) for r in rows] == [(1, "credited")]  # one row: none lost, none twice
        credits = h.client.credits()
        assert [e.amount for e in credits.entries if e.job_id == job_id] == [rows[0]["amount"]]
        assert credits.credited == h.node.ledger.total() == rows[0]["amount"] >= 3 * 777
        assert any(e.topic == "grid.online" for e in h.events)
    finally:
        h.close()
        grid.stop()


# ------------------------------------------------------------------ keyring locked


def hostapp(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hostapp", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=timeout,
    )


@pytest.mark.keyring
def test_locked_keyring_node_and_wallet_say_so_and_write_nothing(hostapp_home: Path, grid_dir: Path) -> None:
    created = hostapp("wallet", "create", "--yes-i-wrote-it-down", "--json")
    assert created.returncode == 0, created.stderr
    import json

    mnemonic = json.loads(created.stdout)["mnemonic"]
    with LocalGrid(grid_dir, config=GridConfig()) as grid, locked_default_collection():
        node = hostapp("node", "--grid-url", grid.url)
        show = hostapp("wallet", "show")
    for result in (node, show):
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "the keyring is locked" in lines[0], result.stderr  # one line, no traceback
    assert "unlock it" in node.stderr
    assert hostapp("wallet", "show").returncode == 0  # unlocked again: the same wallet, nothing lost
    assert_no_secret_on_disk(hostapp_home, secret_forms(mnemonic))


# ------------------------------------------------------------------ the Docker engine restarted


def dockerd_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def start_dockerd() -> None:
    """Exactly as scripts/setup.sh starts it where there is no systemd."""
    # setsid: the engine must outlive this test process's session and process group, as setup.sh's does.
    subprocess.run(["setsid", "-f", "sh", "-c", "exec dockerd >>/tmp/hostapp-dockerd.log 2>&1 </dev/null"], check=True)


@pytest.fixture
def restartable_engine() -> Iterator[None]:
    """The engine this machine runs as a bare dockerd (setup.sh's way); back up afterwards, pass or fail."""
    if os.geteuid() != 0 or len(dockerd_pids()) != 1 or Path("/run/systemd/system").is_dir():
        pytest.skip("restarts only a dockerd started by scripts/setup.sh, as root, with no systemd")
    try:
        yield
    finally:
        if not dockerd_pids():
            start_dockerd()
        deadline = time.monotonic() + 60
        while not engine_answers() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert engine_answers(), "the Docker engine did not come back; see /tmp/hostapp-dockerd.log"


@pytest.mark.docker
@pytest.mark.slow
def test_engine_restarted_mid_job_fails_it_once_with_a_reason_then_work_resumes(
    tmp_path: Path, grid_dir: Path, docker_client: Any, busybox_image: str, restartable_engine: None
) -> None:
    grid = LocalGrid(grid_dir, config=GridConfig(lease_seconds=30, heartbeat_seconds=1))
    grid.start()
    h = Harness(tmp_path, grid, docker_client, pol.AvailabilityPolicy(), offline_retry_seconds=0.5)
    h.node.start()
    try:
        job_id = submit(grid, job(20, "engine"), price=500)
        wait_for(lambda: h.container(docker_client, job_id), timeout=60, what="the job's container")
        (pid,) = dockerd_pids()
        os.kill(pid, 9)
        wait_for(lambda: not dockerd_pids(), timeout=10, what="dockerd gone")
        start_dockerd()
        wait_for(engine_answers, timeout=60, what="the engine back")

        row = wait_for(
            lambda: (r := h.node.ledger.get(job_id, 1)) and r.status != "running" and r,
            timeout=90,
            what="attempt 1 closed",
        )
        assert row.status == "failed" and row.amount == 0
        assert row.reason, "the ledger row says why"
        # The node keeps working once the engine is back: the grid's next offer of this job runs to the end.
        wait_for(lambda: job_status(grid, job_id)["state"] in ("succeeded", "failed"), timeout=120, what="done")
        rows = ledger_rows(h.store, job_id)
        assert len({(r["job_id"], r["attempt"]) for r in rows}) == len(rows)
        credited = [r for r in rows if r["status"] == "credited"]
        assert len(credited) <= 1 and not [r for r in rows if r["status"] == "running"]
        credits = h.client.credits()
        assert credits.credited == h.node.ledger.total()
        follow_up = submit(grid, job(0, "after"), price=500)
        wait_for(lambda: job_status(grid, follow_up)["state"] == "succeeded", timeout=60, what="next job ran")
        assert h.slot().state in (NodeState.WAITING, NodeState.WORKING)
    finally:
        h.close()
        grid.stop()
