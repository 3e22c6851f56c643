"""The job runner against the bare Docker SDK and CLI, measured alternately in one run (median of 20).

    .venv/bin/python bench/bench_runner.py [--runs 20] [--json out.json]

1. in one long-running process (what the node does): runner.run() of a trivial busybox job (validate →
   create → start → wait → collect → clean up) vs `containers.run(image, cmd, remove=True)` — target ≤ 1.10×;
2. the `hostapp run-job` CLI process vs the `docker run --rm` CLI — target ≤ 1.5×. Like `docker run`
   hands the container to a running dockerd, `hostapp run-job` hands the job to the running app or
   node (here: a node with its control socket in this process); also measured with --standalone,
   the path when no app runs (the CLI then imports pydantic and docker-py itself), without a target;
3. freeze latency: `runner.freeze()` call → container state "paused" — target ≤ 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_node import Foreign, build  # noqa: E402
from bench.harness import compare, measure, report  # noqa: E402
from hostapp.config.paths import default_paths  # noqa: E402
from hostapp.config.settings import JobLimits  # noqa: E402
from hostapp.control.transport import ControlServer  # noqa: E402
from hostapp.events import EventBus  # noqa: E402
from hostapp.jobs.definition import GridJob, parse_job_definition  # noqa: E402
from hostapp.jobs.engine import connect  # noqa: E402
from hostapp.jobs.runner import JobRunner  # noqa: E402
from hostapp.localgrid.server import LocalGrid  # noqa: E402
from hostapp.store import Store  # noqa: E402

IMAGE = "hostapp-test/busybox:latest"
TRIVIAL = {
    "version": "0.1",
    "type": "container",
    "ops": [{"type": "container/run", "id": "echo", "args": {"image": IMAGE, "cmd": ["echo", "hello"]}}],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", help="write the comparisons as JSON here")
    args = parser.parse_args()
    subprocess.run(["bash", str(ROOT / "scripts" / "build-images.sh")], check=True)
    home = Path(tempfile.mkdtemp(prefix="hostapp-bench-runner-"))
    os.environ["HOSTAPP_HOME"] = str(home)
    paths = default_paths().ensure()
    client = connect()
    store = Store(paths.database)
    runner = JobRunner(
        client, JobLimits(stop_grace_seconds=1), paths, EventBus(), store, f"bench-{secrets.token_hex(4)}"
    )
    raw = json.dumps(TRIVIAL)
    counter = iter(range(1_000_000))

    def runner_job() -> None:
        # The whole job as the node does it, validation of the received definition included.
        result = runner.run(GridJob(f"bench-{next(counter)}", 1, 1, 60, parse_job_definition(raw)))
        assert result.status == "succeeded", result.reason

    def sdk_job() -> None:
        client.containers.run(IMAGE, ["echo", "hello"], remove=True)

    results = [
        compare(
            "runner.run trivial job vs containers.run(remove=True)",
            runner_job,
            sdk_job,
            runs=args.runs,
            target_ratio=1.10,
        )
    ]

    job_file = home / "trivial.json"
    job_file.write_text(raw)
    env = {**os.environ, "HOSTAPP_HOME": str(home)}

    def cli_job(*flags: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "hostapp", "run-job", *flags, str(job_file)],
            check=True,
            env=env,
            cwd=ROOT,
            capture_output=True,
        )

    def docker_cli() -> None:
        subprocess.run(["docker", "run", "--rm", IMAGE, "echo", "hello"], check=True, capture_output=True)

    with LocalGrid(home / "grid") as grid:
        node, _bus, node_store = build(home / "node", grid, client, Foreign())
        control = ControlServer(paths.control_socket, node)  # where the CLI (same HOSTAPP_HOME) looks
        node.start()
        control.start()
        try:
            results.append(
                compare(
                    "hostapp run-job CLI (app/node running) vs docker run --rm",
                    cli_job,
                    docker_cli,
                    runs=args.runs,
                    target_ratio=1.5,
                )
            )
        finally:
            control.stop()
            node.stop()
            node_store.close()
    results.append(
        compare(
            "hostapp run-job --standalone CLI (no app running) vs docker run --rm",
            lambda: cli_job("--standalone"),
            docker_cli,
            runs=args.runs,
        )
    )
    report(results, args.json)

    def freeze_latency() -> float:
        job = GridJob(
            f"bench-freeze-{next(counter)}",
            1,
            1,
            120,
            parse_job_definition(
                {
                    "ops": [
                        {
                            "type": "container/run",
                            "id": "spin",
                            "args": {"image": IMAGE, "cmd": "while true; do echo x; sleep 0.05; done"},
                        }
                    ]
                }
            ),
        )
        started = threading.Event()
        unsubscribe = runner.bus.subscribe(
            "job.log", lambda e: started.set() if e.data["job_id"] == job.job_id else None
        )
        thread = threading.Thread(target=runner.run, args=(job,))
        thread.start()
        started.wait(30)
        container = client.containers.list(filters={"label": f"hostapp.job_id={job.job_id}"})[0]
        t0 = time.perf_counter()
        runner.freeze(job.job_id)
        while client.api.inspect_container(container.id)["State"]["Status"] != "paused":
            time.sleep(0.001)
        latency = time.perf_counter() - t0
        runner.stop(job.job_id)
        thread.join(60)
        unsubscribe()
        return latency

    freeze = measure("freeze latency (call -> container paused)", freeze_latency, runs=args.runs)
    print(f"freeze latency target <= 200 ms: {'OK' if freeze <= 0.2 else 'OVER TARGET'}")
    store.close()


if __name__ == "__main__":
    main()
