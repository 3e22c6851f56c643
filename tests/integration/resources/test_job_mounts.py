"""Jobs with model resources on the real engine: fetched into the cache, mounted read-only, keys kept secret."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hostapp.config.paths import AppPaths
from hostapp.config.settings import JobLimits, ModelSettings
from hostapp.events import EventBus
from hostapp.jobs.definition import GridJob, parse_job_definition
from hostapp.jobs.runner import JobRunner
from hostapp.store import Store

from .conftest import MB, S3Server

pytestmark = pytest.mark.docker

BUSYBOX = "hostapp-test/busybox:latest"
ACCESS_KEY = "AKIATESTONLY" + secrets.token_hex(4).upper()
SECRET_KEY = "secret-" + secrets.token_hex(16)


@pytest.fixture
def runner_for(docker_client: Any, app_paths: AppPaths, busybox_image: str) -> Iterator[Any]:
    instance = f"test-{secrets.token_hex(4)}"
    stores: list[Store] = []

    def make(**models: Any) -> tuple[JobRunner, list[dict[str, Any]]]:
        bus = EventBus()
        progress: list[dict[str, Any]] = []
        bus.subscribe("resource.progress", lambda event: progress.append(event.data))
        store = Store(app_paths.database)
        stores.append(store)
        limits = JobLimits(memory_mb=128, pids=64, stop_grace_seconds=1)
        runner = JobRunner(docker_client, limits, app_paths, bus, store, instance, models=ModelSettings(**models))
        return runner, progress

    yield make
    for store in stores:
        store.close()
    for container in docker_client.containers.list(all=True, filters={"label": f"hostapp.instance={instance}"}):
        container.remove(force=True)


def job(cmd: str, *resources: dict[str, Any]) -> GridJob:
    definition = {
        "ops": [
            {
                "type": "container/run",
                "id": "main",
                "args": {"image": BUSYBOX, "cmd": cmd, "resources": list(resources)},
            }
        ]
    }
    return GridJob(f"t-{secrets.token_hex(5)}", 1, 7, 120, parse_job_definition(definition))


def test_a_job_reads_its_model_read_only_and_the_keys_go_nowhere(
    s3_server: S3Server, runner_for: Any, app_paths: AppPaths, docker_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bucket = s3_server.bucket(public=False)  # a private bucket: the job brings its own IAM keys
    data = s3_server.put(bucket, "llm/weights.bin", 20 * MB)
    resource = {
        "type": "S3",
        "url": f"{s3_server.url}/{bucket}/llm",
        "target": "/models/llm",
        "IAM": {"REGION": "us-east-1", "ACCESS_KEY_ID": ACCESS_KEY, "SECRET_ACCESS_KEY": SECRET_KEY},
    }
    runner, progress = runner_for()
    seen: dict[str, Any] = {}

    def inspect(event: Any) -> None:
        if event.data.get("line") == "ready" and not seen:
            containers = docker_client.containers.list(filters={"label": f"hostapp.job_id={event.data['job_id']}"})
            seen.update(containers[0].attrs)

    runner.bus.subscribe("job.log", inspect)
    script = (
        "echo ready; md5sum /models/llm/weights.bin; "
        "echo x > /models/llm/weights.bin 2>/dev/null || echo cannot-write; "
        "touch /models/llm/new 2>/dev/null || echo cannot-create; sleep 1"
    )
    result = runner.run(job(script, resource), source="local")  # loopback: the user's own run-job
    assert result.status == "succeeded", result.reason
    lines = result.ops[0].log_tail.splitlines()
    assert f"{hashlib.md5(data, usedforsecurity=False).hexdigest()}  /models/llm/weights.bin" in lines
    assert {"cannot-write", "cannot-create"} <= set(lines)
    # The one bind mount: read-only, an entry of the model cache; everything else stays a volume.
    binds = [m for m in seen["Mounts"] if m["Type"] == "bind"]
    assert [(m["Destination"], m["RW"]) for m in binds] == [("/models/llm", False)]
    assert Path(binds[0]["Source"]).parent == runner.models.entries_dir
    assert all(m["Type"] == "volume" for m in seen["Mounts"] if m["Type"] != "bind")
    assert progress[-1]["finished"] and progress[-1]["bytes_done"] == len(data)
    # The keys were used for this fetch only: no file under HOSTAPP_HOME, no log line holds them.
    for path in Path(app_paths.data).parent.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert SECRET_KEY.encode() not in content and ACCESS_KEY.encode() not in content, path
    assert SECRET_KEY not in caplog.text and ACCESS_KEY not in caplog.text
    assert runner.models.pinned() == set()  # released with the job

    # A second job naming the same model finds it in the cache.
    again = runner.run(job("ls /models/llm", resource), source="local")
    assert again.status == "succeeded" and again.ops[0].log_tail.split() == ["weights.bin"]
    assert progress[-1]["finished"] and len(list(runner.models.entries_dir.iterdir())) == 1


def test_allow_write_gets_a_copy_the_shared_entry_never_changes(s3_server: S3Server, runner_for: Any) -> None:
    bucket = s3_server.bucket()
    s3_server.put(bucket, "m/a.bin", 1000)
    resource = {"type": "S3", "url": f"{s3_server.url}/{bucket}/m", "target": "/m", "allowWrite": True}
    runner, _ = runner_for()
    result = runner.run(
        job("echo changed > /m/a.bin && cat /m/a.bin && touch /m/new && ls /m", resource), source="local"
    )
    assert result.status == "succeeded", result.reason
    assert result.ops[0].log_tail.split() == ["changed", "a.bin", "new"]
    (entry,) = runner.models.entries_dir.iterdir()
    assert sorted(p.name for p in entry.iterdir()) == ["a.bin"]
    assert (entry / "a.bin").read_bytes() == s3_server.objects[(bucket, "m/a.bin")]


def test_grid_jobs_are_refused_loopback_sources_before_anything_starts(
    s3_server: S3Server, runner_for: Any, docker_client: Any
) -> None:
    bucket = s3_server.bucket()
    s3_server.put(bucket, "m/a.bin", 1000)
    runner, progress = runner_for()
    grid_job = job("true", {"type": "S3", "url": f"{s3_server.url}/{bucket}/m", "target": "/m"})
    result = runner.run(grid_job, source="grid")
    assert result.status == "failed"
    assert result.reason is not None and "non-public address 127.0.0.1" in result.reason
    assert result.reason.startswith("resources: ") and "models.trusted_hosts" in result.reason
    assert [op.status for op in result.ops] == ["skipped"] and progress == []
    assert not docker_client.containers.list(all=True, filters={"label": f"hostapp.job_id={grid_job.job_id}"})


def test_a_job_whose_models_do_not_fit_is_refused_before_it_starts(s3_server: S3Server, runner_for: Any) -> None:
    bucket = s3_server.bucket()
    s3_server.put(bucket, "m/a.bin", 3 * MB)
    runner, progress = runner_for(budget_mb=2)
    result = runner.run(
        job("true", {"type": "S3", "url": f"{s3_server.url}/{bucket}/m", "target": "/m"}), source="local"
    )
    assert result.status == "failed" and result.reason is not None
    assert "need 3 MB more in the model cache, which has a budget of 2 MB" in result.reason
    assert progress == [] and not runner.models.entries_dir.exists()


def test_stopping_a_job_ends_its_fetch_and_keeps_what_came_down(s3_server: S3Server, runner_for: Any) -> None:
    bucket = s3_server.bucket()
    data = s3_server.put(bucket, "m/w.bin", 64 * MB)
    runner, _ = runner_for(concurrency=1)
    grid_job = job("true", {"type": "S3", "url": f"{s3_server.url}/{bucket}/m", "target": "/m"})
    # The first progress event comes after the first chunk; stopping there (in the fetching thread
    # itself) leaves no room for the fetch to finish first.
    runner.bus.subscribe("resource.progress", lambda event: runner.stop(grid_job.job_id))
    result = runner.run(grid_job, source="local")
    assert result.status == "stopped", result.reason
    assert result.reason == f"resources: resource {s3_server.url}/{bucket}/m: the fetch was stopped with the job"
    assert not runner.models.entries_dir.exists() and runner.models.pinned() == set()
    partial = next((runner.models.root / "partial").iterdir()) / "w.bin"
    assert partial.stat().st_size == len(data)  # preallocated; the parts list says what is there


def test_run_job_cli_fetches_mounts_and_reports_a_yaml_definition(s3_server: S3Server, hostapp_home: Path) -> None:
    """A corpus-shaped YAML definition whose one extra piece is an S3 resource, run by `hostapp run-job`."""
    bucket = s3_server.bucket()
    s3_server.client.put_object(Bucket=bucket, Key="test/hello.txt", Body=b"hello from the model cache\n")
    definition = {
        "version": "0.1",
        "type": "container",
        "meta": {"trigger": "cli"},
        "ops": [
            {
                "type": "container/run",
                "id": "run-from-cli",
                "args": {
                    "image": BUSYBOX,
                    "cmd": "cat /test/hello.txt",
                    "resources": [{"type": "S3", "url": f"{s3_server.url}/{bucket}/test", "target": "/test"}],
                },
            }
        ],
    }
    path = hostapp_home.parent / "volume-demo.yaml"
    path.write_text(yaml.safe_dump(definition))
    proc = subprocess.run(
        [sys.executable, "-m", "hostapp", "run-job", "--standalone", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "HOSTAPP_HOME": str(hostapp_home)},
        cwd=Path(__file__).resolve().parents[3],
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[run-from-cli] hello from the model cache" in proc.stdout
    assert f"model {s3_server.url}/{bucket}/test: ready, 0.00/0.00 GB" in proc.stderr
