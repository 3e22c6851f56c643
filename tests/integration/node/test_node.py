"""The node against the real local grid over HTTP, the real runner and the real Docker engine."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from hostapp.config.paths import AppPaths
from hostapp.config.settings import JobLimits
from hostapp.events import Event, EventBus
from hostapp.grid.client import GridClient, GridRejected
from hostapp.grid.models import NodeInfo, NodeRegistration
from hostapp.jobs.runner import JobRunner
from hostapp.localgrid.server import LocalGrid
from hostapp.node.inputs import InputAssembler
from hostapp.node.slots import Node, NodeConfig, NodeState
from hostapp.schedule import policy as pol
from hostapp.schedule.grid import Cell, WeeklyGrid
from hostapp.schedule.policy_file import save_policy
from hostapp.store import Store
from hostapp.wallet.keystore import KeypairKeystore
from tests.support import busybox_job, push_fresh_image, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

GPU = "GPU-00000000-test-0000-0000-000000000000"


job = busybox_job  # imported by other suites under this name


class Foreign:
    """What the GPU watcher would report: processes per GPU, settable by the test."""

    def __init__(self) -> None:
        self.now: dict[str, list[tuple[int, str]]] = {}

    def foreign_processes(self, uuid_: str) -> list[tuple[int, str]]:
        return list(self.now.get(uuid_, []))


def submit(grid: LocalGrid, definition: dict[str, Any], price: int = 1_000, timeout: int = 120) -> str:
    response = httpx.post(
        grid.url + "/v1/jobs",
        json={"definition": definition, "price_per_second": price, "timeout_seconds": timeout},
        headers=grid.owner_headers,
    )
    response.raise_for_status()
    return str(response.json()["job_id"])


def job_status(grid: LocalGrid, job_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{grid.url}/v1/jobs/{job_id}", headers=grid.owner_headers).json())


class Harness:
    def __init__(
        self, tmp_path: Path, grid: LocalGrid, docker_client: Any, policy: pol.AvailabilityPolicy, **config: Any
    ) -> None:
        root = tmp_path / "home"
        self.paths = AppPaths(root / "c", root / "d", root / "ca", root / "l", root / "r").ensure()
        self.store = Store(self.paths.database)
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.subscribe("*", self.events.append)
        self.foreign = Foreign()
        self.policy_path = self.paths.config / "schedule.json"
        save_policy(self.policy_path, policy)
        self.client = GridClient(
            grid.url,
            KeypairKeystore(Keypair()),
            bus=self.bus,
            timeout=5,
            retries=1,
            backoff_base=0.05,
        )
        self.runner = JobRunner(
            docker_client,
            JobLimits(stop_grace_seconds=1),
            self.paths,
            self.bus,
            self.store,
            "test-" + uuid.uuid4().hex[:8],
        )
        self.node = Node(
            bus=self.bus,
            store=self.store,
            grid=self.client,
            runner=self.runner,
            policy_path=self.policy_path,
            inputs=InputAssembler([GPU], None, foreign=self.foreign, battery=lambda: None),
            gpus=[GPU],
            config=NodeConfig(lease_wait_seconds=1, supervisor_seconds=0.05, credits_sync_seconds=0.5, **config),
            driver_tick_seconds=1,
            power=lambda _uuid: 250.0,  # what the telemetry sampler would read: a card drawing 250 W
        )

    def slot(self) -> Any:
        return self.node.slots[GPU]

    def container(self, docker_client: Any, job_id: str) -> Any:
        found = docker_client.containers.list(all=True, filters={"label": f"hostapp.job_id={job_id}"})
        return found[0] if found else None

    def close(self) -> None:
        self.node.stop(timeout=20)
        self.client.close()
        self.store.close()


def registered(client: GridClient) -> NodeInfo | None:
    try:
        return client.node_info()
    except GridRejected as exc:
        if exc.code != "not_registered":
            raise
        return None


def game_policy() -> pol.AvailabilityPolicy:
    return pol.AvailabilityPolicy(rules=pol.Rules(foreign_process_grace_seconds=0))


def test_game_freezes_the_job_and_it_thaws_then_finishes(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, busybox_image: str
) -> None:
    h = Harness(tmp_path, grid, docker_client, game_policy(), preempt_after_seconds=60)
    h.node.start()
    try:
        job_id = submit(grid, job(4, "freeze"))
        wait_for(lambda: h.slot().state is NodeState.WORKING and h.container(docker_client, job_id), what="working")
        container = wait_for(lambda: h.container(docker_client, job_id), what="container")
        wait_for(lambda: (container.reload(), container.status == "running")[1], what="running container")

        h.foreign.now[GPU] = [(4242, "eldenring.exe")]
        h.bus.publish("gpu.foreign_use_started", gpu_uuid=GPU, processes=["eldenring.exe"], pids=[4242], graphics=True)
        wait_for(lambda: (container.reload(), container.attrs["State"]["Paused"])[1], timeout=5, what="frozen")
        assert h.slot().state is NodeState.PAUSED
        assert "eldenring.exe" in h.node.status().headline

        h.foreign.now.clear()
        h.bus.publish("gpu.foreign_use_stopped", gpu_uuid=GPU, processes=["eldenring.exe"], pids=[4242], graphics=True)
        wait_for(lambda: (container.reload(), not container.attrs["State"]["Paused"])[1], timeout=5, what="thawed")
        wait_for(lambda: job_status(grid, job_id)["state"] == "succeeded", timeout=30, what="job succeeded")
        row = wait_for(lambda: h.node.ledger.get(job_id, 1), what="ledger row")
        wait_for(lambda: (row := h.node.ledger.get(job_id, 1)) and row.status == "credited", what="credited")
        row = h.node.ledger.get(job_id, 1)
        assert row is not None and row.amount == row.seconds_billed * 1_000 and row.seconds_billed >= 4
        # Energy metered from the GPU's power draw over the run: 250 W for ~4-8 s = ~280-560 mWh.
        energy = h.store.query("SELECT energy_mwh FROM ledger WHERE job_id = ?", (job_id,))[0][0]
        assert 250 * 4 / 3.6 * 0.9 <= energy <= 250 * (row.seconds_billed + 3) / 3.6
        states = [e.data["state"] for e in h.events if e.topic == "node.state"]
        assert {"working", "pausing", "paused"} <= set(states)
    finally:
        h.close()


def test_a_long_game_stops_the_job_and_the_grid_reoffers_it(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, busybox_image: str
) -> None:
    h = Harness(tmp_path, grid, docker_client, game_policy(), preempt_after_seconds=1)
    h.node.start()
    try:
        job_id = submit(grid, job(3, "preempt"))
        wait_for(lambda: h.slot().state is NodeState.WORKING, what="working")
        h.foreign.now[GPU] = [(4242, "game.exe")]
        h.bus.publish("gpu.foreign_use_started", gpu_uuid=GPU, processes=["game.exe"], pids=[4242], graphics=True)
        row = wait_for(
            lambda: (r := h.node.ledger.get(job_id, 1)) and r.status == "failed" and r,
            timeout=20,
            what="attempt 1 stopped",
        )
        assert "game.exe" in (row.reason or "")
        wait_for(lambda: job_status(grid, job_id)["state"] == "queued", timeout=10, what="job re-offered")
        h.foreign.now.clear()
        h.bus.publish("gpu.foreign_use_stopped", gpu_uuid=GPU, processes=["game.exe"], pids=[4242], graphics=True)
        wait_for(lambda: job_status(grid, job_id)["state"] == "succeeded", timeout=40, what="attempt 2 succeeded")
        wait_for(lambda: (r := h.node.ledger.get(job_id, 2)) and r.status == "credited", what="attempt 2 credited")
        assert h.node.ledger.total() == h.node.ledger.get(job_id, 2).amount  # type: ignore[union-attr]
    finally:
        h.close()


def test_schedule_edge_drains_a_job_that_fits(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, busybox_image: str
) -> None:
    h = Harness(tmp_path, grid, docker_client, pol.AvailabilityPolicy(), drain_seconds=60)
    h.node.start()
    try:
        job_id = submit(grid, job(3, "drain"))
        wait_for(lambda: h.slot().state is NodeState.WORKING, what="working")
        h.node.update_policy(lambda p: replace(p, grid=WeeklyGrid.filled(Cell.OFF)))
        assert h.node.driver.decision is not None and not h.node.driver.decision.available
        wait_for(
            lambda: (r := h.node.ledger.get(job_id, 1)) and r.status == "credited",
            timeout=30,
            what="drained job credited",
        )
        wait_for(lambda: h.slot().state is NodeState.UNAVAILABLE, what="unavailable after the edge")
        assert "outside" in h.slot().headline.lower()
    finally:
        h.close()


def test_schedule_edge_stops_a_job_that_outlasts_the_drain(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, busybox_image: str
) -> None:
    h = Harness(tmp_path, grid, docker_client, pol.AvailabilityPolicy(), drain_seconds=1)
    h.node.start()
    try:
        job_id = submit(grid, job(60, "too-long"))
        wait_for(lambda: h.slot().state is NodeState.WORKING, what="working")
        h.node.update_policy(lambda p: replace(p, grid=WeeklyGrid.filled(Cell.OFF)))
        wait_for(lambda: (r := h.node.ledger.get(job_id, 1)) and r.status == "failed", timeout=20, what="stopped")
        wait_for(lambda: job_status(grid, job_id)["state"] == "queued", timeout=10, what="re-offered")
        assert h.container(docker_client, job_id) is None or h.container(docker_client, job_id).status != "running"
    finally:
        h.close()


def test_a_job_with_a_feature_this_host_does_not_run_fails_visibly(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, busybox_image: str
) -> None:
    """Never run with a feature silently dropped: an Ollama model (not fetched here) fails the job with the reason."""
    h = Harness(tmp_path, grid, docker_client, pol.AvailabilityPolicy())
    h.node.start()
    try:
        definition = job(1, "s3")
        definition["ops"][0]["args"]["resources"] = [{"type": "Ollama", "model": "llama3.1:8b"}]
        job_id = submit(grid, definition)
        row = wait_for(lambda: (r := h.node.ledger.get(job_id, 1)) and r.status == "failed" and r, what="failed")
        assert row.reason is not None and "unsupported: op run: args.resources[0]: Ollama model" in row.reason
        assert job_status(grid, job_id)["state"] == "failed"
        assert h.container(docker_client, job_id) is None
    finally:
        h.close()


def test_a_new_payout_address_reaches_the_grid_without_a_restart(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, busybox_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = Harness(tmp_path, grid, docker_client, pol.AvailabilityPolicy())
    h.node.start()
    try:
        # "Waiting" can show before the slot worker has registered (the schedule's answer comes first).
        info = wait_for(lambda: registered(h.client), what="registered")
        assert info.payout_address == h.client.signer.pubkey  # paid to the node key by default
        cold_wallet = str(Keypair().pubkey())
        h.bus.publish("wallet.payout_address", address=cold_wallet)
        wait_for(lambda: h.client.node_info().payout_address == cold_wallet, what="re-registered", timeout=30)
        # A change that lands while a registration is in flight is not lost. The real call runs; the
        # user's change is made to arrive just as it returns, the moment a race would drop it.
        real_register, late = h.client.register, str(Keypair().pubkey())

        def register_then_change(registration: NodeRegistration) -> NodeInfo:
            answer = real_register(registration)
            if registration.payout_address != late:
                h.bus.publish("wallet.payout_address", address=late)
            return answer

        monkeypatch.setattr(h.client, "register", register_then_change)
        h.bus.publish("wallet.payout_address", address=str(Keypair().pubkey()))
        wait_for(lambda: h.client.node_info().payout_address == late, what="the late address", timeout=10)
    finally:
        h.close()


def test_the_pre_pull_list_is_pulled_in_the_background_when_the_node_starts(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, busybox_image: str, registry: str
) -> None:
    ready = push_fresh_image(docker_client, busybox_image, f"{registry}/hostapp-test/prepull:v")
    missing = f"{registry}/hostapp-test/never-pushed:v"
    h = Harness(tmp_path, grid, docker_client, pol.AvailabilityPolicy(), prepull=[ready, missing])
    h.node.start()
    try:
        done = wait_for(lambda: [e.data for e in h.events if e.topic == "node.prepull"], what="pre-pull finished")
        assert list(done[0]["problems"]) == [missing] and "not found" in done[0]["problems"][missing]
        assert [image.ref for image in h.runner.images.tracked()] == [ready]
        docker_client.images.get(ready)
    finally:
        h.close()
        for image in docker_client.images.list(name=ready.split("@")[0]):
            docker_client.images.remove(image.id, force=True)


def test_status_names_the_gpu_by_its_model_and_a_job_by_its_time_limit(
    tmp_path: Path, grid: LocalGrid, docker_client: Any
) -> None:
    from hostapp.grid.models import GpuInfo

    h = Harness(
        tmp_path,
        grid,
        docker_client,
        pol.AvailabilityPolicy(),
        gpu_details=[GpuInfo(uuid=GPU, name="NVIDIA GeForce RTX 4090", vram_mb=24564)],
    )
    try:
        slot = h.node.status().slots[0]
        assert (slot.gpu, slot.gpu_name, slot.label) == (GPU, "NVIDIA GeForce RTX 4090", "RTX 4090")
        running = h.slot()
        running.job_id, running.job_started_at, running.timeout_seconds = "j-1", 1.0, 240
        h.node._show_working(running)  # what the node shows when a job starts
        assert h.node.status().headline == "Working — job j-1 (time limit 4 min)"  # not "up to 4 min left"
    finally:
        h.close()
