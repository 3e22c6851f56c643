"""Real parts for the service tests: the demo service image in a hardened container on an internal job
bridge, the grid's SQLite store with a registered node and a live lease, the SSH edge on loopback, and a
node key from a real Solana keypair (solders)."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair

from hostapp.config.settings import JobLimits
from hostapp.jobs import sandbox
from hostapp.localgrid.store import GridStore
from hostapp.localgrid.tunnel_edge import EdgeLimits, GridStoreLeases, TunnelEdge
from hostapp.services.loop import LoopThread
from hostapp.services.network import checked_destination, network_create_kwargs
from hostapp.services.tunnel import EdgeAddress, ServiceTunnel

ROOT = Path(__file__).resolve().parents[3]
SERVICE_IMAGE = "hostapp/demo-service:1"


class NodeKey:
    """The wallet's Keystore shape over a fresh keypair."""

    def __init__(self) -> None:
        self._keypair = Keypair()

    @property
    def pubkey(self) -> str:
        return str(self._keypair.pubkey())

    def sign(self, message: bytes) -> bytes:
        return bytes(self._keypair.sign_message(message))


@pytest.fixture(scope="session")
def service_image(local_images: None) -> str:
    subprocess.run(["bash", str(ROOT / "scripts" / "build-images.sh")], check=True)
    return SERVICE_IMAGE


@dataclass
class Container:
    id: str
    network: str
    address: str
    api: Any

    def exec(self, *cmd: str) -> None:
        exec_id = self.api.exec_create(self.id, list(cmd))
        self.api.exec_start(exec_id)


def start_service(api: Any, image: str, ports: str = "8080,9090", env: dict[str, str] | None = None) -> Container:
    """The demo server in the runner's hardened sandbox on its own internal bridge (no published port)."""
    job = f"svc{secrets.token_hex(4)}"
    kwargs = network_create_kwargs(job, 1, "test-services", None, outbound=False)
    name = kwargs.pop("name")
    api.create_network(name, **kwargs)
    volume = sandbox.resource_name(job, 1, "work")
    api.create_volume(volume)
    spec = sandbox.OpSandbox(
        image=image,
        command=None,
        entrypoint=None,
        env={"PORTS": ports, **(env or {})},
        work_dir=None,
        work_volume=volume,
        work_mount="/work",
        network=name,
        labels=sandbox.job_labels("test-services", job, 1, "container", "web"),
    )
    created = api.create_container(**sandbox.create_container_kwargs(api, spec, JobLimits(), f"{name}-web"))
    api.start(created["Id"])
    address = checked_destination(api, created["Id"], name)
    return Container(created["Id"], name, address, api)


def remove_service(container: Container) -> None:
    api = container.api
    api.remove_container(container.id, force=True)
    api.remove_network(container.network)
    for volume in api.volumes(filters={"name": container.network.removesuffix("-net")})["Volumes"] or []:
        api.remove_volume(volume["Name"], force=True)


def wait_port(address: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def service(docker_client: Any, service_image: str) -> Iterator[Container]:
    container = start_service(docker_client.api, service_image)
    wait_port(container.address, 8080)
    yield container
    remove_service(container)


SERVICE_DEFINITION = {
    "version": "0.1",
    "type": "container",
    "ops": [
        {
            "type": "container/run",
            "id": "web",
            "args": {
                "image": SERVICE_IMAGE,
                "expose": [
                    {
                        "port": 8080,
                        "health_checks": [
                            {
                                "type": "http",
                                "path": "/health",
                                "method": "GET",
                                "expected_status": 200,
                                "continuous": True,
                            }
                        ],
                    },
                    9090,
                ],
            },
        }
    ],
}


@dataclass
class Grid:
    store: GridStore
    edge: TunnelEdge
    loop: LoopThread
    node: NodeKey
    job_id: str
    attempt: int

    @property
    def address(self) -> EdgeAddress:
        return EdgeAddress("127.0.0.1", self.edge.ssh_port, self.edge.host_key_line)

    def tunnel(self, targets: dict[int, str], node: NodeKey | None = None, job_id: str | None = None) -> ServiceTunnel:
        return ServiceTunnel(self.address, node or self.node, job_id or self.job_id, self.attempt, targets)

    def release(self) -> None:
        self.store.release(self.node.pubkey, self.job_id, self.attempt, time.time())


def make_grid(tmp_path: Path, limits: EdgeLimits | None = None) -> Grid:
    store = GridStore(tmp_path / "grid.sqlite3")
    node = NodeKey()
    store.upsert_node(node.pubkey, {"gpus": []}, time.time())
    job_id = store.submit_job(
        json.loads(json.dumps(SERVICE_DEFINITION)), 10, 600, gpu=False, min_vram_mb=None, min_cuda=None
    )
    lease = store.claim(node.pubkey, [], True, 60, time.time())
    assert lease is not None and lease.job_id == job_id
    loop = LoopThread()
    edge = TunnelEdge(GridStoreLeases(store), limits=limits or EdgeLimits(recheck_seconds=0.2))
    loop.run(edge.start(), 10)
    return Grid(store, edge, loop, node, job_id, lease.attempt)


@pytest.fixture
def grid_edge(tmp_path: Path) -> Iterator[Grid]:
    grid = make_grid(tmp_path)
    yield grid
    grid.loop.run(grid.edge.close(), 10)
    grid.loop.close()
    grid.store.close()
