"""A real node (slot loop, runner, ServiceHost) against the real local grid (with its SSH edge) over HTTP."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from solders.keypair import Keypair

from hostapp.config.paths import AppPaths
from hostapp.config.settings import JobLimits
from hostapp.events import Event, EventBus
from hostapp.grid.client import GridClient
from hostapp.jobs.runner import JobRunner
from hostapp.localgrid.server import LocalGrid
from hostapp.node.inputs import InputAssembler
from hostapp.node.slots import Node, NodeConfig
from hostapp.schedule import policy as pol
from hostapp.schedule.policy_file import save_policy
from hostapp.services.host import ServiceHost
from hostapp.services.settings import ServiceSettings
from hostapp.store import Store
from hostapp.wallet.keystore import KeypairKeystore

GPU = "GPU-00000000-test-0000-0000-000000000000"
FAST_CHECKS = ServiceSettings(
    health_interval_seconds=0.3, health_timeout_seconds=2, health_retries=2, startup_seconds=30
)


def service_job(check_path: str = "/health", start_delay: float = 0) -> dict[str, Any]:
    return {
        "version": "0.1",
        "type": "container",
        "ops": [
            {
                "type": "container/run",
                "id": "api",
                "args": {
                    "image": "hostapp/demo-service:1",
                    "env": {"PORTS": "8080", "START_DELAY": str(start_delay)},
                    "expose": [
                        {
                            "port": 8080,
                            "type": "api",
                            "health_checks": [
                                {
                                    "type": "http",
                                    "path": check_path,
                                    "method": "GET",
                                    "expected_status": 200,
                                    "continuous": True,
                                }
                            ],
                        }
                    ],
                },
            }
        ],
    }


class Foreign:
    def __init__(self) -> None:
        self.now: dict[str, list[tuple[int, str]]] = {}

    def foreign_processes(self, uuid_: str) -> list[tuple[int, str]]:
        return list(self.now.get(uuid_, []))


class NodeHarness:
    def __init__(self, tmp_path: Path, grid: LocalGrid, docker_client: Any, **config: Any) -> None:
        root = tmp_path / "home"
        self.grid = grid
        self.paths = AppPaths(root / "c", root / "d", root / "ca", root / "l", root / "r").ensure()
        self.store = Store(self.paths.database)
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.subscribe("*", self.events.append)
        self.foreign = Foreign()
        policy_path = self.paths.config / "schedule.json"
        save_policy(policy_path, pol.AvailabilityPolicy(rules=pol.Rules(foreign_process_grace_seconds=0)))
        keystore = KeypairKeystore(Keypair())
        self.client = GridClient(grid.url, keystore, bus=self.bus, timeout=5, retries=1, backoff_base=0.05)
        instance = "test-" + uuid.uuid4().hex[:8]
        self.runner = JobRunner(
            docker_client, JobLimits(stop_grace_seconds=1), self.paths, self.bus, self.store, instance
        )
        self.runner.services = ServiceHost(docker_client.api, self.bus, self.runner.stop, settings=FAST_CHECKS)
        self.runner.services.use_grid(keystore, self.client)
        self.node = Node(
            bus=self.bus,
            store=self.store,
            grid=self.client,
            runner=self.runner,
            policy_path=policy_path,
            inputs=InputAssembler([GPU], None, foreign=self.foreign, battery=lambda: None),
            gpus=[GPU],
            config=NodeConfig(lease_wait_seconds=1, supervisor_seconds=0.05, credits_sync_seconds=0.5, **config),
            driver_tick_seconds=1,
        )

    def submit(self, definition: dict[str, Any], timeout: int = 120, price: int = 1_000) -> str:
        response = httpx.post(
            self.grid.url + "/v1/jobs",
            json={"definition": definition, "price_per_second": price, "timeout_seconds": timeout},
            headers=self.grid.owner_headers,
        )
        response.raise_for_status()
        return str(response.json()["job_id"])

    def owner(self, method: str, path: str) -> httpx.Response:
        body = {} if method == "POST" else None  # the grid takes JSON bodies only
        return httpx.request(method, self.grid.url + path, headers=self.grid.owner_headers, json=body, timeout=10)

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.owner("GET", f"/v1/jobs/{job_id}").json())

    def urls(self, job_id: str) -> dict[int, str]:
        services = self.owner("GET", f"/v1/services?job_id={job_id}").json()["services"]
        return {s["port"]: s["url"] for s in services}

    def topics(self, topic: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.topic == topic]

    def start_game(self) -> None:
        self.foreign.now[GPU] = [(4242, "game.exe")]
        self.bus.publish("gpu.foreign_use_started", gpu_uuid=GPU, processes=["game.exe"], pids=[4242], graphics=True)

    def stop_game(self) -> None:
        self.foreign.now.clear()
        self.bus.publish("gpu.foreign_use_stopped", gpu_uuid=GPU, processes=["game.exe"], pids=[4242], graphics=True)

    def close(self) -> None:
        self.node.stop(timeout=20)
        if self.runner.services is not None:
            self.runner.services.close()
        self.client.close()
        self.store.close()
