"""The embedded default end to end, and the headless node as a process a user or a script drives.

Real parts: the local grid over HTTP (in its own process, `python -m hostapp.localgrid`), the LiteSVM
chain behind JSON-RPC read with solana-py, the wallet in the real Secret Service, jobs in the real
Docker engine, the control socket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.app import build_services
from hostapp.localgrid.server import LocalGrid
from hostapp.node.ledger import Ledger
from hostapp.node.slots import NodeState
from hostapp.store import Store
from tests.support import busybox_job, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.keyring, pytest.mark.slow]


def hostapp(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "hostapp", *args],
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
        env=dict(os.environ),
    )
    if check and result.returncode != 0:
        raise AssertionError(f"hostapp {' '.join(args)} failed: {result.stderr}")
    return result


def test_embedded_default_runs_demo_jobs_and_pays_the_wallet(hostapp_home: Path, local_images: None) -> None:
    """A fresh install with no grid configured: jobs arrive, run in Docker, get paid into the wallet."""
    hostapp("wallet", "create", "--yes-i-wrote-it-down", "--json")
    services = build_services(setup_logs=False)
    try:
        node = services.start_node()
        assert services.uses_local_grid and services.grid_url().startswith("http://127.0.0.1:")
        assert services.local_grid.running and services.local_grid.pid != os.getpid()  # the grid is not the host
        ledger = Ledger(services.store)

        def paid_rows() -> list[Any]:
            rows = services.store.query("SELECT amount, payout_signature FROM ledger WHERE status = 'paid'")
            return rows if len(rows) >= 2 else []

        wait_for(paid_rows, timeout=120, what="two paid demo jobs")
        assert node.status().state in {s.value for s in NodeState}
        # Stop taking jobs, let the grid pay what it credited, and bring the ledger in line with it.
        node.stop()

        def all_paid() -> dict[str, Any] | None:
            node.sync_credits()
            credits = services.grid_client.credits()
            return credits if credits.unpaid == 0 else None

        credits = wait_for(all_paid, timeout=60, what="every credit paid on chain")
        paid_total = ledger.total(("paid",))
        assert paid_total == credits.paid == credits.credited > 0
        assert ledger.total(("credited",)) == 0
        # What the wallet reads on chain through solana-py over the local RPC equals the ledger.
        wallet = services.wallet
        with wallet.chain_client() as client:
            balance = wallet.balances(client)
        assert balance.token is not None
        assert balance.token.amount == paid_total
        with wallet.chain_client() as client:
            history = wallet.history(client)
        assert sum(p.amount for p in history) == paid_total
        assert {p.signature for p in history} == {
            r["payout_signature"]
            for r in services.store.query("SELECT payout_signature FROM ledger WHERE status='paid'")
        }
    finally:
        services.close()


def start_node(grid: LocalGrid, log: Path) -> subprocess.Popen[str]:
    with log.open("a") as handle:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "hostapp", "node", "--grid-url", grid.url],
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ),
        )


def run_job_importing(job_file: Path, *flags: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """`hostapp run-job`, and the top-level modules its process imported (python -X importtime)."""
    ran = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "hostapp", "run-job", *flags, str(job_file)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    lines = [line for line in ran.stderr.splitlines() if line.startswith("import time:")]
    return ran, {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in lines}


def status() -> dict[str, Any]:
    return dict(json.loads(hostapp("status", "--json").stdout))


def test_headless_node_control_socket_and_kill_9_mid_job(
    hostapp_home: Path, grid: LocalGrid, docker_client: Any, busybox_image: str, tmp_path: Path
) -> None:
    hostapp("wallet", "create", "--yes-i-wrote-it-down")
    assert "not running" in hostapp("status", check=False).stderr
    log = tmp_path / "node.log"
    process = start_node(grid, log)
    try:
        wait_for(lambda: (hostapp_home / "run" / "control.sock").exists(), what="control socket")
        wait_for(lambda: status()["state"] == "waiting", what="waiting for work")

        # Scripts control the running node.
        out = hostapp("pause", "--for", "2h").stdout
        assert "Snoozed until" in out
        assert status()["state"] == "paused"
        hostapp("resume")
        wait_for(lambda: status()["state"] == "waiting", what="waiting after resume")
        assert "Preset when-idle applied" in hostapp("schedule", "preset", "when-idle").stdout
        when_idle = json.loads(hostapp("schedule", "show", "--json").stdout)["grid"]
        hostapp("schedule", "preset", "always")
        assert json.loads(hostapp("schedule", "show", "--json").stdout)["grid"] != when_idle
        shown = hostapp("schedule", "show").stdout  # for a person: hours per day, no JSON
        assert "  Mon  00–24 available" in shown and "{" not in shown
        bad = hostapp("schedule", "preset", "sometimes", check=False)
        assert bad.returncode == 1 and "unknown preset" in bad.stderr

        # run-job hands the job to the running node, like `docker run` to dockerd: the CLI process
        # then loads neither pydantic nor docker-py (most of a short job's time); --standalone does.
        job_file = tmp_path / "hello.json"
        job_file.write_text(json.dumps(busybox_job(0, "by-hand")))
        via_node, standalone = (run_job_importing(job_file, *flags) for flags in ((), ("--standalone",)))
        for ran, _ in (via_node, standalone):
            assert ran.returncode == 0 and "[run] start by-hand" in ran.stdout, ran.stderr[-2000:]
        assert not {"pydantic", "docker"} & via_node[1]
        assert {"pydantic", "docker"} <= standalone[1]

        # A job in flight when the node is killed -9.
        definition = {
            "version": "0.1",
            "type": "container",
            "ops": [
                {
                    "type": "container/run",
                    "id": "run",
                    "args": {"image": busybox_image, "cmd": ["sh", "-c", "echo begin; sleep 4; echo end"]},
                }
            ],
        }
        job_id = httpx.post(
            grid.url + "/v1/jobs",
            json={"definition": definition, "price_per_second": 10, "timeout_seconds": 60},
            headers=grid.owner_headers,
        ).json()["job_id"]
        wait_for(lambda: status()["state"] == "working", what="working")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        containers = docker_client.containers.list(all=True, filters={"label": f"hostapp.job_id={job_id}"})
        assert containers, "the job's container outlives the killed app"

        process = start_node(grid, log)
        store_path = hostapp_home / "data" / "hostapp.sqlite3"
        job = wait_for(
            lambda: (
                (j := httpx.get(f"{grid.url}/v1/jobs/{job_id}", headers=grid.owner_headers).json())["state"]
                == "succeeded"
                and j
            ),
            timeout=90,
            what="the job finished after the restart",
        )
        # Either the restarted node collected attempt 1 from its container and delivered it (lease still
        # valid), or attempt 1 was closed as failed and the re-offered attempt 2 ran: exactly one credit.
        store = Store(store_path)
        try:

            def settled() -> list[Any]:
                rows = store.query("SELECT attempt, status, amount FROM ledger WHERE job_id = ?", (job_id,))
                return rows if rows and all(r["status"] != "running" for r in rows) else []

            rows = wait_for(settled, what="ledger rows settled")
            credited = [r for r in rows if r["status"] in ("credited", "paid")]
            assert len(credited) == 1, [dict(r) for r in rows]
            assert all(r["amount"] == 0 for r in rows if r["status"] == "failed")
            assert credited[0]["amount"] == job["amount"] and job["seconds_billed"] >= 4
            assert Ledger(store).total() == job["amount"]
        finally:
            store.close()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    assert "Traceback" not in log.read_text()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (ProcessLookupError, OSError):
        return False


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_node_starts_the_grid_process_and_takes_it_down_when_it_goes(
    hostapp_home: Path, tmp_path: Path, how: signal.Signals
) -> None:
    """`hostapp node` with no grid URL: the embedded grid runs as the node's child, answers over HTTP, and
    exits within seconds when the node stops (SIGTERM: the node stops it) or is killed -9 (its stdin,
    the node's pipe, reaches EOF)."""
    hostapp("wallet", "create", "--yes-i-wrote-it-down")
    endpoint = hostapp_home / "data" / "local-grid" / "endpoint.json"
    with (tmp_path / "node.log").open("a") as handle:
        node = subprocess.Popen(
            [sys.executable, "-m", "hostapp", "node"], stdout=handle, stderr=subprocess.STDOUT, env=dict(os.environ)
        )
    try:
        wait_for(endpoint.exists, what="the embedded grid's endpoint file")
        served = json.loads(endpoint.read_text())
        grid_pid = int(served["pid"])
        assert grid_pid != node.pid and process_alive(grid_pid)
        assert httpx.get(served["url"] + "/v1/health", timeout=10).json()["status"] == "ok"
        wait_for(lambda: status()["state"] in ("waiting", "working"), what="the node at work on the embedded grid")
        node.send_signal(how)
        code = node.wait(30)
        gone = time.monotonic()
        wait_for(lambda: not process_alive(grid_pid), timeout=15, what="the grid process gone after the node")
        assert time.monotonic() - gone < 5
        assert not endpoint.exists()  # it stopped cleanly, not killed in turn
        if how == signal.SIGTERM:
            assert code == 0 and "Traceback" not in (tmp_path / "node.log").read_text()
    finally:
        if node.poll() is None:
            node.kill()


HEAVY = ("fastapi", "uvicorn", "starlette", "asyncssh")  # asyncssh: only once a job exposes a port
GRID_SIDE = ("hostapp.localgrid.server", "hostapp.localgrid.store", "hostapp.chain.runtime", "hostapp.chain.rpc")


def test_node_on_the_embedded_grid_loads_no_web_server_and_no_chain(hostapp_home: Path) -> None:
    """The node's own process, started on the embedded grid, imports no web framework and neither the grid's
    store nor the LiteSVM chain runtime: those live in the grid process. (`import solders` itself loads
    solders.litesvm, a thin wrapper of the same extension the wallet signs with, so that name proves nothing.)"""
    hostapp("wallet", "create", "--yes-i-wrote-it-down")
    code = textwrap.dedent(
        f"""
        import json, sys
        from hostapp.app import build_services
        services = build_services(setup_logs=False)
        try:
            node = services.start_node()
            assert services.uses_local_grid and services.local_grid.running
            node.sync_credits()  # a signed call answered by the grid process
            heavy, grid_side = {HEAVY!r}, {GRID_SIDE!r}
            print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m in grid_side)))
        finally:
            services.close()
        """
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == []
