"""The disk fills up during an image pull: the job fails with a reason the user can act on; the app keeps running.

Real parts only: a second Docker engine (dockerd, vfs storage) keeps its data on a small tmpfs, and the
job's image comes from a real local registry (Debian's docker-registry). The disk is made to fill at both
moments of a pull: while the layer downloads (Docker's tmp dir) and while it is unpacked. Afterwards the
same runner still runs a small job, and once there is room again the same image pulls and runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest

from hostapp.config.paths import AppPaths
from hostapp.config.settings import JobLimits
from hostapp.events import EventBus
from hostapp.jobs.definition import GridJob, parse_job_definition
from hostapp.jobs.runner import JobResult, JobRunner
from hostapp.store import Store
from tests.integration.jobs.conftest import Recorder

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MIB = 1024 * 1024


@dataclass
class SmallEngine:
    """A real dockerd whose data root is a tmpfs of a size the test sets (and changes while it runs)."""

    client: docker.DockerClient
    data_root: Path
    log: Path

    def resize(self, size_bytes: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size_bytes}", str(self.data_root)], check=True)
        assert shutil.disk_usage(self.data_root).total == pytest.approx(size_bytes, abs=MIB)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def small_engine() -> Iterator[SmallEngine]:
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        pytest.fail("the disk-full test needs root (to mount a tmpfs) and dockerd (Debian package docker.io)")
    base = Path(tempfile.mkdtemp(prefix="hostapp-df-", dir="/tmp"))  # short: dockerd's socket paths have a limit
    data_root, exec_root, log = base / "data", base / "exec", base / "dockerd.log"
    data_root.mkdir()
    (base / "daemon.json").write_text("{}")  # not the machine's /etc/docker/daemon.json
    mounted = False
    # Its own bridge: with --bridge=none dockerd deletes the interface docker0 at start, which would
    # cut the main engine's default network from under every later test.
    bridge = f"hdf{secrets.token_hex(4)}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    proc: subprocess.Popen[bytes] | None = None
    client: docker.DockerClient | None = None
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "hostapp-disk-full", str(data_root)], check=True)
        mounted = True
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [
                    dockerd,
                    f"--config-file={base / 'daemon.json'}",
                    f"--data-root={data_root}",
                    f"--exec-root={exec_root}",
                    f"--pidfile={base / 'dockerd.pid'}",
                    f"--host=unix://{base / 'docker.sock'}",
                    "--storage-driver=vfs",
                    f"--bridge={bridge}",
                    "--iptables=false",
                    "--ip6tables=false",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while client is None:
            if proc.poll() is not None:
                pytest.fail(f"the second dockerd exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(docker.errors.DockerException):  # not listening yet
                client = docker.DockerClient(base_url=f"unix://{base / 'docker.sock'}", timeout=120)
            if client is None:
                if time.monotonic() > deadline:
                    pytest.fail(f"the second dockerd did not answer within 60 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
        assert client.info()["Driver"] == "vfs"
        yield SmallEngine(client, data_root, log)
    finally:
        if client is not None:
            client.close()
        if proc is not None:
            _stop(proc, exec_root)
        if mounted:
            if subprocess.run(["umount", str(data_root)], check=False).returncode != 0:
                subprocess.run(["umount", "--lazy", str(data_root)], check=False)
        shutil.rmtree(base, ignore_errors=True)
        subprocess.run(["ip", "link", "delete", bridge], check=False)


def _stop(proc: subprocess.Popen[bytes], exec_root: Path) -> None:
    """Stop the second dockerd, and the containerd it started (it stops that itself unless it had to be killed)."""
    containerd_pid = exec_root / "containerd" / "containerd.pid"
    containerd = int(containerd_pid.read_text()) if containerd_pid.exists() else None
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    if containerd is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(containerd, signal.SIGKILL)


def _push(docker_client: Any, source: str, ref: str) -> None:
    """Push a local image of the main engine to the registry under `ref`, then drop that tag locally."""
    docker_client.images.get(source).tag(ref)
    try:
        for event in docker_client.api.push(ref, stream=True, decode=True):
            if "error" in event:
                pytest.fail(f"pushing {ref} to the test registry failed: {event['error']}")
    finally:
        docker_client.images.remove(ref)  # an untag: `source` stays


def _compressed_size(registry: str, ref: str) -> int:
    name, tag = ref.removeprefix(registry + "/").rsplit(":", 1)
    response = httpx.get(
        f"http://{registry}/v2/{name}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        timeout=10,
    )
    response.raise_for_status()
    return sum(int(layer["size"]) for layer in json.loads(response.text)["layers"])


def _run(runner: JobRunner, job_id: str, image: str, cmd: list[str]) -> JobResult:
    definition = parse_job_definition(
        {"ops": [{"type": "container/run", "id": "p", "args": {"image": image, "cmd": cmd}}]}
    )
    return runner.run(GridJob(job_id, 1, 1, 120, definition))


def test_disk_full_during_pull_fails_the_job_with_a_clear_reason_and_the_runner_keeps_working(
    small_engine: SmallEngine,
    registry: str,
    docker_client: Any,
    python_image: str,
    busybox_image: str,
    app_paths: AppPaths,
    store: Store,
) -> None:
    big = f"{registry}/hostapp-test/disk-full-python:3"
    small = f"{registry}/hostapp-test/disk-full-busybox:1"
    _push(docker_client, python_image, big)
    _push(docker_client, busybox_image, small)
    compressed = _compressed_size(registry, big)
    unpacked = int(docker_client.images.get(python_image).attrs["Size"])
    assert compressed > 16 * MIB, f"{python_image} is too small ({compressed} bytes) to fill the disk"

    bus = EventBus()
    events = Recorder(bus)
    runner = JobRunner(
        small_engine.client, JobLimits(stop_grace_seconds=1), app_paths, bus, store, f"test-{secrets.token_hex(4)}"
    )
    runner.images.trusted_registries.add(registry)  # the test's own loopback registry

    # Round "download": the compressed layer alone does not fit (Docker's tmp dir fills while it downloads).
    # Round "unpack": the download fits, the unpacked files do not (the disk fills while Docker extracts).
    moments = {"download": compressed // 2, "unpack": compressed + unpacked // 2}
    engine_errors = {"download": "GetImageBlob", "unpack": "failed to register layer"}
    for moment, size in moments.items():
        small_engine.resize(size)
        job_id = f"disk-full-{moment}"
        result = _run(runner, job_id, big, ["python3", "-c", "print('never')"])

        reason = result.reason or ""
        assert result.status == "failed", (result.status, reason)
        assert [op.status for op in result.ops] == ["failed"]
        assert reason.startswith(f"op p: not enough disk space to pull {big} (no space left on device): "), reason
        assert "free space on the disk that holds Docker's data" in reason and "docker system df" in reason, reason
        assert "\n" not in reason and len(reason) < 400, reason
        # What the user sees later: the stored job and the job.finished event carry the same reason.
        row = store.query("SELECT status, reason FROM jobs WHERE job_id = ?", (job_id,))[0]
        assert (row["status"], row["reason"]) == ("failed", reason)
        assert [e["reason"] for e in events.of("job.finished") if e["job_id"] == job_id] == [reason]
        # Nothing half-pulled is kept or counted against the image cache.
        with pytest.raises(docker.errors.ImageNotFound):
            small_engine.client.images.get(big)
        assert runner.images.tracked() == []
        # The engine itself hit the full disk at the moment this round is about.
        full = [line for line in small_engine.log_text().splitlines() if "no space left on device" in line]
        assert any(engine_errors[moment] in line for line in full), (moment, full[-3:])

    # The app keeps running: the same runner, on the same still-small disk, runs the next (small) job.
    after = _run(runner, "disk-full-next", small, ["echo", "still running"])
    assert after.status == "succeeded", after.reason
    assert after.ops[0].log_tail == "still running"

    # With room made on the disk, as the reason says, the same image pulls and runs. vfs copies the whole image
    # for a container's init layer and again for its own layer: room for the blob and 3 copies, plus some.
    small_engine.resize(compressed + 4 * unpacked)
    retry = _run(runner, "disk-full-retry", big, ["python3", "-c", "print('pulled after freeing space')"])
    assert retry.status == "succeeded", retry.reason
    assert retry.ops[0].log_tail == "pulled after freeing space"
    assert sorted(image.ref for image in runner.images.tracked()) == sorted([small, big])
