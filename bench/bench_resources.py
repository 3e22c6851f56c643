"""The model cache against boto3 itself and against a cold start, each compared in the same run.

    .venv/bin/python bench/bench_resources.py      # HOSTAPP_BENCH_MODEL_MB=1024 for the issue's 1 GB object

1. fetch throughput: ModelCache.prepare of one S3 object (fresh cache each time) vs boto3's own
   `download_file` of the same object from the same server (`moto_server`, its own process, loopback),
   alternating. Target: hostapp >= 0.9x boto3's throughput (time ratio <= 1.11x).
2. second job naming the same resource: its start delay (run() called -> op about to create its
   container) vs the first job's, which fetched. Target: <= 1/20.
3. mount overhead: a trivial job with 5 cached resources mounted vs the same job with none,
   alternating (the default models.revalidate_seconds: listed once a minute). Target: <= +50 ms.
   Beside it: what listing the 5 sources again costs (revalidate_seconds=0), and what the same 5
   read-only binds cost the engine on a bare container.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore import UNSIGNED  # noqa: E402
from botocore.config import Config  # noqa: E402

from bench.harness import Comparison  # noqa: E402
from hostapp.config.paths import AppPaths  # noqa: E402
from hostapp.config.settings import JobLimits, ModelSettings  # noqa: E402
from hostapp.events import EventBus  # noqa: E402
from hostapp.jobs.definition import GridJob, Resource, parse_job_definition  # noqa: E402
from hostapp.jobs.engine import connect  # noqa: E402
from hostapp.jobs.runner import JobRunner  # noqa: E402
from hostapp.resources.cache import ModelCache  # noqa: E402
from hostapp.resources.spec import resolve  # noqa: E402
from hostapp.store import Store  # noqa: E402

IMAGE = "hostapp-test/busybox:latest"
MB = 1024 * 1024
SIZE_MB = int(os.environ.get("HOSTAPP_BENCH_MODEL_MB", "512"))
RUNS = int(os.environ.get("HOSTAPP_BENCH_RUNS", "3"))


def public_bucket(client: Any) -> str:
    import json

    name = f"bench-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=name)
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
    }
    client.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    return name


def upload(client: Any, bucket: str, key: str, size: int) -> None:
    with tempfile.TemporaryFile() as handle:
        remaining = size
        while remaining:
            chunk = os.urandom(min(remaining, 16 * MB))
            handle.write(chunk)
            remaining -= len(chunk)
        handle.seek(0)
        client.upload_fileobj(handle, bucket, key)


def job(*resources: dict[str, Any]) -> GridJob:
    args = {"image": IMAGE, "cmd": ["true"], "resources": list(resources)}
    definition = parse_job_definition({"ops": [{"type": "container/run", "id": "main", "args": args}]})
    return GridJob(f"bench-{secrets.token_hex(4)}", 1, 0, 600, definition)


def main() -> int:
    # The S3 server in its own process: in this one it would take the GIL from the clients it serves.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    moto = Path(sys.executable).with_name("moto_server")
    server = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    admin = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b"
    )
    bucket = public_bucket(admin)
    upload(admin, bucket, "big/model.bin", SIZE_MB * MB)
    for index in range(5):
        admin.put_object(Bucket=bucket, Key=f"small{index}/config.json", Body=b"{}" * 512)
    work = Path(tempfile.mkdtemp(prefix="hostapp-bench-resources-"))
    settings = ModelSettings()
    source = resolve(Resource(type="S3", url=f"{url}/{bucket}/big", target="/m"), settings)
    results: list[Comparison] = []
    try:
        # 1. throughput, alternating with boto3's own managed download of the same object
        anonymous = boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", config=Config(signature_version=UNSIGNED)
        )
        ours: list[float] = []
        theirs: list[float] = []
        for run in range(RUNS):
            root = work / f"cache-{run}"
            started = time.perf_counter()
            ModelCache(root, settings).prepare(None, [source], grid=False)
            ours.append(time.perf_counter() - started)
            shutil.rmtree(root, ignore_errors=True)
            target = work / "boto3.bin"
            started = time.perf_counter()
            anonymous.download_file(bucket, "big/model.bin", str(target))
            theirs.append(time.perf_counter() - started)
            target.unlink()
        fetch = Comparison.of_samples(f"fetch {SIZE_MB} MB, time vs boto3 download_file", ours, theirs, 1 / 0.9)
        results.append(fetch)
        print(fetch.line())
        print(
            f"  throughput: hostapp {SIZE_MB / statistics.median(ours):.0f} MB/s, "
            f"boto3 {SIZE_MB / statistics.median(theirs):.0f} MB/s"
        )

        # 2 and 3: through the runner, on the real engine
        paths = AppPaths(work / "config", work / "data", work / "cache", work / "logs", work / "run").ensure()
        store = Store(paths.database)
        runner = JobRunner(
            connect(),
            JobLimits(stop_grace_seconds=1),
            paths,
            EventBus(),
            store,
            f"bench-{secrets.token_hex(3)}",
            models=settings,
        )
        big = {"type": "S3", "url": f"{url}/{bucket}/big", "target": "/models/big"}

        def start_delay(grid_job: GridJob) -> float:
            called = time.time()
            result = runner.run(grid_job, source="local")
            assert result.status == "succeeded", result.reason
            return float(result.ops[0].started_at or called) - called

        first = start_delay(job(big))
        second = [start_delay(job(big)) for _ in range(RUNS)]
        delay = Comparison.of_samples("second job start delay vs first (which fetched)", second, [first], 1 / 20)
        results.append(delay)
        print(delay.line())

        small = [
            {"type": "S3", "url": f"{url}/{bucket}/small{index}", "target": f"/models/m{index}"} for index in range(5)
        ]
        runner.run(job(*small), source="local")  # fetch once: the comparison is about mounting
        with_mounts: list[float] = []
        without: list[float] = []
        for _ in range(max(RUNS * 3, 10)):
            for spec, bucket_list in ((job(*small), with_mounts), (job(), without)):
                started = time.perf_counter()
                result = runner.run(spec, source="local")
                assert result.status == "succeeded", result.reason
                bucket_list.append(time.perf_counter() - started)
        sources = [resolve(Resource.model_validate(item), settings) for item in small]
        relisting = ModelCache(runner.models.root, ModelSettings(revalidate_seconds=0))  # lists every time
        revalidate = []
        for _ in range(max(RUNS * 3, 10)):
            started = time.perf_counter()
            relisting.prepare(None, sources, grid=False)
            revalidate.append(time.perf_counter() - started)
        revalidate_ms = statistics.median(revalidate) * 1000
        print(f"  listing the 5 sources again (models.revalidate_seconds=0): {revalidate_ms:.0f} ms")
        # The engine's own share: the same 5 read-only binds on a bare container, vs none.
        docker = connect()
        folders = [str(path) for path in runner.models.entries_dir.iterdir()][:5]
        binds = {folder: {"bind": f"/models/m{index}", "mode": "ro"} for index, folder in enumerate(folders)}
        bare_with: list[float] = []
        bare_without: list[float] = []
        for _ in range(max(RUNS * 3, 10)):
            for volumes, samples in ((binds, bare_with), ({}, bare_without)):
                started = time.perf_counter()
                docker.containers.run(IMAGE, ["true"], volumes=volumes, remove=True, network_mode="none")
                samples.append(time.perf_counter() - started)
        engine_ms = (statistics.median(bare_with) - statistics.median(bare_without)) * 1000
        print(f"  the engine's own cost of 5 read-only binds (bare containers.run): {engine_ms:+.0f} ms")
        mounts = Comparison.of_samples("job with 5 cached resources vs none", with_mounts, without)
        results.append(mounts)
        extra_ms = (statistics.median(with_mounts) - statistics.median(without)) * 1000
        print(mounts.line())
        print(f"  mount overhead: {extra_ms:+.0f} ms (target <= +50 ms)  {'OK' if extra_ms <= 50 else 'OVER TARGET'}")
        store.close()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
