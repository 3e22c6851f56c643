"""Background removal of finished containers (hostapp/jobs/reaper.py), and recovery of what it left.

The node passes `remove_in_background=True` so the engine's container/volume removal does not sit
between two jobs. Real parts: the Docker engine, SQLite, and a child process that dies before its
reaper ran.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from hostapp.jobs import sandbox
from hostapp.jobs.definition import GridJob, parse_job_definition
from hostapp.jobs.reaper import Reaper

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[3]
BUSYBOX = "hostapp-test/busybox:latest"
DEFINITION = {
    "ops": [
        {
            "type": "container/run",
            "id": "work",
            "args": {
                "image": BUSYBOX,
                "cmd": "echo answer=42; mkdir -p /out && echo kept > /out/f.txt",
                "output": "/out",
            },
            "results": {"answer": "(?<=answer=)[0-9]+"},
        }
    ]
}


def _objects(docker_client: Any, job_id: str, attempt: int = 1) -> tuple[list[str], list[str]]:
    """Names of the job's containers and of its volumes (labelled ones and its unlabelled work volume)."""
    label = {"label": f"hostapp.job_id={job_id}"}
    containers = [c.name for c in docker_client.containers.list(all=True, filters=label, ignore_removed=True)]
    volumes = {v.name for v in docker_client.volumes.list(filters=label)}
    work = sandbox.resource_name(job_id, attempt, "work")
    volumes |= {v.name for v in docker_client.volumes.list(filters={"name": work}) if v.name == work}
    return containers, sorted(volumes)


def test_run_returns_before_removal_with_everything_collected(make_runner, docker_client) -> None:  # type: ignore[no-untyped-def]
    runner, _ = make_runner()
    gate = threading.Event()

    def gated(objects: list[tuple[str, str]]) -> None:
        gate.wait(60)
        runner.remove_objects(objects)

    runner.reaper = Reaper(gated)
    job = GridJob(f"bg-{secrets.token_hex(4)}", 1, 1, 60, parse_job_definition(DEFINITION))
    result = runner.run(job, remove_in_background=True)
    assert result.status == "succeeded", result.reason
    assert result.ops[0].results == {"answer": ["42"]} and result.ops[0].output_files == ["f.txt"]
    containers, volumes = _objects(docker_client, job.job_id)
    assert len(containers) == 1 and volumes == [sandbox.resource_name(job.job_id, 1, "work")]  # not yet removed
    assert runner.reaper.pending() == 1
    gate.set()
    assert runner.reaper.drain(30)
    assert _objects(docker_client, job.job_id) == ([], [])


def test_without_background_removal_nothing_is_left_when_run_returns(make_runner, docker_client) -> None:  # type: ignore[no-untyped-def]
    runner, _ = make_runner()
    job = GridJob(f"fg-{secrets.token_hex(4)}", 1, 1, 60, parse_job_definition(DEFINITION))
    assert runner.run(job).status == "succeeded"
    assert _objects(docker_client, job.job_id) == ([], [])
    assert runner.reaper.pending() == 0


# A runner in its own process that dies right after its job ended, before its reaper removed anything.
DIES_BEFORE_REMOVAL = """
import json, os, sys, docker
from hostapp.config.paths import default_paths
from hostapp.config.settings import JobLimits
from hostapp.events import EventBus
from hostapp.store import Store
from hostapp.jobs.definition import GridJob, parse_job_definition
from hostapp.jobs.runner import JobRunner
paths = default_paths().ensure()
store = Store(paths.database)
runner = JobRunner(docker.from_env(), JobLimits(stop_grace_seconds=1), paths, EventBus(), store, sys.argv[1])
runner.reaper.submit = lambda objects: None  # the process dies before the reaper gets to them
result = runner.run(GridJob(sys.argv[2], 1, 5, 120, parse_job_definition(sys.argv[3])), remove_in_background=True)
print(result.status, flush=True)
os._exit(0)
"""


def test_recovery_removes_what_a_dead_process_left_for_its_reaper(  # type: ignore[no-untyped-def]
    hostapp_home, make_runner, store, docker_client
) -> None:
    runner, _ = make_runner()
    job_id = f"dead-{secrets.token_hex(4)}"
    ran = subprocess.run(
        [sys.executable, "-c", DIES_BEFORE_REMOVAL, runner.instance_id, job_id, json.dumps(DEFINITION)],
        env=dict(os.environ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.stdout.strip() == "succeeded", ran.stderr[-2000:]
    containers, volumes = _objects(docker_client, job_id)
    assert len(containers) == 1 and volumes == [sandbox.resource_name(job_id, 1, "work")], "nothing left to recover"

    assert runner.reconcile() == []  # the job had ended: nothing to adopt, only leftovers to remove
    assert _objects(docker_client, job_id) == ([], [])
    row = store.query("SELECT status FROM jobs WHERE job_id = ?", (job_id,))[0]
    assert row["status"] == "succeeded"
