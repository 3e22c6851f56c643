"""Crash recovery (SIGKILL the runner's process mid-job) and the run-job CLI as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hostapp.config.settings import JobLimits
from hostapp.events import EventBus
from hostapp.jobs.runner import JobRunner
from tests.support import job_file

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[3]

RUNNER_SCRIPT = """
import sys, docker
from hostapp.config.paths import default_paths
from hostapp.config.settings import JobLimits
from hostapp.events import EventBus
from hostapp.store import Store
from hostapp.jobs.definition import GridJob, parse_job_definition
from hostapp.jobs.runner import JobRunner
paths = default_paths().ensure()
limits = JobLimits(stop_grace_seconds=1)
runner = JobRunner(docker.from_env(), limits, paths, EventBus(), Store(paths.database), sys.argv[1])
definition = parse_job_definition(sys.argv[3])
runner.run(GridJob(sys.argv[2], 1, 5, 120, definition))
"""


def _start_runner(tmp_path: Path, instance: str, job_id: str, script: str) -> subprocess.Popen[bytes]:
    definition = {
        "ops": [
            {
                "type": "container/run",
                "id": "work",
                "args": {"image": "hostapp-test/busybox:latest", "cmd": script, "output": "/out"},
                "results": {"answer": "(?<=answer=)[0-9]+"},
            }
        ]
    }
    env = {**os.environ, "HOSTAPP_HOME": str(tmp_path)}
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER_SCRIPT, instance, job_id, json.dumps(definition)], env=env, cwd=ROOT
    )


def _wait_for_container(docker_client: Any, job_id: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = docker_client.containers.list(filters={"label": f"hostapp.job_id={job_id}"})
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("the runner never started the job's container")


def _runner(docker_client: Any, app_paths: Any, store: Any, instance: str) -> JobRunner:
    return JobRunner(docker_client, JobLimits(stop_grace_seconds=1), app_paths, EventBus(), store, instance)


def test_job_that_finished_while_the_runner_was_dead_is_collected(  # type: ignore[no-untyped-def]
    tmp_path, hostapp_home, app_paths, store, docker_client, busybox_image
) -> None:
    instance, job_id = f"crash-{os.getpid()}-a", f"crash-a-{int(time.time())}"
    proc = _start_runner(hostapp_home, instance, job_id, "sleep 1; echo answer=42; echo kept > /out/result.txt")
    container = _wait_for_container(docker_client, job_id)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    container.wait(timeout=30)  # the job finishes on its own, nobody watching
    assert store.query("SELECT status FROM jobs WHERE job_id = ?", (job_id,))[0]["status"] == "running"

    reconciled = _runner(docker_client, app_paths, store, instance).reconcile()

    assert [(r.job_id, r.status) for r in reconciled] == [(job_id, "succeeded")]
    op = reconciled[0].ops[0]
    assert op.exit_code == 0 and op.results == {"answer": ["42"]}
    assert op.output_files == ["result.txt"]
    row = store.query("SELECT status, reason FROM jobs WHERE job_id = ?", (job_id,))[0]
    assert row["status"] == "succeeded" and "collected at restart" in row["reason"]
    ops = store.query("SELECT status, exit_code, results FROM job_ops WHERE job_id = ?", (job_id,))
    assert ops[0]["status"] == "succeeded" and json.loads(ops[0]["results"]) == {"answer": ["42"]}
    assert not docker_client.containers.list(all=True, filters={"label": f"hostapp.job_id={job_id}"})
    assert not docker_client.volumes.list(filters={"label": f"hostapp.job_id={job_id}"})


def test_job_still_running_at_restart_is_stopped_and_recorded(  # type: ignore[no-untyped-def]
    hostapp_home, app_paths, store, docker_client, busybox_image
) -> None:
    instance, job_id = f"crash-{os.getpid()}-b", f"crash-b-{int(time.time())}"
    proc = _start_runner(hostapp_home, instance, job_id, "while true; do echo alive; sleep 0.2; done")
    _wait_for_container(docker_client, job_id)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    reconciled = _runner(docker_client, app_paths, store, instance).reconcile()

    assert [(r.job_id, r.status) for r in reconciled] == [(job_id, "stopped")]
    assert "alive" in reconciled[0].ops[0].log_tail
    row = store.query("SELECT status, reason, ended_at FROM jobs WHERE job_id = ?", (job_id,))[0]
    assert row["status"] == "stopped" and row["ended_at"] is not None
    assert not docker_client.containers.list(all=True, filters={"label": f"hostapp.job_id={job_id}"})


def test_orphan_container_without_record_is_removed(app_paths, store, docker_client, busybox_image) -> None:  # type: ignore[no-untyped-def]
    instance = f"orphan-{os.getpid()}"
    labels = {"hostapp.instance": instance, "hostapp.job_id": "ghost", "hostapp.attempt": "1", "hostapp.op_id": "x"}
    docker_client.containers.create(busybox_image, ["true"], labels=labels)
    assert _runner(docker_client, app_paths, store, instance).reconcile() == []
    assert not docker_client.containers.list(all=True, filters={"label": f"hostapp.instance={instance}"})


def _cli(hostapp_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOSTAPP_HOME": str(hostapp_home)}
    return subprocess.run(
        [sys.executable, "-m", "hostapp", "run-job", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("hello-world", 0),
        ("output", 0),
        ("globals-and-volume", 0),
        ("gpu", 3),
        ("expose-service", 3),
        ("model-resources", 0),
        ("confidential", 3),
    ],
)
def test_cli_dry_run_exit_codes(hostapp_home: Path, name: str, code: int, docker_client: Any) -> None:
    proc = _cli(hostapp_home, "--dry-run", str(job_file(name)))
    assert proc.returncode == code, proc.stdout + proc.stderr
    if code == 3:
        assert [line for line in proc.stdout.splitlines() if line.startswith("unsupported: ")]
    assert "Traceback" not in proc.stderr


def test_cli_runs_a_job_with_live_logs_and_results(hostapp_home: Path, docker_client: Any) -> None:
    proc = _cli(hostapp_home, str(job_file("results")))
    assert proc.returncode == 0, proc.stderr
    assert "[report] score: 41" in proc.stdout
    assert 'result score: ["41"]' in proc.stdout
    assert "succeeded" in proc.stderr


def test_cli_json_and_failing_job(hostapp_home: Path, tmp_path: Path, docker_client: Any) -> None:
    failing = tmp_path / "fail.json"
    failing.write_text(
        json.dumps({"ops": [{"type": "container/run", "id": "f", "args": {"image": "ubuntu", "cmd": "exit 4"}}]})
    )
    proc = _cli(hostapp_home, "--json", str(failing))
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert result["status"] == "failed" and result["ops"][0]["exit_code"] == 4


def test_cli_invalid_definition_lists_each_error(hostapp_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "ops": [
                    {
                        "type": "container/run",
                        "id": "a",
                        "args": {"image": "ubuntu", "cap_add": ["ALL"], "pid_mode": "host"},
                    }
                ]
            }
        )
    )
    proc = _cli(hostapp_home, "--dry-run", str(bad))
    assert proc.returncode == 2
    assert "invalid: $.ops[0].args.cap_add: unknown field 'cap_add'" in proc.stderr
    assert "invalid: $.ops[0].args.pid_mode: unknown field 'pid_mode'" in proc.stderr
    missing = _cli(hostapp_home, str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
