"""A job whose result pattern is a regex bomb, under a real `hostapp node`: the node stays responsive.

Result patterns run inside the node on every log line. On a backtracking engine `^(a+)+$` against
`aaaa…a!` holds the GIL for many seconds per line: `hostapp status` timed out, heartbeats stalled and
the job overran its timeout. Here the control socket must answer every call within 1 s (the
client's own read timeout) while the job runs, and the job must end within its timeout plus the
stop grace period.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hostapp.control.transport import call
from hostapp.localgrid.server import LocalGrid
from tests.integration.node.test_node import job_status, submit
from tests.support import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.keyring, pytest.mark.slow]

TIMEOUT_SECONDS = 20
STOP_GRACE_SECONDS = 10  # JobLimits.stop_grace_seconds, the default the node runs with
BOMB_LINE = "a" * 28 + "!"


def bomb_job() -> dict[str, Any]:
    script = f"for i in 1 2 3 4 5 6 7 8; do echo {BOMB_LINE}; sleep 0.5; done"
    return {
        "version": "0.1",
        "type": "container",
        "ops": [
            {
                "type": "container/run",
                "id": "bomb",
                "args": {"image": "hostapp-test/busybox:latest", "cmd": ["sh", "-c", script]},
                "results": {
                    "bomb": "^(a+)+$",
                    "bomb-stderr": {"regex": "^(a|aa)+$", "logType": ["stdout", "stderr"]},
                    "plain": "a{3}!",
                },
            }
        ],
    }


def hostapp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hostapp", *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


def test_regex_bomb_neither_freezes_the_node_nor_outlives_the_timeout(
    hostapp_home: Path, grid: LocalGrid, docker_client: Any, busybox_image: str, tmp_path: Path
) -> None:
    assert hostapp("wallet", "create", "--yes-i-wrote-it-down").returncode == 0
    socket = hostapp_home / "run" / "control.sock"
    with (tmp_path / "node.log").open("a") as log:
        node = subprocess.Popen(
            [sys.executable, "-m", "hostapp", "node", "--grid-url", grid.url],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    try:
        wait_for(socket.exists, what="control socket")
        wait_for(lambda: call(socket, "status")["state"] == "waiting", what="node waiting for work")
        job_id = submit(grid, bomb_job(), price=1, timeout=TIMEOUT_SECONDS)
        wait_for(lambda: job_status(grid, job_id)["state"] == "leased", what="the bomb job leased")
        # From the lease on: the job must be done by its timeout plus the grace period (plus 10 s for
        # the lease long-poll and result delivery on a busy machine); meanwhile every status call answers.
        deadline = time.monotonic() + TIMEOUT_SECONDS + STOP_GRACE_SECONDS + 10
        answered, states = 0, set()
        while (status := job_status(grid, job_id))["state"] in ("queued", "leased"):
            assert time.monotonic() < deadline, "the job outlived its timeout + grace period"
            states.add(call(socket, "status", timeout=1.0)["state"])  # ControlError if no answer within 1 s
            answered += 1
            time.sleep(0.2)
        assert answered >= 5 and "working" in states, (answered, states)
        assert status["state"] == "succeeded", status
        results = status["result"]["results"]
        assert results == {"bomb": [], "bomb-stderr": [], "plain": ["aaa!"] * 8}, results
    finally:
        node.terminate()
        node.wait(timeout=60)
