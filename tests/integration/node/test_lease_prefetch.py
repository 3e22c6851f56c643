"""The node asks for its next lease while it delivers the last result (hostapp/node/slots.py
`_deliver_and_lease`), so queued jobs run back to back: the job-to-job gap (docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hostapp.localgrid.server import LocalGrid
from hostapp.schedule import policy as pol
from tests.integration.node.test_node import Harness, job, job_status, submit
from tests.support import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_queued_jobs_are_leased_while_the_last_result_is_delivered(
    tmp_path: Path, grid: LocalGrid, docker_client: Any, busybox_image: str
) -> None:
    h = Harness(tmp_path, grid, docker_client, pol.AvailabilityPolicy())
    calls: list[tuple[float, str | None]] = []  # (wait_seconds, the job leased)
    lease = h.client.lease

    def recording_lease(*args: Any, **kwargs: Any) -> Any:
        got = lease(*args, **kwargs)
        calls.append((kwargs.get("wait_seconds", 20.0), got.job_id if got else None))
        return got

    h.client.lease = recording_lease  # type: ignore[method-assign]
    ids = [submit(grid, job(0.5, f"n{i}")) for i in range(3)]
    h.node.start()
    try:
        wait_for(lambda: all(job_status(grid, j)["state"] == "succeeded" for j in ids), timeout=120, what="3 jobs")
    finally:
        h.close()
    leased = {job_id: wait for wait, job_id in calls if job_id}
    assert set(leased) == set(ids)
    # The first job comes from the slot loop's long-poll; each next one from the no-wait lease asked
    # for while the previous result was being delivered.
    assert leased[ids[0]] > 0
    assert leased[ids[1]] == 0 and leased[ids[2]] == 0, calls
    assert h.runner.reaper.drain(30)
    assert all(h.container(docker_client, j) is None for j in ids)
