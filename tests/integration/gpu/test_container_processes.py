"""Process classification with real container pids from the real Docker engine (NVML is faked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hostapp.events import Event, EventBus
from hostapp.gpu.fake_nvml import FakeNvml
from hostapp.gpu.probe import NvmlProbe
from hostapp.gpu.processes import (
    FOREIGN_USE_STARTED,
    JOB_LABEL,
    ForeignUseWatcher,
    JobContainers,
    ProcessClassifier,
    ProcessKind,
    container_id_of,
)

pytestmark = pytest.mark.docker

PROFILES = Path(__file__).resolve().parents[2] / "fixtures" / "nvml"


def _start(docker_client: Any, image: str, labels: dict[str, str]) -> Any:
    container = docker_client.containers.run(
        image,
        ["sleep", "60"],
        detach=True,
        labels=labels,
        network_mode="none",
        name=f"hostapp-gpu-test-{uuid.uuid4().hex[:8]}",
    )
    container.reload()
    return container


@pytest.fixture
def containers(docker_client: Any, busybox_image: str) -> Iterator[tuple[Any, Any]]:
    job = _start(docker_client, busybox_image, {JOB_LABEL: "job-7", "hostapp.op_id": "run"})
    other = _start(docker_client, busybox_image, {"com.example": "someone-else"})
    try:
        yield job, other
    finally:
        for c in (job, other):
            c.remove(force=True)


def test_job_container_pid_is_ours_host_pid_is_foreign(docker_client: Any, containers: tuple[Any, Any]) -> None:
    job, other = containers
    job_pid, other_pid = job.attrs["State"]["Pid"], other.attrs["State"]["Pid"]
    assert job_pid > 0 and other_pid > 0
    assert container_id_of(job_pid) == job.id

    nvml = FakeNvml(json.loads((PROFILES / "rtx4090.json").read_text()))
    nvml.set_processes(
        0,
        compute=[(job_pid, 3 * 1024**3), (other_pid, 1024**3), (os.getpid(), 256 * 1024**2)],
        graphics=[(4190001, 412 * 1024**2)],
    )
    probe = NvmlProbe.open(nvml)
    assert isinstance(probe, NvmlProbe)
    lookup = JobContainers(docker_client)
    classifier = ProcessClassifier(probe, lookup, allow=["Xorg"])
    by_pid = {p.pid: p for p in classifier.classify_gpu(0)}

    assert by_pid[job_pid].kind is ProcessKind.OURS
    assert by_pid[job_pid].job_id == "job-7" and by_pid[job_pid].container_id == job.id
    assert by_pid[job_pid].name == "sleep"
    assert by_pid[other_pid].kind is ProcessKind.FOREIGN_COMPUTE  # a container, but not one of ours
    assert by_pid[os.getpid()].kind is ProcessKind.FOREIGN_COMPUTE
    assert by_pid[4190001].kind is ProcessKind.IGNORED

    # Labels never change: a second pass asks the engine nothing new.
    assert lookup.lookups == 2
    classifier.classify_gpu(0)
    assert lookup.lookups == 2

    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(FOREIGN_USE_STARTED, events.append)
    ForeignUseWatcher(bus).update(probe.detect().gpus[0].uuid, by_pid.values())
    [started] = events
    assert job_pid not in started.data["pids"]
    assert sorted(started.data["pids"]) == sorted([other_pid, os.getpid()])


def test_cli_json_marks_the_job_container_as_ours(
    hostapp_home: Path, tmp_path: Path, containers: tuple[Any, Any]
) -> None:
    job, _other = containers
    profile = json.loads((PROFILES / "rtx4090.json").read_text())
    profile["devices"][0]["compute_processes"] = [{"pid": job.attrs["State"]["Pid"], "used_memory": 1024**3}]
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    result = subprocess.run(
        [sys.executable, "-m", "hostapp", "gpu", "--json"],
        env={**os.environ, "HOSTAPP_FAKE_NVML": str(path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    [ours] = [p for p in json.loads(result.stdout)["gpus"][0]["processes"] if p["kind"] == "ours"]
    assert ours["job_id"] == "job-7" and ours["name"] == "sleep"
