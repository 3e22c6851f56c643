"""Fixtures for the grid tests: a real local grid over loopback HTTP and nodes with real Ed25519 keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.grid.client import GridClient
from hostapp.grid.models import NodeRegistration
from hostapp.localgrid.server import GridConfig, LocalGrid
from tests.support import FreshKeystore

HELLO = {
    "version": "0.1",
    "type": "container",
    "ops": [{"type": "container/run", "id": "hello", "args": {"image": "ubuntu", "cmd": ["echo", "hello"]}}],
}


KeypairSigner = FreshKeystore  # the wallet's own signer, over a fresh key


@pytest.fixture
def grid(tmp_path: Path) -> Iterator[LocalGrid]:
    """The protocol tests' grid: leases long enough that none expires unless a test waits for it."""
    with LocalGrid(tmp_path / "grid", config=GridConfig(lease_seconds=30, heartbeat_seconds=10)) as local:
        yield local


@pytest.fixture
def signer() -> KeypairSigner:
    return KeypairSigner()


@pytest.fixture
def node(grid: LocalGrid, signer: KeypairSigner) -> Iterator[GridClient]:
    client = GridClient(grid.url, signer, timeout=5, retries=1, backoff_base=0.05)
    client.register(NodeRegistration(app_version="test"))
    yield client
    client.close()


def submit(grid: LocalGrid, definition: dict[str, Any] | None = None, price: int = 7, timeout: int = 600) -> str:
    response = httpx.post(
        f"{grid.url}/v1/jobs",
        json={"definition": definition or HELLO, "price_per_second": price, "timeout_seconds": timeout},
        headers=grid.owner_headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["job_id"])


def job(grid: LocalGrid, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{grid.url}/v1/jobs/{job_id}", headers=grid.owner_headers)
    assert response.status_code == 200, response.text
    return dict(response.json())
