"""Health tells the truth: a node the grid refuses is in Error, and `hostapp status`, `hostapp doctor`
say so with the reason and the fix. Real parts: `hostapp node` as a process, a real grid server
over loopback HTTP, the wallet in the real Secret Service, Docker, the control socket.

The refusing grid is the real LocalGrid addressed under a path it does not serve: every node call
gets a real 404 refusal, the way a mistyped grid URL does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hostapp.localgrid.server import LocalGrid
from tests.support import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.keyring, pytest.mark.slow]


def hostapp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hostapp", *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


def status_json() -> dict[str, Any] | None:
    ran = hostapp("status", "--json")
    return dict(json.loads(ran.stdout)) if ran.stdout.strip() else None


def test_a_refused_node_is_an_error_in_status_and_doctor(hostapp_home: Path, grid: LocalGrid, tmp_path: Path) -> None:
    assert hostapp("wallet", "create", "--yes-i-wrote-it-down").returncode == 0
    with (tmp_path / "node.log").open("a") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "hostapp", "node", "--grid-url", f"{grid.url}/not-a-grid"],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ),
        )
    try:
        status = wait_for(
            lambda: (s := status_json()) is not None and s["state"] == "error" and s, what="the node in Error"
        )
        assert status["problem"]["reason"].startswith("grid refused registration: ")
        assert status["problem"]["fix"]

        plain = hostapp("status")
        assert plain.returncode == 3
        assert plain.stdout.startswith("Error — grid refused registration")
        (line,) = plain.stderr.splitlines()  # reason and fix on one line
        assert "grid refused registration" in line and "fix: " in line
        assert hostapp("status", "--json").returncode == 3

        doctor = hostapp("doctor")
        assert doctor.returncode == 1
        lines = doctor.stdout.splitlines()
        node_line = next(line for line in lines if " node " in line)
        assert node_line.startswith("FAIL") and "grid refused registration" in node_line
        assert "fix:" in lines[lines.index(node_line) + 1]
        as_json = json.loads(hostapp("doctor", "--json").stdout)
        node_check = next(c for c in as_json["checks"] if c["id"] == "node")
        assert node_check["status"] == "FAIL" and node_check["hint"] == status["problem"]["fix"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    assert "Traceback" not in (tmp_path / "node.log").read_text()


def test_doctor_says_so_when_no_node_runs(hostapp_home: Path) -> None:
    as_json = json.loads(hostapp("doctor", "--json").stdout)
    node_check = next(c for c in as_json["checks"] if c["id"] == "node")
    assert node_check["status"] == "OK" and "no hostapp running" in node_check["summary"]
