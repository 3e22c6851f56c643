"""The grid knows which models a node holds: a real cache's resource ids, a real LocalGrid over HTTP."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.config.settings import ModelSettings
from hostapp.grid.client import GridClient, GridRejected
from hostapp.grid.models import NodeRegistration
from hostapp.jobs.definition import Resource
from hostapp.localgrid.server import GridConfig, LocalGrid
from hostapp.localgrid.store import LOCALITY_WINDOW_SECONDS, GridStore
from hostapp.resources.cache import ModelCache
from hostapp.resources.identity import MAX_HELD_RESOURCES, definition_resource_ids
from hostapp.resources.spec import resolve
from tests.support import FreshKeystore

from .conftest import S3Server


def model_job(url: str) -> dict[str, Any]:
    return {
        "version": "0.1",
        "type": "container",
        "ops": [
            {
                "type": "container/run",
                "id": "infer",
                "args": {
                    "image": "ubuntu",
                    "cmd": ["ls", "/models"],
                    "resources": [{"type": "S3", "url": url, "target": "/models/"}],
                },
            }
        ],
    }


def submit(grid: LocalGrid, definition: dict[str, Any]) -> str:
    response = httpx.post(
        f"{grid.url}/v1/jobs",
        json={"definition": definition, "price_per_second": 5, "timeout_seconds": 600},
        headers=grid.owner_headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["job_id"])


def test_a_node_holding_a_jobs_model_is_offered_that_job_first(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket()
    s3_server.put(bucket, "model-a/weights.bin", 1000)
    s3_server.put(bucket, "model-b/weights.bin", 1000)
    url_a, url_b = f"{s3_server.url}/{bucket}/model-a", f"{s3_server.url}/{bucket}/model-b"
    # The node's real cache fetches model B (the job that named it ran here before).
    cache = ModelCache(tmp_path / "models", ModelSettings())
    resource_b = Resource.model_validate({"type": "S3", "url": url_b, "target": "/models/"})
    cache.prepare("earlier-job", [resolve(resource_b, ModelSettings())], grid=False)
    cache.release("earlier-job")
    held = cache.held_resource_ids()
    assert held == sorted(definition_resource_ids(model_job(url_b)))

    with LocalGrid(tmp_path / "grid", config=GridConfig()) as grid:
        client = GridClient(grid.url, FreshKeystore(), timeout=5, retries=1, backoff_base=0.05)
        client.register(NodeRegistration(app_version="test"))
        try:
            job_a = submit(grid, model_job(url_a))  # older: first by age alone
            job_b = submit(grid, model_job(url_b))
            first = client.lease(wait_seconds=0, held_resources=held)
            second = client.lease(wait_seconds=0, held_resources=held)
        finally:
            client.close()
    assert first is not None and second is not None
    assert (first.job_id, second.job_id) == (job_b, job_a)


def test_without_held_resources_the_oldest_job_comes_first(tmp_path: Path) -> None:
    store = GridStore(tmp_path / "grid.sqlite3")
    try:
        store.upsert_node("node-1", NodeRegistration().model_dump(), 1000.0)
        job_a = store.submit_job(model_job("s3://bucket/a"), 1, 60, gpu=False, min_vram_mb=None, min_cuda=None, now=1)
        store.submit_job(model_job("s3://bucket/b"), 1, 60, gpu=False, min_vram_mb=None, min_cuda=None, now=2)
        lease = store.claim("node-1", [], True, 30, now=3)
    finally:
        store.close()
    assert lease is not None and lease.job_id == job_a


def test_a_job_past_the_locality_window_is_not_passed_over(tmp_path: Path) -> None:
    """The preference never starves a job: once it waited the window out, age alone decides."""
    store = GridStore(tmp_path / "grid.sqlite3")
    held = sorted(definition_resource_ids(model_job("s3://bucket/b")))
    try:
        store.upsert_node("node-1", NodeRegistration().model_dump(), 1000.0)
        job_a = store.submit_job(model_job("s3://bucket/a"), 1, 60, gpu=False, min_vram_mb=None, min_cuda=None, now=0)
        job_b = store.submit_job(model_job("s3://bucket/b"), 1, 60, gpu=False, min_vram_mb=None, min_cuda=None, now=1)
        within = store.claim("node-1", [], True, 30, now=LOCALITY_WINDOW_SECONDS - 1, held_resources=held)
        assert within is not None and within.job_id == job_b
        job_c = store.submit_job(model_job("s3://bucket/b"), 1, 60, gpu=False, min_vram_mb=None, min_cuda=None, now=2)
        overdue = store.claim("node-1", [], True, 30, now=LOCALITY_WINDOW_SECONDS, held_resources=held)
        assert overdue is not None and overdue.job_id == job_a
        assert store.claim("node-1", [], True, 30, now=LOCALITY_WINDOW_SECONDS, held_resources=held).job_id == job_c  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_malformed_or_oversized_held_list_is_refused_with_a_path(tmp_path: Path) -> None:
    with LocalGrid(tmp_path / "grid", config=GridConfig()) as grid:
        client = GridClient(grid.url, FreshKeystore(), timeout=5, retries=1, backoff_base=0.05)
        client.register(NodeRegistration(app_version="test"))
        try:
            # The client builds the body with the same model: bad ids never leave the node...
            with pytest.raises(ValueError, match="held_resources"):
                client.lease(wait_seconds=0, held_resources=["../etc"])
            with pytest.raises(ValueError, match="held_resources"):
                client.lease(wait_seconds=0, held_resources=["0" * 32] * (MAX_HELD_RESOURCES + 1))
            # ...and a well-formed list naming nothing queued simply gets no job.
            assert client.lease(wait_seconds=0, held_resources=["0" * 32]) is None
        except GridRejected as exc:  # pragma: no cover - a 422 would mean the server refused a valid list
            pytest.fail(f"grid refused a valid held list: {exc}")
        finally:
            client.close()


@pytest.mark.docker
@pytest.mark.slow
def test_a_real_node_reports_its_cache_and_gets_the_job_naming_it_first(
    s3_server: S3Server, tmp_path: Path, grid: LocalGrid, docker_client: Any, busybox_image: str
) -> None:
    """The whole path: the node's own model cache (its JobRunner's) -> lease request -> the grid's choice."""
    from hostapp.schedule import policy as pol
    from tests.integration.node.test_node import Harness, job_status
    from tests.support import wait_for

    bucket = s3_server.bucket()
    s3_server.put(bucket, "model-a/weights.bin", 1000)
    s3_server.put(bucket, "model-b/weights.bin", 1000)
    url_a, url_b = f"{s3_server.url}/{bucket}/model-a", f"{s3_server.url}/{bucket}/model-b"
    h = Harness(tmp_path, grid, docker_client, pol.AvailabilityPolicy())
    try:
        resource_b = Resource.model_validate({"type": "S3", "url": url_b, "target": "/models/"})
        h.runner.models.prepare("earlier-job", [resolve(resource_b, ModelSettings())], grid=False)
        h.runner.models.release("earlier-job")
        job_a, job_b = submit(grid, model_job(url_a)), submit(grid, model_job(url_b))
        h.node.start()
        # Each job then fails (grid jobs may not fetch from loopback): what counts is which was leased first.
        wait_for(lambda: job_status(grid, job_a)["state"] == "failed", what="both jobs through", timeout=60)
        with sqlite3.connect(f"file:{grid.state_dir / 'grid.sqlite3'}?mode=ro", uri=True) as conn:
            order = [row[0] for row in conn.execute("SELECT job_id FROM leases ORDER BY leased_at, rowid")]
        assert order[:2] == [job_b, job_a], order
    finally:
        h.close()
