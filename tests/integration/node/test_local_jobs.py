"""`hostapp run-job` through a running node: over the real control socket, on the real engine and grid."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hostapp.control.transport import ControlServer, call
from hostapp.jobs.definition import MachineCaps
from hostapp.localgrid.server import LocalGrid
from hostapp.node.slots import NodeState
from hostapp.schedule import policy as pol
from tests.integration.node.test_node import GPU, Harness, job_status, submit
from tests.support import busybox_job, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]


class Client:
    """What the CLI does over the socket, in a thread so the test can watch the node meanwhile."""

    def __init__(self, socket: Path, definition: dict[str, Any], **request: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer: dict[str, Any] | None = None
        args = {"definition": json.dumps(definition), "name": "test", **request}
        self.thread = threading.Thread(target=self._call, args=(socket, args))
        self.thread.start()

    def _call(self, socket: Path, args: dict[str, Any]) -> None:
        self.answer = call(socket, "run-job", args, timeout=None, on_event=self.events.append)

    def result(self, timeout: float = 60) -> dict[str, Any]:
        self.thread.join(timeout)
        assert self.answer is not None, "run-job gave no answer"
        return self.answer

    def lines(self) -> list[str]:
        return [e["data"]["line"] for e in self.events if e["topic"] == "job.log"]


def gpu_job_after(seconds: float) -> dict[str, Any]:
    """A warm-up op that runs here, then a GPU op (which this engine, without a GPU, cannot start)."""
    definition = busybox_job(seconds, "warm-up")
    definition["ops"].append(
        {
            "type": "container/run",
            "id": "infer",
            "args": {"image": "hostapp-test/busybox:latest", "cmd": ["true"], "gpu": True},
            "execution": {"depends_on": ["run"]},
        }
    )
    return definition


@pytest.fixture
def node(tmp_path: Path, grid: LocalGrid, docker_client: Any, busybox_image: str) -> Any:
    h = Harness(tmp_path, grid, docker_client, pol.AvailabilityPolicy(), machine=MachineCaps(nvidia_runtime=True))
    server = ControlServer(h.paths.control_socket, h.node)
    server.start()
    h.node.start()
    yield h
    server.stop()
    h.close()


def test_a_local_job_streams_its_logs_and_holds_its_gpu_from_grid_jobs(node: Any, grid: LocalGrid) -> None:
    wait_for(lambda: node.slot().state is NodeState.WAITING, what="node waiting for work")
    local = Client(node.paths.control_socket, gpu_job_after(6), gpu=GPU)
    wait_for(lambda: "local job" in node.slot().headline, what="GPU slot held by the local job")
    grid_job = submit(grid, busybox_job(0, "grid"))
    wait_for(lambda: "start warm-up" in local.lines(), what="local job running")
    # The node's lease wait is 1 s: in 2.5 s a node that leased for a held GPU would have taken the
    # grid job (it may take one lease in flight at the claim, and must give it straight back).
    time.sleep(2.5)
    assert "done warm-up" not in local.lines(), "the local job ended too early for this check"
    assert job_status(grid, grid_job)["state"] == "queued"
    answer = local.result()
    assert answer["outcome"] == "ran"
    result = answer["result"]
    assert [op["op_id"] for op in result["ops"]] == ["run", "infer"]
    assert result["ops"][0]["status"] == "succeeded"
    assert result["ops"][1]["status"] == "failed"  # no GPU in this engine: the job fails with the engine's reason
    assert local.lines() == ["start warm-up", "done warm-up"]
    assert local.events[0] == {"topic": "job.started", "data": {"job_id": result["job_id"], "ops": 2}}
    # Released: the grid job runs on that GPU slot now.
    wait_for(lambda: job_status(grid, grid_job)["state"] == "succeeded", timeout=30, what="grid job ran after")
    row = node.store.query("SELECT source, status FROM jobs WHERE job_id = ?", (result["job_id"],))[0]
    assert (row["source"], row["status"]) == ("local", "failed")


def test_a_gpu_held_by_a_grid_job_is_refused_and_cpu_jobs_still_run(node: Any, grid: LocalGrid) -> None:
    grid_job = submit(grid, busybox_job(6, "grid"))
    wait_for(lambda: node.slot().state is NodeState.WORKING, what="grid job running on the GPU slot")
    refused = Client(node.paths.control_socket, gpu_job_after(0), gpu=GPU).result()
    assert refused["outcome"] == "unsupported"
    assert refused["unsupported"] == [
        f"unsupported: op infer: args.gpu: GPU {GPU} is running grid job {grid_job}: run it again when that "
        "job ends, or pause hostapp first (`hostapp pause`) and wait until the job has stopped"
    ]
    ran = Client(node.paths.control_socket, busybox_job(0, "cpu")).result()
    assert ran["outcome"] == "ran" and ran["result"]["status"] == "succeeded"
    assert node.slot().state is NodeState.WORKING  # the grid job was not disturbed
    wait_for(lambda: job_status(grid, grid_job)["state"] == "succeeded", timeout=30, what="grid job finished")


def test_a_client_that_hangs_up_stops_its_job(node: Any, docker_client: Any) -> None:
    """Ctrl-C in the CLI: the next keep-alive finds nobody listening (the job prints nothing after
    its first line), and the node stops the job."""
    import socket as sockets

    request = {"definition": json.dumps(busybox_job(600, "silent")), "name": "hangup"}
    with sockets.socket(sockets.AF_UNIX) as conn:
        conn.connect(str(node.paths.control_socket))
        conn.sendall(json.dumps({"command": "run-job", "args": request}).encode() + b"\n")
        with conn.makefile("rb") as lines:  # the socket closes only once this file is closed too
            job_id = json.loads(lines.readline())["event"]["data"]["job_id"]
            # Hang up only after the job's one line, so nothing but the keep-alive can find us gone.
            while json.loads(lines.readline())["event"]["topic"] != "job.log":
                pass
    status = wait_for(
        lambda: job_row_status(node, job_id) in ("stopped", "failed") and job_row_status(node, job_id),
        timeout=30,
        what="the job of the vanished client stopped",
    )
    assert status == "stopped"
    assert node.container(docker_client, job_id) is None


def test_stopping_the_node_stops_its_local_jobs(node: Any, docker_client: Any) -> None:
    local = Client(node.paths.control_socket, busybox_job(60, "long"))
    started = wait_for(lambda: local.events and local.events[0]["data"]["job_id"], what="local job started")
    wait_for(lambda: node.container(docker_client, started), what="local job container")
    node.node.stop(timeout=20)
    answer = local.result()
    assert answer["result"]["status"] == "stopped"
    assert node.container(docker_client, started) is None


def job_row_status(node: Any, job_id: str) -> str | None:
    rows = node.store.query("SELECT status FROM jobs WHERE job_id = ?", (job_id,))
    return str(rows[0]["status"]) if rows else None
