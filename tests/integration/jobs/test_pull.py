"""Pulls from a real local registry (Debian's docker-registry on 127.0.0.1): progress, digest pinning, cache."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hostapp.jobs.definition import GridJob, parse_job_definition

pytestmark = pytest.mark.docker


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry (Debian package docker-registry) is needed for the pull tests")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + str(tmp_path / "data") + "\n"
        "http:\n  addr: 127.0.0.1:" + str(port) + "\n"
    )
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def _push(docker_client: Any, source: str, ref: str) -> str:
    """Build a fresh image (a random layer on top of `source`), push it, and delete it locally."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (
            ("Dockerfile", f"FROM {source}\nCOPY payload /payload\n".encode()),
            ("payload", os.urandom(256 * 1024)),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=ref, rm=True)
    for _ in docker_client.api.push(ref, stream=True, decode=True):
        pass
    digest = next(d for d in docker_client.images.get(ref).attrs["RepoDigests"] if d.startswith(ref.split(":")[0]))
    docker_client.images.remove(ref)  # only the registry has it now
    return digest


def test_pull_with_progress_digest_pinning_and_cache_pruning(
    registry, make_runner, docker_client, busybox_image
) -> None:  # type: ignore[no-untyped-def]
    ref = f"{registry}/hostapp-test/busybox:pull"
    pinned = _push(docker_client, busybox_image, ref)  # name@sha256:…
    runner, events = make_runner()
    try:
        definition = parse_job_definition(
            {"ops": [{"type": "container/run", "id": "p", "args": {"image": pinned, "cmd": ["echo", "pulled"]}}]}
        )
        result = runner.run(GridJob("pull-1", 1, 1, 120, definition))
        assert result.status == "succeeded", result.reason
        assert result.ops[0].log_tail == "pulled"
        progress = events.of("job.pull.progress")
        assert progress and progress[-1]["finished"] is True
        assert progress[-1]["layers_total"] >= 1 and progress[-1]["layers_done"] >= 1
        assert progress[-1]["bytes_total"] > 0
        assert [image.ref for image in runner.images.tracked()] == [pinned]

        # A wrong digest is refused by the registry: the job fails with the reason, nothing raises.
        wrong = pinned.split("@")[0] + "@sha256:" + "0" * 64
        bad = parse_job_definition(
            {"ops": [{"type": "container/run", "id": "p", "args": {"image": wrong, "cmd": ["true"]}}]}
        )
        failed = runner.run(GridJob("pull-2", 1, 1, 60, bad))
        assert failed.status == "failed" and "not found" in (failed.reason or "")

        # Pruning to a zero budget removes what hostapp pulled, never the user's own images.
        runner.images.budget_bytes = 0
        assert runner.images.prune() == [pinned]
        assert runner.images.tracked() == []
        docker_client.images.get(busybox_image)  # still there
    finally:
        for image in docker_client.images.list(name=f"{registry}/hostapp-test/busybox"):
            docker_client.images.remove(image.id, force=True)
