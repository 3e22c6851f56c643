"""Service jobs end to end: the real local grid (HTTP API + SSH edge), a real node, the demo service in Docker.

A request through the grid's URL returns the container's answer; the health check gates readiness; a failing
continuous check marks the service unhealthy; the poster's stop, the timeout, a game (grace, then release),
and a killed node each close the URL; the poster is billed per started second for a service that served."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.localgrid.server import LocalGrid
from hostapp.node.slots import NodeState
from tests.support import wait_for

from .conftest import ROOT, remove_service, start_service, wait_port
from .node_harness import GPU, NodeHarness, service_job
from .wsclient import WebSocket

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, timeout=10, trust_env=False, **kwargs)


def answers(url: str) -> bool:
    try:
        return get(url).status_code == 200
    except httpx.TransportError:
        return False


def served(h: NodeHarness, job_id: str, timeout: float = 60) -> str:
    urls = wait_for(lambda: h.urls(job_id), timeout=timeout, what="a service URL")
    return str(urls[8080])


def test_a_service_is_served_through_the_grid_and_the_poster_stops_it(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, service_image: str
) -> None:
    h = NodeHarness(tmp_path, grid, docker_client)
    h.node.start()
    try:
        submitted = time.monotonic()
        job_id = h.submit(service_job())
        url = served(h, job_id)
        first = wait_for(lambda: answers(url), timeout=10, what="the URL answering")
        first_answer = time.monotonic() - submitted
        assert first and get(url).text == "hostapp demo service\n"
        assert get(url + "infer", params={"q": "hello grid"}).json()["completion"] == "grid hello"
        with httpx.stream("GET", url + "stream", params={"n": 3, "ms": 200}, trust_env=False, timeout=10) as r:
            assert [line for line in r.iter_lines()][-1].startswith("line 2")
        ws = WebSocket(url)
        assert ws.recv() == "hostapp-demo ready"
        ws.send("echo")
        assert ws.recv() == "echo"
        ws.close()
        # Readiness gated the tunnel: the node saw the check pass before the URL existed.
        health = h.topics("service.health")
        assert [e["state"] for e in health][:2] == ["starting", "ready"]
        container = docker_client.api.inspect_container(
            docker_client.api.containers(filters={"label": f"hostapp.job_id={job_id}"})[0]["Id"]
        )
        assert not container["HostConfig"].get("PortBindings")  # nothing published on the host
        time.sleep(1.2)  # so the bill covers more than one started second
        stopped = h.owner("POST", f"/v1/jobs/{job_id}/stop")
        assert stopped.status_code == 200, stopped.text
        wait_for(lambda: h.job(job_id)["state"] == "succeeded", timeout=30, what="the service job succeeded")
        assert not answers(url)
        assert h.urls(job_id) == {}
        status = h.job(job_id)
        assert status["seconds_billed"] >= 2 and status["amount"] == status["seconds_billed"] * 1_000
        assert h.owner("POST", f"/v1/jobs/{job_id}/stop").status_code == 409  # nothing left to stop
        row = wait_for(lambda: (r := h.node.ledger.get(job_id, 1)) and r.status == "credited" and r, what="credited")
        assert row.amount == status["amount"]
        print(f"submit -> first successful request through the URL: {first_answer:.2f} s")
    finally:
        h.close()


def test_the_result_records_health_and_a_failing_continuous_check_marks_it_unhealthy(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, service_image: str
) -> None:
    h = NodeHarness(tmp_path, grid, docker_client)
    h.node.start()
    try:
        job_id = h.submit(service_job(), timeout=8)
        served(h, job_id)
        container_id = docker_client.api.containers(filters={"label": f"hostapp.job_id={job_id}"})[0]["Id"]
        exec_id = docker_client.api.exec_create(container_id, ["touch", "/tmp/unhealthy"])
        docker_client.api.exec_start(exec_id)
        wait_for(
            lambda: any(e["state"] == "unhealthy" for e in h.topics("service.health")), timeout=10, what="unhealthy"
        )
        # The timeout ends a service normally: it served, so it succeeded and is billed.
        wait_for(lambda: h.job(job_id)["state"] == "succeeded", timeout=30, what="the job ended at its timeout")
        assert h.job(job_id)["result"]["status"] == "succeeded"
        (reason,) = h.store.query("SELECT reason FROM job_ops WHERE job_id = ?", (job_id,))[0]
        assert "the service ran until its timeout" in reason
        assert "health: starting -> ready -> unhealthy" in reason and "status 503" in reason
        assert h.job(job_id)["seconds_billed"] >= 8  # billed per started second, like a batch job
    finally:
        h.close()


def test_a_game_gives_the_service_its_grace_then_it_is_released_and_reoffered(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, service_image: str
) -> None:
    h = NodeHarness(tmp_path, grid, docker_client, service_grace_seconds=3, preempt_after_seconds=0.5)
    h.node.start()
    try:
        job_id = h.submit(service_job())
        url = served(h, job_id)
        wait_for(lambda: answers(url), timeout=10, what="the URL answering")
        h.start_game()
        began = time.monotonic()
        wait_for(lambda: h.node.slots[GPU].state is NodeState.PAUSED, timeout=5, what="paused")
        # Not frozen: the service keeps answering during its grace (a frozen container would hang every request).
        container_id = docker_client.api.containers(filters={"label": f"hostapp.job_id={job_id}"})[0]["Id"]
        assert not docker_client.api.inspect_container(container_id)["State"]["Paused"]
        assert httpx.get(url, timeout=1, trust_env=False).status_code == 200
        wait_for(lambda: not answers(url), timeout=15, what="the URL closing after the grace")
        assert time.monotonic() - began >= 2.5
        wait_for(lambda: h.job(job_id)["state"] == "queued", timeout=15, what="the grid re-offering the job")
        h.stop_game()
    finally:
        h.close()


NODE_SCRIPT = """
import sys, time
from solders.keypair import Keypair
from hostapp.grid.client import GridClient
from hostapp.services.host import edge_of
from hostapp.services.loop import LoopThread
from hostapp.services.tunnel import ServiceTunnel
from hostapp.wallet.keystore import KeypairKeystore

url, address = sys.argv[1], sys.argv[2]
keystore = KeypairKeystore(Keypair())
client = GridClient(url, keystore, timeout=5, retries=1)
client.register()
lease = None
while lease is None:
    lease = client.lease(wait_seconds=2, free_gpus=[], accept_cpu_jobs=True)
tunnel = ServiceTunnel(edge_of(client), keystore, lease.job_id, lease.attempt, {8080: address})
LoopThread().run(tunnel.open(), 20)
print(lease.job_id, flush=True)
time.sleep(600)
"""


def test_a_killed_node_closes_the_url_and_its_lease_expires(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, service_image: str
) -> None:
    """kill -9 of the node process: the edge sees its connection end and closes the URL; the lease expires."""
    container = start_service(docker_client.api, service_image, "8080")
    node = None
    try:
        wait_port(container.address, 8080)
        h = NodeHarness(tmp_path, grid, docker_client)  # used only to submit and read the grid
        job_id = h.submit(service_job())
        node = subprocess.Popen(
            [sys.executable, "-c", NODE_SCRIPT, grid.url, container.address],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert node.stdout is not None and node.stdout.readline().strip() == job_id
        url = served(h, job_id, timeout=10)
        assert get(url).text == "hostapp demo service\n"
        os.kill(node.pid, signal.SIGKILL)
        node.wait(10)
        wait_for(lambda: not answers(url), timeout=10, what="the URL closing after kill -9")
        assert h.urls(job_id) == {}
        # The grid's lease (8 s here) expires without heartbeats and the job is offered again: to another node.
        h.client.register()
        again = h.client.lease(wait_seconds=15, free_gpus=[], accept_cpu_jobs=True)
        assert again is not None and (again.job_id, again.attempt) == (job_id, 2)
        h.client.release(again, "test")
        h.client.close()
        h.store.close()
    finally:
        if node is not None:
            if node.poll() is None:
                node.kill()
                node.wait(10)
            if node.stdout is not None:
                node.stdout.close()
        remove_service(container)
