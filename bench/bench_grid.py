"""Grid latency through the real local grid over loopback HTTP (signed requests, SQLite, long-poll).

1. submit -> lease: a node long-polls; an owner submits; time until the node holds the lease.
   Baseline: the owner's submit call alone (one unsigned HTTP round trip that writes the job).
2. gap between consecutive jobs on a busy node: result of job N delivered -> lease of job N+1
   in hand (two signed calls). Target <= 0.2 s (docs/benchmarks.md). Baseline: two unsigned round trips
   to /v1/health on the same server, i.e. what HTTP alone costs.

3. `--rss`: resident memory of `hostapp node` while it works on the embedded grid (demo jobs in the
   real Docker engine), and of the grid process beside it (`python -m hostapp.localgrid`), sampled
   every 0.5 s. Target: the node's own process <= 100 MB (the grid process not counted). Needs a
   keyring for the wallet: run it under `dbus-run-session -- bash scripts/with-keyring.sh`.

Run: .venv/bin/python bench/bench_grid.py [--rss [SECONDS]]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from solders.keypair import Keypair

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Comparison, report
from hostapp.grid.client import GridClient
from hostapp.grid.models import JobResult, NodeRegistration
from hostapp.localgrid.server import GridConfig, LocalGrid
from hostapp.wallet.keystore import KeypairKeystore

RUNS = 30
JOB = {
    "version": "0.1",
    "type": "container",
    "ops": [{"type": "container/run", "id": "x", "args": {"image": "ubuntu", "cmd": ["true"]}}],
}
BODY = {"definition": JOB, "price_per_second": 1, "timeout_seconds": 60}


def _compare(name: str, subject: list[float], baseline: list[float], target: float | None) -> Comparison:
    s, b = statistics.median(subject), statistics.median(baseline)
    return Comparison(name, s, b, s / b, target, len(subject))


def submit_to_lease(grid: LocalGrid, node: GridClient, owner: httpx.Client) -> tuple[list[float], list[float]]:
    latencies: list[float] = []
    submits: list[float] = []
    for _ in range(RUNS):
        got = threading.Event()
        leased_at: list[float] = []

        def poll(got: threading.Event, leased_at: list[float]) -> None:
            lease = node.lease(wait_seconds=10)
            leased_at.append(time.perf_counter())
            assert lease is not None
            node.deliver_result(lease.job_id, lease.attempt, JobResult(status="failed", run_seconds=0))
            got.set()

        poller = threading.Thread(target=poll, args=(got, leased_at))
        poller.start()
        time.sleep(0.05)  # let the long-poll park on the server
        started = time.perf_counter()
        owner.post("/v1/jobs", json=BODY).raise_for_status()
        submits.append(time.perf_counter() - started)
        got.wait(15)
        poller.join()
        latencies.append(leased_at[0] - started)
    return latencies, submits


def consecutive_gap(grid: LocalGrid, node: GridClient, owner: httpx.Client) -> tuple[list[float], list[float]]:
    for _ in range(RUNS + 1):
        owner.post("/v1/jobs", json=BODY).raise_for_status()
    gaps: list[float] = []
    lease = node.lease(wait_seconds=5)
    assert lease is not None
    for _ in range(RUNS):
        started = time.perf_counter()
        node.deliver_result(lease.job_id, lease.attempt, JobResult(status="failed", run_seconds=0))
        nxt = node.lease(wait_seconds=5)
        gaps.append(time.perf_counter() - started)
        assert nxt is not None
        lease = nxt
    node.deliver_result(lease.job_id, lease.attempt, JobResult(status="failed", run_seconds=0))
    baseline = []
    for _ in range(RUNS):
        started = time.perf_counter()
        owner.get("/v1/health").raise_for_status()
        owner.get("/v1/health").raise_for_status()
        baseline.append(time.perf_counter() - started)
    return gaps, baseline


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return None


def embedded_rss(seconds: float) -> None:
    """Peak and median RSS of the node and of the embedded grid's process while jobs run."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HOSTAPP_HOME": home}
        hostapp = [sys.executable, "-m", "hostapp"]
        subprocess.run(
            [*hostapp, "wallet", "create", "--yes-i-wrote-it-down"], env=env, check=True, capture_output=True
        )
        node = subprocess.Popen([*hostapp, "node"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            endpoint = Path(home) / "data" / "local-grid" / "endpoint.json"
            deadline = time.monotonic() + 120
            while not endpoint.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            grid_pid = int(json.loads(endpoint.read_text()).get("pid", node.pid))  # no pid: an in-process grid
            separate = grid_pid != node.pid
            samples: list[tuple[float, float | None, str]] = []
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                state = subprocess.run(
                    [*hostapp, "status", "--json"], env=env, capture_output=True, text=True, check=False
                ).stdout
                working = '"state": "working"' in state or '"state":"working"' in state
                node_mb = _rss_mb(node.pid)
                grid_mb = _rss_mb(grid_pid) if separate else None
                if node_mb is not None:
                    samples.append((node_mb, grid_mb, "working" if working else "other"))
                time.sleep(0.5)
        finally:
            node.terminate()
            node.wait(60)
    working = [s for s in samples if s[2] == "working"] or samples
    node_rss = [s[0] for s in working]
    grid_rss = [s[1] for s in working if s[1] is not None]
    print(
        f"node RSS while working ({len(working)} samples): median {statistics.median(node_rss):.0f} MB, "
        f"peak {max(node_rss):.0f} MB (target <= 100){'  OK' if max(node_rss) <= 100 else '  OVER TARGET'}"
    )
    if grid_rss:
        print(f"grid process RSS: median {statistics.median(grid_rss):.0f} MB, peak {max(grid_rss):.0f} MB")
    else:
        print("grid process: none (the grid runs inside the node's process)")


def main() -> None:
    if "--rss" in sys.argv:
        rest = sys.argv[sys.argv.index("--rss") + 1 :]
        embedded_rss(float(rest[0]) if rest else 60.0)
        return
    with tempfile.TemporaryDirectory() as state:
        with LocalGrid(Path(state), config=GridConfig(demo_feed=False)) as grid:
            node = GridClient(grid.url, KeypairKeystore(Keypair()))
            node.register(NodeRegistration(app_version="bench"))
            with httpx.Client(base_url=grid.url, headers=grid.owner_headers) as owner:
                latencies, submits = submit_to_lease(grid, node, owner)
                gaps, baseline = consecutive_gap(grid, node, owner)
            node.close()
    results = [
        _compare("grid submit -> lease (vs the submit call alone)", latencies, submits, None),
        _compare("grid gap between consecutive jobs (vs 2 bare HTTP round trips)", gaps, baseline, None),
    ]
    report(results)
    gap = statistics.median(gaps)
    print(f"gap between consecutive jobs: median {gap * 1000:.1f} ms (target <= 200 ms){'  OK' if gap <= 0.2 else ''}")


if __name__ == "__main__":
    main()
