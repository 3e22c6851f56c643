"""The node's reaction times and idle cost, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_node.py            # HOSTAPP_BENCH_IDLE_S=60 for the full idle window

1. game detected -> job frozen: from the foreign-process event to the container being paused, vs a
   bare `docker pause` of an equal container (the floor any design pays). Target: median <= 1 s.
2. gap between consecutive jobs on a busy node (the node leasing queued jobs from the local grid):
   container k exits -> container k+1 starts (engine event times), vs the same gap between back-to-back
   bare `containers.run(remove=True)` calls, alternating rounds of each. Target <= 0.2 s and below the
   baseline. `bench/bench_node.py --gap` runs this one alone.
3. submit -> container started through the local grid, vs `hostapp run-job --standalone` of the same job.
4. headless node idle CPU: process CPU time while waiting for work with a long-poll open. Target
   (tray app with sampler) <= 0.5 %.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from solders.keypair import Keypair  # noqa: E402

from bench.harness import Comparison, within  # noqa: E402
from hostapp.config.paths import AppPaths  # noqa: E402
from hostapp.config.settings import JobLimits  # noqa: E402
from hostapp.events import EventBus  # noqa: E402
from hostapp.grid.client import GridClient  # noqa: E402
from hostapp.jobs.engine import connect  # noqa: E402
from hostapp.jobs.runner import JobRunner  # noqa: E402
from hostapp.localgrid.server import GridConfig, LocalGrid  # noqa: E402
from hostapp.node.inputs import InputAssembler  # noqa: E402
from hostapp.node.slots import Node, NodeConfig, NodeState  # noqa: E402
from hostapp.schedule import policy as pol  # noqa: E402
from hostapp.schedule.policy_file import save_policy  # noqa: E402
from hostapp.store import Store  # noqa: E402
from hostapp.wallet.keystore import KeypairKeystore  # noqa: E402

IMAGE = "hostapp-test/busybox:latest"
GPU = "GPU-bench-0"


class Foreign:
    def __init__(self) -> None:
        self.now: list[tuple[int, str]] = []

    def foreign_processes(self, _uuid: str) -> list[tuple[int, str]]:
        return list(self.now)


def definition(command: str) -> dict[str, Any]:
    return {
        "version": "0.1",
        "type": "container",
        "ops": [{"type": "container/run", "id": "run", "args": {"image": IMAGE, "cmd": ["sh", "-c", command]}}],
    }


def wait_for(condition: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.002)
    raise TimeoutError("condition not reached")


def build(root: Path, grid: LocalGrid, client: Any, foreign: Foreign) -> tuple[Node, EventBus, Store]:
    paths = AppPaths(root / "c", root / "d", root / "ca", root / "l", root / "r").ensure()
    store = Store(paths.database)
    bus = EventBus()
    policy_path = paths.config / "schedule.json"
    save_policy(policy_path, pol.AvailabilityPolicy(rules=pol.Rules(foreign_process_grace_seconds=0)))
    grid_client = GridClient(grid.url, KeypairKeystore(Keypair()), bus=bus, timeout=5)
    runner = JobRunner(client, JobLimits(stop_grace_seconds=1), paths, bus, store, "bench-" + uuid.uuid4().hex[:8])
    node = Node(
        bus=bus,
        store=store,
        grid=grid_client,
        runner=runner,
        policy_path=policy_path,
        inputs=InputAssembler([GPU], None, foreign=foreign, battery=lambda: None),
        gpus=[GPU],
        config=NodeConfig(lease_wait_seconds=20, preempt_after_seconds=3600),
    )
    return node, bus, store


def submit(grid: LocalGrid, command: str) -> str:
    response = httpx.post(
        grid.url + "/v1/jobs",
        json={"definition": definition(command), "price_per_second": 1, "timeout_seconds": 600},
        headers=grid.owner_headers,
    )
    response.raise_for_status()
    return str(response.json()["job_id"])


def container_of(client: Any, job_id: str) -> Any:
    found = client.containers.list(all=True, filters={"label": f"hostapp.job_id={job_id}"})
    return found[0] if found else None


def bench_freeze(root: Path, client: Any, runs: int) -> None:
    foreign = Foreign()
    with LocalGrid(root / "grid-freeze", config=GridConfig(lease_seconds=60, heartbeat_seconds=5)) as grid:
        node, bus, store = build(root / "node-freeze", grid, client, foreign)
        node.start()
        try:
            job_id = submit(grid, "sleep 600")
            container = wait_for(lambda: container_of(client, job_id))
            wait_for(lambda: node.slots[GPU].state is NodeState.WORKING)
            subject, baseline = [], []
            bare = client.containers.run(IMAGE, ["sleep", "600"], detach=True, network_mode="none")
            try:
                for _ in range(runs):
                    foreign.now = [(4242, "game.exe")]
                    started = time.perf_counter()
                    bus.publish("gpu.foreign_use_started", gpu_uuid=GPU, processes=["game.exe"])
                    wait_for(lambda: (container.reload(), container.attrs["State"]["Paused"])[1])
                    subject.append(time.perf_counter() - started)
                    foreign.now = []
                    bus.publish("gpu.foreign_use_stopped", gpu_uuid=GPU, processes=["game.exe"])
                    wait_for(lambda: (container.reload(), not container.attrs["State"]["Paused"])[1])
                    started = time.perf_counter()
                    client.api.pause(bare.id)
                    baseline.append(time.perf_counter() - started)
                    client.api.unpause(bare.id)
            finally:
                bare.remove(force=True)
        finally:
            node.stop(timeout=20)
            store.close()
    result = Comparison.of_samples("game detected -> job frozen, node vs bare docker pause", subject, baseline)
    print(result.line())
    print(within("game detected -> job frozen", result.subject_median_s, 1.0))


def container_gaps(client: Any, label: str, since: float) -> tuple[list[float], list[float], list[float]]:
    """For the containers carrying `label`, from the engine's own event times: die(k) -> start(k+1) (the
    gap), split into die(k) -> create(k+1) (the caller's part) and create(k+1) -> start(k+1) (the engine's)."""
    events = client.events(
        since=since, until=time.time() + 0.5, decode=True, filters={"type": "container", "label": label}
    )
    by_container: dict[str, dict[str, float]] = {}
    for event in events:
        if event.get("status") in ("create", "start", "die"):
            by_container.setdefault(event["id"], {})[event["status"]] = event["timeNano"] / 1e9
    ordered = sorted((c for c in by_container.values() if "create" in c), key=lambda c: c["create"])
    gaps: list[float] = []
    caller: list[float] = []
    engine: list[float] = []
    for previous, following in itertools.pairwise(ordered):
        if "die" in previous and "start" in following and following["create"] >= previous["die"]:
            gaps.append(following["start"] - previous["die"])
            caller.append(following["create"] - previous["die"])
            engine.append(following["start"] - following["create"])
    return gaps, caller, engine


def bench_gap(root: Path, client: Any, jobs: int, rounds: int) -> None:
    """`rounds` x (the node takes `jobs` queued jobs in a row from the local grid, then `jobs` back-to-back
    bare `containers.run(remove=True)`), alternating so both see the same load; gaps from engine events."""
    subject: list[float] = []
    baseline: list[float] = []
    parts: dict[str, list[float]] = {"node die->create": [], "node create->start": []}
    parts |= {"bare die->create": [], "bare create->start": []}
    bare_label = {"hostapp.bench": uuid.uuid4().hex[:8]}
    with LocalGrid(root / "grid-gap", config=GridConfig(lease_seconds=60, heartbeat_seconds=5)) as grid:
        node, _bus, store = build(root / "node-gap", grid, client, Foreign())
        node.start()
        try:
            wait_for(lambda: node.slots[GPU].state is NodeState.WAITING)
            for _ in range(rounds):
                since = time.time()
                ids = [submit(grid, "true") for _ in range(jobs)]
                wait_for(
                    lambda ids=ids: all(
                        httpx.get(f"{grid.url}/v1/jobs/{j}", headers=grid.owner_headers).json()["state"] == "succeeded"
                        for j in ids
                    ),
                    timeout=300,
                )
                gaps, caller, engine = container_gaps(client, f"hostapp.instance={node.runner.instance_id}", since)
                subject += gaps
                parts["node die->create"] += caller
                parts["node create->start"] += engine
                node.runner.reaper.drain(30)  # the last job's removal is not the baseline's to pay
                since = time.time()
                for _ in range(jobs):
                    client.containers.run(IMAGE, ["true"], remove=True, network_mode="none", labels=bare_label)
                gaps, caller, engine = container_gaps(client, "hostapp.bench=" + bare_label["hostapp.bench"], since)
                baseline += gaps
                parts["bare die->create"] += caller
                parts["bare create->start"] += engine
        finally:
            node.stop(timeout=20)
            store.close()
    name = f"gap between consecutive jobs (busy node, {rounds}x{jobs} jobs from the local grid, die -> next start)"
    result = Comparison.of_samples(f"{name}, node vs back-to-back bare containers.run(remove=True)", subject, baseline)
    print(result.line())
    print("  split: " + ", ".join(f"{k} {statistics.median(v) * 1000:.0f} ms" for k, v in parts.items() if v))
    print(within(name, result.subject_median_s, 0.2) + ("" if result.ratio < 1 else "  (NOT below the baseline)"))


def first_start(client: Any, label: str, since: float, timeout: float = 60.0) -> float:
    """Engine time of the first container start carrying `label` after `since`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = client.events(
            since=since, until=time.time(), decode=True, filters={"type": "container", "label": label, "event": "start"}
        )
        starts = [e["timeNano"] / 1e9 for e in events]
        if starts:
            return min(starts)
        time.sleep(0.05)
    raise TimeoutError(f"no container with {label} started")


def bench_submit_to_start(root: Path, client: Any, runs: int) -> None:
    """Submit through the local grid -> container started, vs `hostapp run-job --standalone` of the same job."""
    with LocalGrid(root / "grid-submit", config=GridConfig(lease_seconds=60, heartbeat_seconds=5)) as grid:
        node, _bus, store = build(root / "node-submit", grid, client, Foreign())
        node.start()
        job_file = root / "job.json"
        job_file.write_text(json.dumps(definition("true")))
        env = {**os.environ, "HOSTAPP_HOME": str(root / "run-job-home")}
        subject, baseline = [], []
        try:
            wait_for(lambda: node.slots[GPU].state is NodeState.WAITING)
            for _ in range(runs):
                since = time.time()
                job_id = submit(grid, "true")
                subject.append(first_start(client, f"hostapp.job_id={job_id}", since) - since)
                url = f"{grid.url}/v1/jobs/{job_id}"
                wait_for(lambda url=url: httpx.get(url, headers=grid.owner_headers).json()["state"] == "succeeded")
                wait_for(lambda: node.slots[GPU].state is NodeState.WAITING)
                since = time.time()
                subprocess.run(
                    [sys.executable, "-m", "hostapp", "run-job", "--standalone", str(job_file)],
                    env=env,
                    check=True,
                    capture_output=True,
                )
                baseline.append(first_start(client, "hostapp.op_id=run", since) - since)
        finally:
            node.stop(timeout=20)
            store.close()
    name = "submit -> container started, through the local grid (node waiting) vs `hostapp run-job --standalone`"
    print(Comparison.of_samples(name, subject, baseline).line())


def bench_idle(root: Path, client: Any, seconds: float) -> None:
    with LocalGrid(root / "grid-idle", config=GridConfig(lease_seconds=60, heartbeat_seconds=5)) as grid:
        node, _bus, store = build(root / "node-idle", grid, client, Foreign())
        node.start()
        try:
            wait_for(lambda: node.slots[GPU].state is NodeState.WAITING)
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.monotonic()
            time.sleep(seconds)
            after = resource.getrusage(resource.RUSAGE_SELF)
            elapsed = time.monotonic() - started
        finally:
            node.stop(timeout=20)
            store.close()
    # The local grid runs in this process too: its share is included, so this is an upper bound.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    percent = 100 * cpu / elapsed
    print(
        f"headless node idle (waiting, long-poll open, grid in-process): {percent:.2f} % CPU over {elapsed:.0f} s "
        f"(target <= 0.5 %) {'OK' if percent <= 0.5 else 'OVER'}"
    )


def main() -> None:
    client = connect()
    runs = int(os.environ.get("HOSTAPP_BENCH_RUNS", "10"))
    gap_rounds = int(os.environ.get("HOSTAPP_BENCH_GAP_ROUNDS", "4"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "--gap" in sys.argv[1:]:  # the job-to-job gap alone
            bench_gap(root, client, max(runs, 6), gap_rounds)
            return
        bench_freeze(root, client, runs)
        bench_submit_to_start(root, client, runs)
        bench_gap(root, client, max(runs, 6), gap_rounds)
        bench_idle(root, client, float(os.environ.get("HOSTAPP_BENCH_IDLE_S", "20")))


if __name__ == "__main__":
    main()
