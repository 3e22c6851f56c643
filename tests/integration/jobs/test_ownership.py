"""Job ownership: reconcile touches only what a process that is gone left (hostapp/jobs/ownership.py).

Real parts: the Docker engine, SQLite, child processes that run jobs and die, a `hostapp node` on
the real local grid, and `hostapp run-job --standalone` processes sharing its data folder.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.jobs import sandbox
from hostapp.localgrid.server import LocalGrid
from hostapp.node.ledger import Ledger
from hostapp.store import Store
from tests.support import busybox_job, wait_for

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[3]

# A runner in its own process (its own owner id), like a node or a standalone run-job.
RUNNER_SCRIPT = """
import sys, docker
from hostapp.config.paths import default_paths
from hostapp.config.settings import JobLimits
from hostapp.events import EventBus
from hostapp.store import Store
from hostapp.jobs.definition import GridJob, parse_job_definition
from hostapp.jobs.runner import JobRunner
paths = default_paths().ensure()
store = Store(paths.database)
runner = JobRunner(docker.from_env(), JobLimits(stop_grace_seconds=1), paths, EventBus(), store, sys.argv[1])
runner.run(GridJob(sys.argv[2], 1, 5, 120, parse_job_definition(sys.argv[3])))
"""


def _start_runner(instance: str, job_id: str, script: str) -> subprocess.Popen[bytes]:
    definition = {
        "ops": [
            {
                "type": "container/run",
                "id": "work",
                "args": {"image": "hostapp-test/busybox:latest", "cmd": script},
                "results": {"answer": "(?<=answer=)[0-9]+"},
            }
        ]
    }
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER_SCRIPT, instance, job_id, json.dumps(definition)], env=dict(os.environ), cwd=ROOT
    )


def _gone_owner() -> str:
    """The owner id of a process that ran and exited (and was reaped)."""
    code = "from hostapp.jobs.ownership import current_owner; print(current_owner())"
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return ran.stdout.strip()


def _containers(docker_client: Any, job_id: str) -> list[Any]:
    found = docker_client.containers.list(all=True, filters={"label": f"hostapp.job_id={job_id}"}, ignore_removed=True)
    return list(found)


def test_a_live_owners_job_is_left_alone_and_collected_once_the_owner_is_gone(  # type: ignore[no-untyped-def]
    hostapp_home, make_runner, store, docker_client
) -> None:
    runner, _ = make_runner()
    job_id = f"owned-{os.getpid()}-{int(time.time())}"
    proc = _start_runner(runner.instance_id, job_id, "echo answer=7; while true; do echo alive; sleep 0.2; done")
    try:
        wait_for(lambda: [c for c in _containers(docker_client, job_id) if c.status == "running"], what="job running")
        owner = store.query("SELECT owner FROM jobs WHERE job_id = ?", (job_id,))[0]["owner"]
        assert owner and owner != runner.owner

        # Same data folder, same instance label, same engine: the other process's job is not ours.
        assert runner.reconcile() == []
        (container,) = _containers(docker_client, job_id)
        assert container.status == "running"
        assert container.labels[sandbox.LABEL_OWNER] == owner
        assert store.query("SELECT status FROM jobs WHERE job_id = ?", (job_id,))[0]["status"] == "running"
        assert store.query("SELECT status FROM job_ops WHERE job_id = ?", (job_id,))[0]["status"] == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    reconciled = runner.reconcile()

    assert [(r.job_id, r.status) for r in reconciled] == [(job_id, "stopped")]
    assert reconciled[0].ops[0].results == {"answer": ["7"]}
    row = store.query("SELECT status, owner FROM jobs WHERE job_id = ?", (job_id,))[0]
    assert row["status"] == "stopped" and row["owner"] == runner.owner  # adopted, then finished
    assert not _containers(docker_client, job_id)


def test_a_container_being_removed_is_one_warning_line_and_the_rest_is_collected(  # type: ignore[no-untyped-def]
    make_runner, store, docker_client, busybox_image, caplog
) -> None:
    """The 409 of the issue: `logs` on a container the engine is removing. Reconcile says so in one
    line, finishes that job's record, and still collects the other job the same dead process left."""
    runner, _ = make_runner()
    gone = _gone_owner()
    stamp = f"{os.getpid()}-{int(time.time())}"
    healthy, removing = f"healthy-{stamp}", f"removing-{stamp}"
    for job_id in (healthy, removing):
        definition = busybox_job(0, job_id)
        definition["ops"][0]["results"] = {"answer": "(?<=answer=)[0-9]+"}
        store.execute(
            "INSERT INTO jobs (job_id, attempt, source, definition, status, created_at, started_at, owner)"
            " VALUES (?, 1, 'local', ?, 'running', ?, ?, ?)",
            (job_id, json.dumps(definition), time.time(), time.time(), gone),
        )
        store.execute(
            "INSERT INTO job_ops (job_id, attempt, op_id, status, started_at) VALUES (?, 1, 'run', 'running', ?)",
            (job_id, time.time()),
        )

    def labels(job_id: str) -> dict[str, str]:
        return sandbox.job_labels(runner.instance_id, job_id, 1, "container", "run", owner=gone)

    done = docker_client.containers.run(busybox_image, ["echo", "answer=5"], labels=labels(healthy), detach=True)
    done.wait(timeout=30)
    # Twenty thousand files in its writable layer: the engine takes about a second to remove it.
    fill = "mkdir /d && cd /d && i=0; while [ $i -lt 20000 ]; do echo x > f$i; i=$((i+1)); done"
    doomed = docker_client.containers.run(busybox_image, ["sh", "-c", fill], labels=labels(removing), detach=True)
    doomed.wait(timeout=120)
    remover = threading.Thread(target=docker_client.api.remove_container, args=(doomed.id,), kwargs={"force": True})
    remover.start()
    try:
        wait_for(
            lambda: docker_client.api.inspect_container(doomed.id)["State"]["Status"] == "removing", what="removal"
        )
        with caplog.at_level(logging.INFO, logger="hostapp.jobs.runner"):
            reconciled = {r.job_id: r for r in runner.reconcile()}
    finally:
        remover.join(60)

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    message = warnings[0].getMessage()
    assert doomed.id[:12] in message and removing in message and "marked for removal" in message
    assert "\n" not in message and warnings[0].exc_info is None
    assert reconciled[healthy].status == "succeeded" and reconciled[healthy].ops[0].results == {"answer": ["5"]}
    assert reconciled[removing].status == "failed" and "interrupted" in (reconciled[removing].reason or "")
    rows = {
        r["job_id"]: r["status"]
        for r in store.query("SELECT job_id, status FROM jobs WHERE owner = ?", (runner.owner,))
    }
    assert rows == {healthy: "succeeded", removing: "failed"}


def _hostapp(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    ran = subprocess.run(
        [sys.executable, "-m", "hostapp", *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )
    if check and ran.returncode != 0:
        raise AssertionError(f"hostapp {' '.join(args)} failed: {ran.stderr}")
    return ran


def _node_state() -> str:
    return str(json.loads(_hostapp("status", "--json").stdout)["state"])


@pytest.mark.keyring
@pytest.mark.slow
def test_standalone_runs_beside_a_working_node_leave_its_jobs_alone(  # type: ignore[no-untyped-def]
    hostapp_home: Path, grid: LocalGrid, docker_client: Any, busybox_image: str, tmp_path: Path
) -> None:
    """The issue's scenario: `hostapp node` runs grid jobs (running, then frozen by a pause) while a loop
    of `hostapp run-job --standalone` runs in the same data folder. Every run succeeds without a
    traceback, and each grid job runs once, undisturbed, and is credited exactly once."""
    _hostapp("wallet", "create", "--yes-i-wrote-it-down")
    log_path = tmp_path / "node.log"
    with log_path.open("a") as node_log:
        node = subprocess.Popen(
            [sys.executable, "-m", "hostapp", "node", "--grid-url", grid.url],
            stdout=node_log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    job_file = tmp_path / "standalone.json"
    job_file.write_text(json.dumps(busybox_job(0, "standalone")))
    try:
        wait_for(lambda: (hostapp_home / "run" / "control.sock").exists(), what="control socket")
        wait_for(lambda: _node_state() == "waiting", what="node waiting for work")
        grid_jobs = [
            httpx.post(
                grid.url + "/v1/jobs",
                json={"definition": busybox_job(6, f"grid-{i}"), "price_per_second": 10, "timeout_seconds": 120},
                headers=grid.owner_headers,
            ).json()["job_id"]
            for i in range(4)
        ]

        def node_job_in(*states: str) -> bool:
            # The low-level list: one call, no per-container inspect racing the node's removals.
            found = docker_client.api.containers(all=True, filters={"label": "hostapp.kind=container"})
            return any(c["Labels"].get(sandbox.LABEL_JOB) in grid_jobs and c["State"] in states for c in found)

        for i in range(8):
            if i == 3:
                _hostapp("pause", "--for", "2h")  # the node freezes its job (docker pause)
            if i == 6:
                _hostapp("resume")
            # Each run starts while a node job is running (frozen, for runs 3 to 5) beside it.
            state = "paused" if 3 <= i < 6 else "running"
            wait_for(functools.partial(node_job_in, state), what=f"a {state} node job for standalone run {i}")
            ran = _hostapp("run-job", "--standalone", str(job_file), check=False)
            assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr[-3000:]
            assert "[run] done standalone" in ran.stdout

        def finished() -> list[dict[str, Any]]:
            states = [
                httpx.get(f"{grid.url}/v1/jobs/{job_id}", headers=grid.owner_headers).json() for job_id in grid_jobs
            ]
            return states if all(s["state"] == "succeeded" for s in states) else []

        grid_states = wait_for(finished, timeout=120, what="every grid job succeeded")
        store = Store(hostapp_home / "data" / "hostapp.sqlite3")
        try:

            def settled() -> list[Any]:
                rows = store.query(
                    f"SELECT job_id, status, amount FROM ledger WHERE job_id IN ({','.join('?' * len(grid_jobs))})",
                    grid_jobs,
                )
                return rows if len(rows) >= len(grid_jobs) and all(r["status"] != "running" for r in rows) else []

            rows = wait_for(settled, what="ledger rows settled")
            # One attempt per job, never disturbed: no failed row, exactly one credit, the grid's amount.
            assert sorted(r["job_id"] for r in rows) == sorted(grid_jobs), [dict(r) for r in rows]
            for job_id, state in zip(grid_jobs, grid_states, strict=True):
                (row,) = [r for r in rows if r["job_id"] == job_id]
                assert row["status"] in ("credited", "paid") and row["amount"] == state["amount"] > 0
            assert Ledger(store).total() == sum(s["amount"] for s in grid_states)
            jobs = store.query(
                f"SELECT job_id, status, reason FROM jobs WHERE job_id IN ({','.join('?' * len(grid_jobs))})",
                grid_jobs,
            )
            assert sorted((r["job_id"], r["status"]) for r in jobs) == sorted((j, "succeeded") for j in grid_jobs), [
                dict(r) for r in jobs
            ]
        finally:
            store.close()
    finally:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(30)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait(10)
    assert "Traceback" not in log_path.read_text()
