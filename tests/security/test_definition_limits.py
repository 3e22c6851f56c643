"""The same limits on every path a definition takes: text or object, grid submit, lease, local run.

And the shapes of issue #15 that used to pass: unknown versions, NVIDIA_* env, mounts over the
container's kernel trees, empty ops, giant objects, unbounded request and response bodies.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.grid.client import MAX_RESPONSE_BYTES, GridClient, GridRejected
from hostapp.grid.models import NodeRegistration
from hostapp.jobs.definition import MAX_DEFINITION_BYTES, JobDefinitionError, parse_job_definition
from hostapp.localgrid.server import MAX_BODY_BYTES, GridConfig, LocalGrid
from tests.security.test_hostile_definitions import HOSTILE_DIR
from tests.support import FreshKeystore

ROOT = Path(__file__).resolve().parents[2]
NEW_SHAPES = [
    ("empty-ops", "$.ops", "no ops to run"),
    ("unknown-version", "$.version", "this host reads versions 0.1, 0.0.1"),
    ("nvidia-visible-devices-env", "$.ops[0].args.env", "NVIDIA_* variables are set by this host only"),
    ("nvidia-driver-capabilities-global-env", "$.global.env", "NVIDIA_* variables are set by this host only"),
    ("output-sys-cgroup", "$.ops[0].args.output", "must not be under /sys"),
    ("output-dev", "$.ops[0].args.output", "must not be under /dev"),
    ("output-proc-double-slash", "$.ops[0].args.output", "must not be under /proc"),
    ("volume-dest-sys-cgroup", "$.ops[1].args.volumes[0].dest", "must not be under /sys"),
]


def small_job(**meta: Any) -> dict[str, Any]:
    return {
        "version": "0.1",
        "type": "container",
        "meta": meta,
        "ops": [{"type": "container/run", "id": "a", "args": {"image": "hostapp-test/busybox:latest", "cmd": "true"}}],
    }


@pytest.mark.parametrize(("name", "path", "reason"), NEW_SHAPES)
def test_new_hostile_shapes_name_the_field(name: str, path: str, reason: str) -> None:
    with pytest.raises(JobDefinitionError) as caught:
        parse_job_definition((HOSTILE_DIR / f"{name}.json").read_bytes())
    assert any(p == path and reason in r for p, r in caught.value.errors), caught.value.errors


def test_accepted_versions_and_the_confidential_exception() -> None:
    for version in ("0.1", "0.0.1"):
        assert parse_job_definition({**small_job(), "version": version}).version == version
    confidential = {"ops": [], "logistics": {"receive": {"type": "api-listen", "args": {}}}}
    assert parse_job_definition(confidential).ops == []  # Nosana's confidential jobs fetch their ops


def test_nvidia_keys_spread_in_at_run_time_are_refused_too() -> None:
    from hostapp.jobs.definition import LiteralError, RunOp, resolve_run_args

    definition = parse_job_definition(
        {
            "ops": [
                {"type": "container/run", "id": "a", "args": {"image": "busybox", "cmd": "true"}},
                {
                    "type": "container/run",
                    "id": "b",
                    "args": {"image": "busybox", "env": {"__spread__": "%%ops.a.results.env%%"}},
                },
            ]
        }
    )
    op = definition.ops[1]
    assert isinstance(op, RunOp)
    with pytest.raises(LiteralError, match="NVIDIA_"):
        resolve_run_args(op.args, definition, {"a": {"env": ['{"NVIDIA_VISIBLE_DEVICES": "all"}']}})


def test_an_object_gets_the_text_limit() -> None:
    giant = small_job(pad="x" * (MAX_DEFINITION_BYTES + 1))
    with pytest.raises(JobDefinitionError, match="bytes as JSON; the limit is"):
        parse_job_definition(giant)
    many = small_job(items=["y" * 100] * (MAX_DEFINITION_BYTES // 100))  # many small pieces add up the same
    with pytest.raises(JobDefinitionError, match="bytes as JSON; the limit is"):
        parse_job_definition(many)
    escapes = small_job(pad="\x01" * (MAX_DEFINITION_BYTES // 5))  # each is 6 bytes of JSON (\u0001)
    with pytest.raises(JobDefinitionError, match="bytes as JSON; the limit is"):
        parse_job_definition(escapes)
    assert parse_job_definition(small_job(pad="x" * (MAX_DEFINITION_BYTES - 1000))).ops


# ------------------------------------------------------------------ the grid: body caps, submit, lease


@pytest.fixture
def validating_grid(tmp_path: Path) -> Any:
    with LocalGrid(tmp_path / "grid", config=GridConfig(lease_seconds=30, heartbeat_seconds=10)) as local:
        yield local


def test_owner_route_caps_its_body_and_stores_nothing(validating_grid: LocalGrid) -> None:
    grid = validating_grid
    giant = small_job(pad="x" * (8 * MAX_BODY_BYTES))
    body = json.dumps({"definition": giant, "price_per_second": 1, "timeout_seconds": 60}).encode()
    response = httpx.post(
        grid.url + "/v1/jobs",
        content=body,
        headers={**grid.owner_headers, "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error"]["code"] == "too_large"

    def chunks() -> Any:  # no Content-Length: the cap holds while the body streams in
        for _ in range(8):
            yield b" " * MAX_BODY_BYTES

    streamed = httpx.post(
        grid.url + "/v1/jobs", content=chunks(), headers={**grid.owner_headers, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert httpx.get(grid.url + "/v1/jobs", headers=grid.owner_headers).json()["jobs"] == []


def test_submit_refuses_an_object_over_the_limit_and_empty_ops(validating_grid: LocalGrid) -> None:
    grid = validating_grid
    for definition, path in (
        (small_job(pad="x" * (MAX_DEFINITION_BYTES + 10)), "$"),
        ({"version": "0.1", "type": "container", "ops": []}, "$.ops"),
        ({"ops": [], "logistics": {"receive": {"type": "api-listen", "args": {}}}}, "$.ops"),
    ):
        response = httpx.post(
            grid.url + "/v1/jobs",
            json={"definition": definition, "price_per_second": 1, "timeout_seconds": 60},
            headers=grid.owner_headers,
            timeout=60,
        )
        assert response.status_code == 422, response.text[:300]
        assert [d["path"] for d in response.json()["error"]["details"]] == [path]
    assert httpx.get(grid.url + "/v1/jobs", headers=grid.owner_headers).json()["jobs"] == []


def test_node_refuses_an_oversized_lease_from_a_non_validating_grid(validating_grid: LocalGrid) -> None:
    """A grid we do not control may send anything: the client reads at most MAX_RESPONSE_BYTES."""
    grid = validating_grid
    assert grid.service is not None
    giant = small_job(pad="x" * (MAX_RESPONSE_BYTES + 1024))
    grid.service.store.submit_job(giant, 1, 60, gpu=False, min_vram_mb=None, min_cuda=None)
    client = GridClient(grid.url, FreshKeystore(), timeout=30, retries=0)
    try:
        client.register(NodeRegistration(app_version="test"))
        with pytest.raises(GridRejected) as caught:
            client.lease(wait_seconds=1)
        assert caught.value.code == "too_large"
    finally:
        client.close()


# ------------------------------------------------------------------ the CLI


def run_job(home: Path, path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hostapp", "run-job", "--standalone", *flags, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"HOSTAPP_HOME": str(home), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


@pytest.mark.parametrize(("name", "path", "reason"), NEW_SHAPES)
def test_cli_refuses_new_shapes_with_one_line_each(tmp_path: Path, name: str, path: str, reason: str) -> None:
    proc = run_job(tmp_path, HOSTILE_DIR / f"{name}.json", "--dry-run")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"invalid: {path}: " in proc.stderr and reason in proc.stderr
    assert "Traceback" not in proc.stderr and "Docker engine" not in proc.stderr


@pytest.mark.docker
def test_cli_runs_a_file_with_a_non_ascii_name(tmp_path: Path, docker_client: Any, busybox_image: str) -> None:
    job_file = tmp_path / "tést.json"
    job_file.write_text(json.dumps(small_job()), encoding="utf-8")
    proc = run_job(tmp_path / "home", job_file)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "job local-t-st-" in proc.stderr  # the id keeps ASCII only
