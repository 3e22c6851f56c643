"""Hostile definitions through the grid's owner API and through a node: rejected, or failed with the reason.

A hostile definition reaches a host two ways: a grid that validates (ours: 422 at submit) and a
grid that does not (a remote grid we do not control; simulated by writing straight into the local
grid's store). Either way no container may start: the node runs with its own instance label and the
test looks for any container carrying it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.localgrid.server import LocalGrid
from tests.integration.node.test_node import Harness
from tests.security.test_hostile_definitions import HOSTILE
from tests.support import wait_for

pytestmark = pytest.mark.docker

# Files that are not a JSON object cannot travel inside the grid protocol's JSON at all.
NOT_AN_OBJECT = {"not-json", "not-an-object"}
# What a node may accept from a non-validating grid: everything the corpus holds that is a JSON object.
TRANSPORTABLE = [p for p in HOSTILE if p.stem not in NOT_AN_OBJECT]


def load(path: Path) -> Any:
    return json.loads(path.read_bytes())


def no_container_started(docker_client: Any, h: Harness) -> bool:
    label = f"hostapp.instance={h.runner.instance_id}"
    return not docker_client.containers.list(all=True, filters={"label": label})


def test_owner_api_rejects_every_hostile_definition_naming_the_field(
    grid: LocalGrid, tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    h = Harness(tmp_path, grid, docker_client, _always())
    h.node.start()
    try:
        wait_for(lambda: h.node.status().state == "waiting", what="node waiting for work")
        rejected = 0
        for path in HOSTILE:
            if path.stem in NOT_AN_OBJECT:
                response = httpx.post(
                    grid.url + "/v1/jobs",
                    content=b'{"price_per_second": 1, "timeout_seconds": 60, "definition": ' + path.read_bytes() + b"}",
                    headers={"Content-Type": "application/json", **grid.owner_headers},
                )
            else:
                body = {"definition": load(path), "price_per_second": 1, "timeout_seconds": 60}
                response = httpx.post(grid.url + "/v1/jobs", json=body, headers=grid.owner_headers)
            assert response.status_code == 422, (path.stem, response.status_code, response.text[:300])
            error = response.json()["error"]
            assert error["message"].strip() and "Traceback" not in response.text, path.stem
            if error["code"] == "invalid_definition":
                assert all(d["path"].startswith("$") and d["reason"] for d in error["details"]), path.stem
            rejected += 1
        assert rejected == len(HOSTILE)
        assert httpx.get(grid.url + "/v1/jobs", headers=grid.owner_headers).json()["jobs"] == []
        # The node kept polling the whole time and never had anything to run.
        assert h.store.query("SELECT COUNT(*) FROM ledger")[0][0] == 0
        assert no_container_started(docker_client, h)
    finally:
        h.close()


def test_node_fails_hostile_definitions_from_a_non_validating_grid_and_runs_none(
    grid: LocalGrid, tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    assert grid.service is not None
    job_ids = {
        grid.service.store.submit_job(load(p), 1, 60, gpu=False, min_vram_mb=None, min_cuda=None): p.stem
        for p in TRANSPORTABLE
    }
    h = Harness(tmp_path, grid, docker_client, _always())
    h.node.start()
    try:
        statuses = wait_for(
            lambda: (s := [_status(grid, j) for j in job_ids]) and all(x["state"] == "failed" for x in s) and s,
            timeout=120,
            what="every hostile job failed by the node",
        )
        for status in statuses:
            name = job_ids[status["job_id"]]
            reason = status.get("reason") or json.dumps(status)
            assert "$" in reason, (name, reason)  # the JSON path of what was refused
            assert not status.get("amount"), name  # nothing credited for it
        assert no_container_started(docker_client, h)
        assert h.store.query("SELECT COUNT(*) FROM jobs")[0][0] == 0  # the runner was never asked
        assert h.node.ledger.total() == 0
    finally:
        h.close()


def _status(grid: LocalGrid, job_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{grid.url}/v1/jobs/{job_id}", headers=grid.owner_headers).json())


def _always() -> Any:
    from hostapp.schedule import policy as pol

    return pol.AvailabilityPolicy()
