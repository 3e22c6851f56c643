"""Job outputs on the host: capped in entries, per job and per host; a grid job's go once its result is delivered.

Issue #15 item 7: outputs were capped in bytes only and kept forever; one op left 139,119 empty files
on the host in 92 s and nothing ever deleted `data/jobs`. Real engine, real runner, real node on the
embedded grid.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.app import Services, build_services
from hostapp.config.settings import OutputSettings
from hostapp.jobs.definition import GridJob, parse_job_definition
from hostapp.jobs.runner import JobResult
from tests.support import wait_for

pytestmark = pytest.mark.docker

BUSYBOX = "hostapp-test/busybox:latest"
MIB = 1_048_576


def _entries(path: Path) -> int:
    return sum(len(dirs) + len(files) for _, dirs, files in os.walk(path))


def _run(runner: Any, commands: list[str], job_id: str, source: str = "grid") -> JobResult:
    ops = [
        {"type": "container/run", "id": f"op{n}", "args": {"image": BUSYBOX, "cmd": ["sh", "-c", c], "output": "/out"}}
        for n, c in enumerate(commands)
    ]
    if len(ops) > 1:
        ops[1]["execution"] = {"depends_on": ["op0"]}
    definition = parse_job_definition({"ops": ops})
    return runner.run(GridJob(job_id, 1, 1, 120, definition), source=source)


def test_an_op_writing_many_empty_files_is_capped_in_entries(make_runner: Any, app_paths: Any) -> None:
    runner, _ = make_runner()
    runner.outputs.settings = OutputSettings(max_entries_per_op=500)
    started = time.monotonic()
    result = _run(runner, ["cd /out && seq 1 20000 | xargs touch"], f"many-files-{time.monotonic_ns()}")
    collected = time.monotonic() - started
    op = result.ops[0]
    assert op.status == "succeeded", op.reason  # the job did its work; its output is what is capped
    assert "output stopped after 500 files and folders (setting outputs.max_entries_per_op)" in (op.reason or "")
    assert op.output_dir is not None
    on_disk = _entries(Path(op.output_dir))
    assert on_disk < 500 and len(op.output_files) == on_disk, (on_disk, len(op.output_files))
    print(f"20000 empty files written, {on_disk} kept, run + collect {collected:.1f} s")


def test_bytes_are_capped_per_job_and_per_host(make_runner: Any, app_paths: Any) -> None:
    runner, _ = make_runner()
    runner.outputs.settings = OutputSettings(max_bytes_per_job=4 * MIB, budget_mb=6)
    write = "head -c {size} /dev/zero > /out/{name}"
    ops = [write.format(size=3 * MIB, name="a"), write.format(size=3 * MIB, name="b")]
    first = _run(runner, ops, f"per-job-{time.monotonic_ns()}", source="local")
    assert first.ops[0].reason is None and first.ops[0].output_files == ["a"]
    assert "(setting outputs.max_bytes_per_job)" in (first.ops[1].reason or ""), first.ops[1].reason
    assert first.ops[1].output_files == []  # the ops share /out: 6 MiB did not fit in the 1 MiB left

    # The local job's 3 MiB stay (outputs.local_keep_days): 3 MiB of the host's 6 are left for the next job.
    second = _run(runner, [write.format(size=7 * MIB // 2, name="c")], f"per-host-{time.monotonic_ns()}", "local")
    assert "(setting outputs.budget_mb)" in (second.ops[0].reason or ""), second.ops[0].reason
    assert second.ops[0].output_files == []
    assert runner.outputs.usage().bytes <= 6 * MIB


def test_sweep_removes_expired_outputs_then_the_oldest_over_budget(make_runner: Any, app_paths: Any) -> None:
    runner, _ = make_runner()
    runner.outputs.settings = OutputSettings(local_keep_days=1, budget_mb=10)
    write = "head -c 2097152 /dev/zero > /out/blob"
    old, middle, new = (f"{name}-{time.monotonic_ns()}" for name in ("old", "middle", "new"))
    for job_id in (old, middle, new):
        assert _run(runner, [write], job_id, source="local").status == "succeeded"
    runner.store.execute("UPDATE jobs SET ended_at = ? WHERE job_id = ?", (time.time() - 2 * 86_400, old))
    runner.outputs.settings = OutputSettings(local_keep_days=1, budget_mb=5)
    assert runner.outputs.usage().bytes >= 6 * MIB  # over the budget, now 5 MiB, before the sweep
    removed = runner.outputs.sweep()
    assert removed == [old]  # expired; then the rest fit (4 MiB of 5)
    assert not (app_paths.jobs_dir / old).exists() and (app_paths.jobs_dir / new).exists()
    runner.outputs.settings = OutputSettings(local_keep_days=1, budget_mb=3)
    assert runner.outputs.sweep() == [middle]  # the oldest goes first while over budget
    # A job another hostapp process is running (its row says so) is never swept, even far over budget.
    runner.store.execute("UPDATE jobs SET status = 'running' WHERE job_id = ?", (new,))
    runner.outputs.settings = OutputSettings(local_keep_days=0, budget_mb=1)
    assert runner.outputs.sweep() == [] and (app_paths.jobs_dir / new).exists()


@pytest.fixture
def services(hostapp_home: Path, busybox_image: str) -> Iterator[Services]:
    built = build_services(setup_logs=False)
    built.wallet.create()
    built.wallet.skip_backup_confirmation()
    try:
        yield built
    finally:
        built.close()


@pytest.mark.keyring
@pytest.mark.slow
def test_a_grid_jobs_outputs_are_deleted_once_its_result_is_delivered(services: Services) -> None:
    services.start_node()
    definition = {
        "version": "0.1",
        "type": "container",
        "ops": [
            {
                "type": "container/run",
                "id": "out",
                "args": {
                    "image": BUSYBOX,
                    "cmd": ["sh", "-c", "echo result > /out/answer.txt; sleep 1"],
                    "output": "/out",
                },
            }
        ],
    }
    collected: dict[str, bool] = {}

    def on_finished(event: Any) -> None:
        # On the runner's thread, after it collected the outputs and before the result is delivered
        # (the node now asks for the next lease while it delivers: the folder may live only for ms).
        job = str(event.data.get("job_id"))
        collected[job] = (services.paths.jobs_dir / job).exists()

    services.bus.subscribe("job.finished", on_finished)
    response = httpx.post(
        services.grid_url() + "/v1/jobs",
        json={"definition": definition, "price_per_second": 10, "timeout_seconds": 60},
        headers=services.local_grid.owner_headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    job_id = response.json()["job_id"]
    outputs = services.paths.jobs_dir / job_id
    wait_for(lambda: job_id in collected, timeout=120, what="the job finished")
    assert collected[job_id], "the job's outputs were not collected"

    def delivered() -> bool:
        rows = services.store.query("SELECT status FROM ledger WHERE job_id = ?", (job_id,))
        return bool(rows) and rows[0]["status"] in ("credited", "paid")

    wait_for(delivered, timeout=120, what="the result delivered and credited")
    wait_for(lambda: not outputs.exists(), timeout=10, what="the delivered job's outputs deleted")
    op = services.store.query("SELECT reason FROM job_ops WHERE job_id = ?", (job_id,))[0]
    assert op["reason"] is None
