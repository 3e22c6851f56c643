"""`hostapp node` stopped with SIGTERM (systemd, docker stop, kill) while a job runs leaves nothing
behind in the engine: the job's container, volumes and networks go, and the grid gets the lease back.

Real parts: the node as its own process, the local grid over HTTP, the real Docker engine, the
wallet in the real Secret Service."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.localgrid.server import LocalGrid
from tests.integration.node.test_embedded import hostapp, start_node, status
from tests.support import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.keyring, pytest.mark.slow]


def test_sigterm_mid_job_leaves_no_container(
    hostapp_home: Path, grid: LocalGrid, docker_client: Any, busybox_image: str, tmp_path: Path
) -> None:
    hostapp("wallet", "create", "--yes-i-wrote-it-down")
    log = tmp_path / "node.log"
    process = start_node(grid, log)
    try:
        wait_for(lambda: (hostapp_home / "run" / "control.sock").exists(), what="control socket")
        wait_for(lambda: status()["state"] == "waiting", what="waiting for work")
        definition = {
            "version": "0.1",
            "type": "container",
            "ops": [
                {
                    "type": "container/run",
                    "id": "run",
                    "args": {"image": busybox_image, "cmd": ["sh", "-c", "echo begin; sleep 300"]},
                }
            ],
        }
        job_id = httpx.post(
            grid.url + "/v1/jobs",
            json={"definition": definition, "price_per_second": 10, "timeout_seconds": 600},
            headers=grid.owner_headers,
        ).json()["job_id"]
        label = {"label": f"hostapp.job_id={job_id}"}
        wait_for(lambda: docker_client.containers.list(filters=label), timeout=90, what="the job's container runs")
        process.send_signal(signal.SIGTERM)
        assert process.wait(90) == 0, log.read_text()[-3000:]
        left = [(c.name, c.status) for c in docker_client.containers.list(all=True, filters=label)]
        assert left == [], f"containers left behind after SIGTERM: {left}\n{log.read_text()[-3000:]}"
        assert not docker_client.volumes.list(filters=label)
        assert "hostapp node: stopping" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
