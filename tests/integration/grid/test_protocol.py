"""The grid protocol over real HTTP on loopback: authentication, leases, results, metering."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from hostapp.grid.client import GridClient, GridRejected, LeaseLost
from hostapp.grid.models import GpuInfo, JobResult, NodeRegistration
from hostapp.grid.signing import HEADER_NONCE, sign_request
from hostapp.localgrid.server import GridConfig, LocalGrid

from .conftest import HELLO, KeypairSigner, job, submit


def _signed_put(url: str, signer: KeypairSigner, body: bytes, **sign_kw: object) -> httpx.Response:
    headers = sign_request(signer, "PUT", "/v1/node", "", body, **sign_kw)  # type: ignore[arg-type]
    return httpx.put(f"{url}/v1/node", content=body, headers={**headers, "Content-Type": "application/json"})


def test_signed_request_is_accepted_and_its_replay_refused(grid: LocalGrid, signer: KeypairSigner) -> None:
    body = b'{"app_version":"1"}'
    headers = sign_request(signer, "PUT", "/v1/node", "", body) | {"Content-Type": "application/json"}
    first = httpx.put(f"{grid.url}/v1/node", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["node"] == signer.pubkey
    replay = httpx.put(f"{grid.url}/v1/node", content=body, headers=headers)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "replayed"


def test_tampered_body_is_refused(grid: LocalGrid, signer: KeypairSigner) -> None:
    headers = sign_request(signer, "PUT", "/v1/node", "", b'{"app_version":"1"}') | {"Content-Type": "application/json"}
    response = httpx.put(f"{grid.url}/v1/node", content=b'{"app_version":"2"}', headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"


def test_request_signed_by_another_key_is_refused(grid: LocalGrid, signer: KeypairSigner) -> None:
    body = b"{}"
    headers = sign_request(KeypairSigner(), "PUT", "/v1/node", "", body)
    headers["X-Hostapp-Node"] = signer.pubkey
    headers["Content-Type"] = "application/json"
    response = httpx.put(f"{grid.url}/v1/node", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"


def test_stale_request_is_refused(grid: LocalGrid, signer: KeypairSigner) -> None:
    response = _signed_put(grid.url, signer, b"{}", now=time.time() - 120)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "stale"


def test_nonce_reused_in_a_new_request_is_refused(grid: LocalGrid, signer: KeypairSigner) -> None:
    nonce = "n" * 32
    assert _signed_put(grid.url, signer, b"{}", nonce=nonce).status_code == 200
    second = _signed_put(grid.url, signer, b'{"app_version":"2"}', nonce=nonce)
    assert second.status_code == 401
    assert second.json()["error"]["code"] == "replayed"


def test_unsigned_node_call_is_401(grid: LocalGrid) -> None:
    response = httpx.post(f"{grid.url}/v1/node/lease", json={"wait_seconds": 0})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_header"


def test_lease_heartbeat_result_credit(grid: LocalGrid, node: GridClient) -> None:
    job_id = submit(grid, price=7, timeout=600)
    lease = node.lease(wait_seconds=2)
    assert lease is not None and lease.job_id == job_id and lease.attempt == 1
    assert lease.grid_job().definition.ops[0].id == "hello"
    assert 0 < lease.expires_in() <= 30
    node.heartbeat(lease, progress=0.5, telemetry={"gpu_temp_c": 61})
    time.sleep(1.1)
    accepted = node.deliver_result(job_id, lease.attempt, JobResult(status="succeeded", run_seconds=1, logs="hello"))
    assert accepted.seconds_billed == 1 and accepted.amount == 7
    assert job(grid, job_id)["state"] == "succeeded"
    credits = node.credits()
    assert credits.credited == 7 and credits.unpaid == 7 and len(credits.entries) == 1


def test_result_submit_is_idempotent(grid: LocalGrid, node: GridClient) -> None:
    job_id = submit(grid, price=3)
    lease = node.lease(wait_seconds=2)
    assert lease is not None
    time.sleep(1.1)
    result = JobResult(status="succeeded", run_seconds=1)
    first = node.deliver_result(job_id, lease.attempt, result)
    second = node.deliver_result(job_id, lease.attempt, result)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.amount == first.amount == 3
    assert node.credits().credited == 3


def test_metering_is_capped_by_the_grids_clock_and_the_timeout(grid: LocalGrid, node: GridClient) -> None:
    job_id = submit(grid, price=5, timeout=1)
    lease = node.lease(wait_seconds=2)
    assert lease is not None
    time.sleep(1.1)
    accepted = node.deliver_result(job_id, lease.attempt, JobResult(status="succeeded", run_seconds=3600))
    assert (accepted.seconds_billed, accepted.amount) == (1, 5)


def test_failed_job_is_not_credited(grid: LocalGrid, node: GridClient) -> None:
    job_id = submit(grid)
    lease = node.lease(wait_seconds=2)
    assert lease is not None
    accepted = node.deliver_result(
        job_id, lease.attempt, JobResult(status="failed", run_seconds=1, exit_codes={"hello": 1})
    )
    assert accepted.amount == 0
    assert job(grid, job_id)["state"] == "failed"
    assert node.credits().credited == 0


def test_another_nodes_lease_cannot_be_used(grid: LocalGrid, node: GridClient) -> None:
    job_id = submit(grid)
    lease = node.lease(wait_seconds=2)
    assert lease is not None
    with GridClient(grid.url, KeypairSigner(), retries=0) as thief:
        thief.register()
        with pytest.raises(GridRejected) as info:
            thief.deliver_result(job_id, lease.attempt, JobResult(status="succeeded", run_seconds=1))
    assert info.value.status == 404


def test_release_requeues_the_job(grid: LocalGrid, node: GridClient) -> None:
    job_id = submit(grid)
    lease = node.lease(wait_seconds=2)
    assert lease is not None
    assert node.release(lease, "game started").job_state == "queued"
    again = node.lease(wait_seconds=2)
    assert again is not None and (again.job_id, again.attempt) == (job_id, 2)


def test_lease_expiry_reoffers_the_job(tmp_path: Path) -> None:
    config = GridConfig(lease_seconds=1, heartbeat_seconds=1)
    with LocalGrid(tmp_path / "grid", config=config) as grid:
        first, second = (GridClient(grid.url, KeypairSigner(), retries=0) for _ in range(2))
        first.register()
        second.register()
        job_id = submit(grid)
        lease = first.lease(wait_seconds=1)
        assert lease is not None
        assert second.lease(wait_seconds=0) is None  # still leased
        time.sleep(1.2)
        assert lease.expired
        reoffered = second.lease(wait_seconds=3)
        assert reoffered is not None and (reoffered.job_id, reoffered.attempt) == (job_id, 2)
        with pytest.raises(LeaseLost):
            first.heartbeat(lease)
        # The late first node may still deliver (it did the work); the job is then completed once.
        second.deliver_result(job_id, 2, JobResult(status="succeeded", run_seconds=1))
        with pytest.raises(GridRejected) as info:
            first.deliver_result(job_id, 1, JobResult(status="succeeded", run_seconds=1))
        assert info.value.code == "job_completed"
        first.close()
        second.close()


def test_long_poll_returns_as_soon_as_a_job_is_submitted(grid: LocalGrid, node: GridClient) -> None:
    import threading

    result: dict[str, object] = {}

    def poll() -> None:
        started = time.monotonic()
        result["lease"] = node.lease(wait_seconds=10)
        result["waited"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)
    job_id = submit(grid)
    poller.join(timeout=10)
    lease = result["lease"]
    assert lease is not None and lease.job_id == job_id  # type: ignore[attr-defined]
    assert float(result["waited"]) < 5  # type: ignore[arg-type]


def test_empty_long_poll_returns_none_after_the_wait(grid: LocalGrid, node: GridClient) -> None:
    started = time.monotonic()
    assert node.lease(wait_seconds=0.3) is None
    assert time.monotonic() - started >= 0.3


def test_gpu_job_goes_only_to_a_node_with_a_big_enough_gpu(grid: LocalGrid) -> None:
    gpu_job = dict(HELLO)
    gpu_job["ops"] = [
        {"type": "container/run", "id": "g", "args": {"image": "ubuntu", "gpu": True, "required_vram": 8}}
    ]
    job_id = submit(grid, gpu_job)
    with (
        GridClient(grid.url, KeypairSigner(), retries=0) as cpu_only,
        GridClient(grid.url, KeypairSigner(), retries=0) as small,
        GridClient(grid.url, KeypairSigner(), retries=0) as big,
    ):
        cpu_only.register()
        small.register(NodeRegistration(gpus=[GpuInfo(uuid="GPU-small", vram_mb=4096)]))
        big.register(
            NodeRegistration(gpus=[GpuInfo(uuid="GPU-a", vram_mb=4096), GpuInfo(uuid="GPU-big", vram_mb=24576)])
        )
        assert cpu_only.lease(wait_seconds=0) is None
        assert small.lease(wait_seconds=0, free_gpus=["GPU-small"]) is None
        assert big.lease(wait_seconds=0, free_gpus=["GPU-a"]) is None  # the big one is busy
        lease = big.lease(wait_seconds=0, free_gpus=["GPU-a", "GPU-big"])
        assert lease is not None and lease.job_id == job_id and lease.gpu_uuid == "GPU-big"


def test_invalid_definition_is_a_422_naming_the_field(grid: LocalGrid) -> None:
    bad = {
        "version": "0.1",
        "type": "container",
        "ops": [{"type": "container/run", "id": "x", "args": {"privileged": True}}],
    }
    response = httpx.post(
        f"{grid.url}/v1/jobs",
        json={"definition": bad, "price_per_second": 1, "timeout_seconds": 5},
        headers=grid.owner_headers,
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_definition" and "privileged" in error["message"]


def test_lease_requires_registration(grid: LocalGrid, signer: KeypairSigner) -> None:
    with GridClient(grid.url, KeypairSigner(), retries=0) as stranger, pytest.raises(GridRejected) as info:
        stranger.lease(wait_seconds=0)
    assert info.value.code == "not_registered"


def test_each_retry_is_signed_afresh(grid: LocalGrid, node: GridClient) -> None:
    seen: list[str] = []
    node._http.event_hooks["request"].append(lambda request: seen.append(request.headers[HEADER_NONCE]))
    node.credits()
    node.credits()
    assert len(set(seen)) == 2
