"""Shared fixtures: an isolated HOSTAPP_HOME, the real Docker engine, locally built images, a local registry."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Every event published in a test (and in the hostapp processes tests start) must fit its topic's
# declared type (hostapp/events/topics.py): a mismatch raises instead of being logged.
os.environ.setdefault("HOSTAPP_STRICT_EVENTS", "1")
BUSYBOX_IMAGE = "hostapp-test/busybox:latest"
PYTHON_IMAGE = "hostapp/python:3"


@pytest.fixture
def hostapp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "hostapp-home"
    monkeypatch.setenv("HOSTAPP_HOME", str(home))
    return home


@pytest.fixture
def app_paths(hostapp_home: Path):  # type: ignore[no-untyped-def]
    from hostapp.config.paths import default_paths

    return default_paths().ensure()


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    """The real engine. Not skipped when absent: the test setup starts one, so absence is a failure."""
    from hostapp.jobs.engine import connect

    client = connect(timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="session")
def local_images(docker_client: object) -> None:
    """Builds the busybox/python/ubuntu images with the same script setup.sh uses, if missing."""
    subprocess.run(["bash", str(ROOT / "scripts" / "build-images.sh")], check=True)


@pytest.fixture(scope="session")
def busybox_image(local_images: None) -> str:
    return BUSYBOX_IMAGE


@pytest.fixture(scope="session")
def python_image(local_images: None) -> str:
    return PYTHON_IMAGE


@pytest.fixture
def grid(tmp_path: Path) -> Iterator[object]:
    """A real local grid on loopback with short leases (8 s) and 1 s heartbeats, so expiry tests are quick."""
    from hostapp.localgrid.server import GridConfig, LocalGrid

    with LocalGrid(tmp_path / "grid", config=GridConfig(lease_seconds=8, heartbeat_seconds=1)) as local:
        yield local


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """A real registry (Debian's docker-registry) on 127.0.0.1; yields its address host:port."""
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


@pytest.fixture
def dead_docker_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"unix://{tmp_path}/no-docker.sock"
    monkeypatch.setenv("DOCKER_HOST", url)
    return url


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"hostapp tests: DOCKER_HOST={os.environ.get('DOCKER_HOST', 'default')}, "
        f"DBUS={'yes' if os.environ.get('DBUS_SESSION_BUS_ADDRESS') else 'no'}"
    )
