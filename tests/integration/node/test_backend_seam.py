"""The seam is real: a grid backend written here, in the test, drives a real node.

`MemoryGrid` is a second backend in the sense of hostapp/node/backend.py: no HTTP, no grid server,
nothing of hostapp/grid/client.py; it offers one job for the local busybox image, takes the result
and reports credits. A real `Node` with the real `JobRunner` on the Docker engine works for it: the
job runs in a container, the result is delivered through the node's outbox, and the ledger row is
credited. If the slot loop needed anything of a grid beyond `GridBackend`, this test would fail.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from hostapp.config.paths import AppPaths
from hostapp.config.settings import JobLimits
from hostapp.events import EventBus
from hostapp.grid.billing import billed_amount
from hostapp.grid.client import Lease, LeaseLost
from hostapp.grid.models import (
    CreditEntry,
    Credits,
    JobResult,
    NodeInfo,
    NodeRegistration,
    Released,
    ResultAccepted,
)
from hostapp.jobs.runner import JobRunner
from hostapp.node.backend import GridBackend
from hostapp.node.inputs import InputAssembler
from hostapp.node.slots import Node, NodeConfig
from hostapp.schedule import policy as pol
from hostapp.schedule.policy_file import save_policy
from hostapp.store import Store
from tests.support import busybox_job, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PRICE = 321  # base units per second


class MemoryGrid:
    """An in-memory grid with one job to give: the whole of what a backend has to be."""

    base_url = "memory://seam-test"

    def __init__(self, definition: dict[str, Any]) -> None:
        self.job_id = "seam-" + uuid.uuid4().hex[:8]
        self.definition = definition
        self.offered = False
        self.results: dict[tuple[str, int], JobResult] = {}
        self.credited: dict[tuple[str, int], tuple[int, int]] = {}
        self.heartbeats = 0
        self.registered: NodeRegistration | None = None
        self._lock = threading.Lock()
        self._online: bool | None = None

    @property
    def online(self) -> bool | None:
        return self._online

    def register(self, registration: NodeRegistration | None = None) -> NodeInfo:
        self._online = True
        self.registered = registration or NodeRegistration()
        now = int(time.time())
        return NodeInfo(
            node="memory-node",
            payout_address=self.registered.payout_address or "memory-node",
            gpus=self.registered.gpus,
            driver_version=None,
            cuda_version=None,
            app_version=self.registered.app_version,
            registered_at=now,
            updated_at=now,
        )

    def lease(
        self,
        wait_seconds: float = 20.0,
        free_gpus: list[str] | None = None,
        accept_cpu_jobs: bool = True,
        held_resources: list[str] | None = None,
    ) -> Lease | None:
        with self._lock:
            if not self.offered and accept_cpu_jobs:
                self.offered = True
                return Lease(
                    job_id=self.job_id,
                    attempt=1,
                    price_per_second=PRICE,
                    timeout_seconds=60,
                    definition=self.definition,
                    gpu_uuid=None,
                    lease_seconds=30,
                    heartbeat_seconds=1,
                    expires_monotonic=time.monotonic() + 30,
                )
        time.sleep(min(wait_seconds, 0.2))  # a long poll that found nothing
        return None

    def heartbeat(
        self,
        lease: Lease,
        *,
        progress: float | None = None,
        state: str | None = None,
        telemetry: dict[str, int | float | str | None] | None = None,
    ) -> Lease:
        if (lease.job_id, lease.attempt) in self.results:
            raise LeaseLost(404, "no_lease", "the job already has its result")
        self.heartbeats += 1
        lease.expires_monotonic = time.monotonic() + lease.lease_seconds
        return lease

    def release(self, lease: Lease, reason: str = "") -> Released:
        return Released(job_id=lease.job_id, attempt=lease.attempt, job_state="queued")

    def deliver_result(self, job_id: str, attempt: int, result: JobResult) -> ResultAccepted:
        with self._lock:
            duplicate = (job_id, attempt) in self.results
            if not duplicate:
                self.results[(job_id, attempt)] = result
                billed = billed_amount(result.run_seconds, PRICE, 60) if result.status == "succeeded" else (0, 0)
                self.credited[(job_id, attempt)] = billed
            seconds, amount = self.credited[(job_id, attempt)]
        return ResultAccepted(
            job_id=job_id, attempt=attempt, duplicate=duplicate, seconds_billed=seconds, amount=amount
        )

    def credits(self) -> Credits:
        entries = [
            CreditEntry(
                job_id=job_id,
                attempt=attempt,
                seconds_billed=seconds,
                price_per_second=PRICE,
                amount=amount,
                status="credited",
                payout_address="memory-node",
                payout_signature=None,
                credited_at=int(time.time()),
            )
            for (job_id, attempt), (seconds, amount) in self.credited.items()
        ]
        total = sum(e.amount for e in entries)
        return Credits(node="memory-node", credited=total, paid=0, unpaid=total, entries=entries)

    def close(self) -> None:
        pass


def test_a_backend_defined_in_a_test_drives_a_real_node(tmp_path: Path, docker_client: Any, busybox_image: str) -> None:
    grid = MemoryGrid(busybox_job(1, "seam"))
    assert isinstance(grid, GridBackend)
    root = tmp_path / "home"
    paths = AppPaths(root / "c", root / "d", root / "ca", root / "l", root / "r").ensure()
    store = Store(paths.database)
    bus = EventBus()
    policy_path = paths.config / "schedule.json"
    save_policy(policy_path, pol.AvailabilityPolicy())
    runner = JobRunner(
        docker_client, JobLimits(stop_grace_seconds=1), paths, bus, store, "seam-" + uuid.uuid4().hex[:8]
    )
    node = Node(
        bus=bus,
        store=store,
        grid=grid,
        runner=runner,
        policy_path=policy_path,
        inputs=InputAssembler([], None, battery=lambda: None),
        gpus=[],
        config=NodeConfig(lease_wait_seconds=1, supervisor_seconds=0.05, credits_sync_seconds=0.5),
        driver_tick_seconds=1,
    )
    node.start()
    try:
        row = wait_for(
            lambda: (r := node.ledger.get(grid.job_id, 1)) is not None and r.status == "credited" and r,
            timeout=90,
            what="the memory grid's job run, delivered and credited",
        )
        result = grid.results[(grid.job_id, 1)]
        assert result.status == "succeeded" and "done seam" in result.logs  # it ran in a real container
        seconds, amount = grid.credited[(grid.job_id, 1)]
        assert (row.seconds_billed, row.amount, row.rate_per_second) == (seconds, amount, PRICE)
        assert amount == seconds * PRICE >= PRICE
        assert node.outbox.size() == 0
        assert node.status().earned == amount and node.status().grid_url == grid.base_url
        assert grid.registered is not None
    finally:
        node.stop(timeout=20)
        store.close()


def test_the_settings_pick_the_backend_in_one_place(hostapp_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`Services.grid_backend` follows `grid.backend`: "nosana" goes to hostapp/nosana/backend.py (its
    construction stood in for by a MemoryGrid here) and starts no embedded grid process."""
    from hostapp.app import build_services
    from hostapp.nosana.backend import NosanaBackend

    built: list[object] = []
    stand_in = MemoryGrid(busybox_job(0))
    monkeypatch.setattr(
        NosanaBackend, "from_services", classmethod(lambda cls, services: built.append(services) or stand_in)
    )
    services = build_services(setup_logs=False)
    try:
        services.settings.grid.backend = "nosana"
        assert services.grid_backend is stand_in and built == [services]
        assert not services.uses_local_grid
        services.payout_verifier()  # what the node builds beside its backend
        assert "local_grid" not in services.__dict__ and "grid_client" not in services.__dict__
    finally:
        services.close()
