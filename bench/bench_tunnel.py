"""Service tunnel cost: the grid's URL (edge -> SSH channel -> node -> container) vs the container directly.

Real parts: the demo service (hostapp/demo-service:1) in the runner's hardened sandbox on an internal job
bridge; the grid's SSH edge (hostapp/localgrid/tunnel_edge.py) over the grid's SQLite store with a live
lease; the node's tunnel (hostapp/services/tunnel.py) in its own process, as on a real node. Measures:

1. small request latency (GET /infer on one keep-alive connection), median of 500, alternating A B A B;
   also with a new connection per request (one SSH channel open each). Target: <= 1.5x + 2 ms.
2. 100 MB response throughput, tunnel vs direct (median of 3). Target: >= 0.6x.
3. 50 concurrent clients for 30 s through the URL: requests, errors, p50/p99.
4. submit -> first successful request through the URL (a real node and the real local grid), minus the
   server's own start time (container start to its first answer straight at the container). Target: <= 1 s.

Run: .venv/bin/python bench/bench_tunnel.py [--quick]   (--quick: 100 requests, 20 MB, 5 s of load)
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solders.keypair import Keypair

from hostapp.config.settings import JobLimits
from hostapp.jobs import sandbox
from hostapp.jobs.engine import connect
from hostapp.localgrid.store import GridStore
from hostapp.localgrid.tunnel_edge import EdgeLimits, GridStoreLeases, TunnelEdge
from hostapp.services.loop import LoopThread
from hostapp.services.network import checked_destination, network_create_kwargs

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "hostapp/demo-service:1"
QUICK = "--quick" in sys.argv
REQUESTS = 100 if QUICK else 500
BIG = (20 if QUICK else 100) * 1_000_000
LOAD_SECONDS = 5 if QUICK else 30
CLIENTS = 50

DEFINITION = {
    "version": "0.1",
    "type": "container",
    "ops": [{"type": "container/run", "id": "api", "args": {"image": IMAGE, "expose": [8080]}}],
}

NODE = """
import sys, time
from solders.keypair import Keypair
from hostapp.services.loop import LoopThread
from hostapp.services.tunnel import EdgeAddress, ServiceTunnel
from hostapp.wallet.keystore import KeypairKeystore

secret, host, port, key, job, attempt, address = sys.argv[1:8]
tunnel = ServiceTunnel(EdgeAddress(host, int(port), key), KeypairKeystore(Keypair.from_base58_string(secret)),
                       job, int(attempt), {8080: address})
LoopThread().run(tunnel.open(), 20)
print("open", flush=True)
sys.stdin.read()
"""


def start_service(api: Any) -> tuple[str, str, str]:
    job = f"bench{secrets.token_hex(4)}"
    kwargs = network_create_kwargs(job, 1, "bench-tunnel", None, outbound=False)
    network = kwargs.pop("name")
    api.create_network(network, **kwargs)
    volume = sandbox.resource_name(job, 1, "work")
    api.create_volume(volume)
    spec = sandbox.OpSandbox(
        image=IMAGE,
        command=None,
        entrypoint=None,
        env={"PORTS": "8080"},
        work_dir=None,
        work_volume=volume,
        work_mount="/work",
        network=network,
        labels=sandbox.job_labels("bench-tunnel", job, 1, "container", "api"),
    )
    limits = JobLimits(cpus=2.0, memory_mb=1024)
    created = api.create_container(**sandbox.create_container_kwargs(api, spec, limits, f"{network}-api"))
    api.start(created["Id"])
    return created["Id"], network, volume


def wait_answer(host: str, port: int, timeout: float = 30) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                return time.perf_counter() - started
        except OSError:
            time.sleep(0.01)
    raise TimeoutError(f"{host}:{port} did not answer in {timeout} s")


def timed_get(conn: http.client.HTTPConnection, path: str) -> float:
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"status {response.status}")
    return time.perf_counter() - started


def latency(direct: tuple[str, int], tunnel: tuple[str, int], fresh: bool) -> dict[str, float]:
    a = http.client.HTTPConnection(*direct, timeout=10)
    b = http.client.HTTPConnection(*tunnel, timeout=10)
    samples_a, samples_b = [], []
    for index in range(REQUESTS + 20):
        if fresh:
            a, b = http.client.HTTPConnection(*direct, timeout=10), http.client.HTTPConnection(*tunnel, timeout=10)
        ta, tb = timed_get(a, "/infer?q=hello+grid"), timed_get(b, "/infer?q=hello+grid")
        if fresh:
            a.close()
            b.close()
        if index >= 20:  # warm-up
            samples_a.append(ta)
            samples_b.append(tb)
    d, t = statistics.median(samples_a), statistics.median(samples_b)
    return {"direct_ms": d * 1000, "tunnel_ms": t * 1000, "ratio": t / d, "budget_ms": (1.5 * d + 0.002) * 1000}


def download(host: str, port: int) -> float:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    started = time.perf_counter()
    conn.request("GET", f"/bytes?n={BIG}")
    response = conn.getresponse()
    total = 0
    while chunk := response.read(1 << 20):
        total += len(chunk)
    assert total == BIG, total
    return BIG / (time.perf_counter() - started)


def load(host: str, port: int) -> dict[str, Any]:
    stop = time.monotonic() + LOAD_SECONDS
    samples: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        mine: list[float] = []
        while time.monotonic() < stop:
            try:
                mine.append(timed_get(conn, "/infer?q=a+b+c"))
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(samples)
    return {
        "clients": CLIENTS,
        "seconds": LOAD_SECONDS,
        "requests": len(samples),
        "errors": len(errors),
        "first_errors": errors[:3],
        "p50_ms": ordered[len(ordered) // 2] * 1000 if ordered else None,
        "p99_ms": ordered[int(len(ordered) * 0.99)] * 1000 if ordered else None,
    }


def submit_to_first_request(docker: Any) -> dict[str, float]:
    """A real node on the real local grid: submit -> the URL's first 200, and the server's own start time."""
    import httpx

    from hostapp.config.paths import AppPaths
    from hostapp.events import EventBus
    from hostapp.grid.client import GridClient
    from hostapp.jobs.runner import JobRunner
    from hostapp.localgrid.server import GridConfig, LocalGrid
    from hostapp.node.inputs import InputAssembler
    from hostapp.node.slots import Node, NodeConfig
    from hostapp.schedule import policy as pol
    from hostapp.schedule.policy_file import save_policy
    from hostapp.services.host import ServiceHost
    from hostapp.services.settings import ServiceSettings
    from hostapp.store import Store
    from hostapp.wallet.keystore import KeypairKeystore

    root = Path(tempfile.mkdtemp(prefix="bench-tunnel-"))
    with LocalGrid(root / "grid", config=GridConfig(lease_seconds=30, heartbeat_seconds=5)) as grid:
        paths = AppPaths(root / "c", root / "d", root / "ca", root / "l", root / "r").ensure()
        store, bus = Store(paths.database), EventBus()
        save_policy(paths.config / "schedule.json", pol.AvailabilityPolicy())
        keystore = KeypairKeystore(Keypair())
        client = GridClient(grid.url, keystore, bus=bus, timeout=5)
        runner = JobRunner(docker, JobLimits(stop_grace_seconds=1), paths, bus, store, "bench-" + uuid.uuid4().hex[:8])
        settings = ServiceSettings(health_interval_seconds=1, startup_seconds=60)
        runner.services = ServiceHost(docker.api, bus, runner.stop, settings=settings)
        runner.services.use_grid(keystore, client)
        node = Node(
            bus=bus,
            store=store,
            grid=client,
            runner=runner,
            policy_path=paths.config / "schedule.json",
            inputs=InputAssembler([], None, battery=lambda: None),
            gpus=[],
            config=NodeConfig(lease_wait_seconds=1, supervisor_seconds=0.2),
        )
        node.start()
        try:
            time.sleep(2)  # registered and long-polling, as a node waiting for work is
            started = time.perf_counter()
            body = {"definition": DEFINITION, "price_per_second": 1, "timeout_seconds": 60}
            job_id = httpx.post(grid.url + "/v1/jobs", json=body, headers=grid.owner_headers).json()["job_id"]
            while True:
                services = httpx.get(
                    grid.url + "/v1/services", params={"job_id": job_id}, headers=grid.owner_headers
                ).json()["services"]
                if services:
                    parts = urlsplit(services[0]["url"])
                    wait_answer(str(parts.hostname), int(parts.port or 80))
                    break
                time.sleep(0.01)
            total = time.perf_counter() - started
            httpx.post(f"{grid.url}/v1/jobs/{job_id}/stop", json={}, headers=grid.owner_headers)
        finally:
            node.stop(timeout=20)
            runner.services.close()
            client.close()
            store.close()
    # The server's own start time: the same container started by hand, start -> first answer.
    container, network, volume = start_service(docker.api)
    try:
        own = wait_answer(checked_destination(docker.api, container, network), 8080)
    finally:
        cleanup(docker.api, container, network, volume)
    return {"submit_to_first_request_s": total, "server_start_s": own, "overhead_s": total - own}


def cleanup(api: Any, container: str, network: str, volume: str) -> None:
    api.remove_container(container, force=True)
    api.remove_network(network)
    api.remove_volume(volume, force=True)


def main() -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "build-images.sh")], check=True)
    docker = connect(timeout=60)
    api = docker.api
    container, network, volume = start_service(api)
    state = Path(tempfile.mkdtemp(prefix="bench-tunnel-"))
    store = GridStore(state / "grid.sqlite3")
    keypair = Keypair()
    node = str(keypair.pubkey())
    store.upsert_node(node, {"gpus": []}, time.time())
    job_id = store.submit_job(DEFINITION, 1, 3600, gpu=False, min_vram_mb=None, min_cuda=None)
    lease = store.claim(node, [], True, 3600, time.time())
    assert lease is not None
    loop = LoopThread()
    edge = TunnelEdge(GridStoreLeases(store), limits=EdgeLimits(max_connections_per_port=256))
    loop.run(edge.start(), 10)
    node_process = None
    results: dict[str, Any] = {"cpus": os.cpu_count()}
    try:
        address = checked_destination(api, container, network)
        wait_answer(address, 8080)
        node_process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                NODE,
                str(keypair),
                "127.0.0.1",
                str(edge.ssh_port),
                edge.host_key_line,
                job_id,
                str(lease.attempt),
                address,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert node_process.stdout is not None and node_process.stdout.readline().strip() == "open"
        url = urlsplit(edge.urls(job_id)[8080])
        tunnel = (str(url.hostname), int(url.port or 80))
        direct = (address, 8080)

        results["latency_keepalive"] = latency(direct, tunnel, fresh=False)
        results["latency_new_connection"] = latency(direct, tunnel, fresh=True)
        rates_direct, rates_tunnel = [], []
        for _ in range(3):
            rates_direct.append(download(*direct))
            rates_tunnel.append(download(*tunnel))
        d, t = statistics.median(rates_direct), statistics.median(rates_tunnel)
        results["throughput"] = {"mb": BIG / 1e6, "direct_MBps": d / 1e6, "tunnel_MBps": t / 1e6, "ratio": t / d}
        results["load_tunnel"] = load(*tunnel)
        results["load_direct"] = load(*direct)
    finally:
        if node_process is not None:
            node_process.kill()
            node_process.wait()
            for pipe in (node_process.stdin, node_process.stdout):
                if pipe is not None:
                    pipe.close()
        loop.run(edge.close(), 10)
        loop.close()
        store.close()
        cleanup(api, container, network, volume)
    results["submit"] = submit_to_first_request(docker)
    keep, fresh = results["latency_keepalive"], results["latency_new_connection"]
    print(
        f"latency (median of {REQUESTS}, keep-alive): tunnel {keep['tunnel_ms']:.2f} ms vs direct "
        f"{keep['direct_ms']:.2f} ms = {keep['ratio']:.2f}x (budget 1.5x + 2 ms = {keep['budget_ms']:.2f} ms)"
    )
    print(
        f"latency (median of {REQUESTS}, new connection each): tunnel {fresh['tunnel_ms']:.2f} ms vs direct "
        f"{fresh['direct_ms']:.2f} ms = {fresh['ratio']:.2f}x (budget {fresh['budget_ms']:.2f} ms)"
    )
    tp = results["throughput"]
    print(
        f"throughput ({tp['mb']:.0f} MB, median of 3): tunnel {tp['tunnel_MBps']:.0f} MB/s vs direct "
        f"{tp['direct_MBps']:.0f} MB/s = {tp['ratio']:.2f}x (target >= 0.6x)"
    )
    for name in ("load_tunnel", "load_direct"):
        lo = results[name]
        print(
            f"{name}: {lo['clients']} clients x {lo['seconds']} s: {lo['requests']} requests, {lo['errors']} errors, "
            f"p50 {lo['p50_ms']:.1f} ms, p99 {lo['p99_ms']:.1f} ms"
        )
    sub = results["submit"]
    print(
        f"submit -> first request through the URL: {sub['submit_to_first_request_s']:.2f} s "
        f"(server's own start {sub['server_start_s']:.2f} s; overhead {sub['overhead_s']:.2f} s, target <= 1 s)"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
