"""The embedded grid as a process of its own (`python -m hostapp.localgrid`, hostapp/localgrid/process.py).

Real subprocesses: the child serves the grid and its LiteSVM chain over HTTP, keeps its state in the
same folders across restarts, names itself in 0600 endpoint files while it runs, and stops when its
parent goes, even when the parent is killed -9.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from hostapp.config.paths import AppPaths
from hostapp.localgrid.process import EmbeddedGridError, EmbeddedGridProcess
from tests.support import busybox_job, wait_for


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by a dead parent's reaper) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_serves_grid_and_chain_keeps_state_and_cleans_up(app_paths: AppPaths) -> None:
    grid = EmbeddedGridProcess(app_paths)
    grid.start()
    try:
        assert grid.running and grid.pid != os.getpid() and alive(grid.pid)
        health = httpx.get(grid.url + "/v1/health", timeout=10).json()
        assert health["status"] == "ok"
        assert grid.decimals == 6 and grid.mint and grid.rpc_url
        slot = httpx.post(grid.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "getSlot"}, timeout=10).json()
        assert isinstance(slot["result"], int)
        # Where the wallet, `hostapp status` and the CLI find this grid and chain: private files.
        for name in ("local-grid", "local-chain"):
            endpoint = app_paths.data / name / "endpoint.json"
            assert stat.S_IMODE(endpoint.stat().st_mode) == 0o600
            assert json.loads(endpoint.read_text())["pid"] == grid.pid
        body = {"definition": busybox_job(0), "price_per_second": 3, "timeout_seconds": 60}
        job_id = httpx.post(grid.url + "/v1/jobs", json=body, headers=grid.owner_headers, timeout=10).json()["job_id"]
        url, pid = grid.url, grid.pid
    finally:
        grid.stop()
    assert not grid.running and not alive(pid)
    assert not (app_paths.data / "local-grid" / "endpoint.json").exists()
    assert not (app_paths.data / "local-chain" / "endpoint.json").exists()

    again = EmbeddedGridProcess(app_paths, port=int(url.rsplit(":", 1)[1]))
    again.start()
    try:
        listed = httpx.get(f"{again.url}/v1/jobs/{job_id}", headers=again.owner_headers, timeout=10)
        assert listed.status_code == 200 and listed.json()["price_per_second"] == 3  # the state survived
    finally:
        again.stop()


def test_chain_outage_and_return_through_the_command_pipe(app_paths: AppPaths) -> None:
    grid = EmbeddedGridProcess(app_paths)
    grid.start()
    try:
        rpc_url = grid.rpc_url
        assert rpc_url is not None
        grid.stop_chain()
        assert grid.rpc_url is None
        with pytest.raises(httpx.TransportError):
            httpx.post(rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "getSlot"}, timeout=2)
        assert httpx.get(grid.url + "/v1/health", timeout=10).status_code == 200  # the grid kept serving
        back = grid.start_chain()
        assert httpx.post(back, json={"jsonrpc": "2.0", "id": 1, "method": "getSlot"}, timeout=10).status_code == 200
    finally:
        grid.stop()


def test_parent_killed_9_takes_the_grid_process_with_it(app_paths: AppPaths, tmp_path: Path) -> None:
    parent_code = textwrap.dedent(
        """
        import sys, time
        from hostapp.config.paths import default_paths
        from hostapp.localgrid.process import EmbeddedGridProcess
        grid = EmbeddedGridProcess(default_paths())
        grid.start()
        print(grid.pid, flush=True)
        time.sleep(600)
        """
    )
    # `with`: its stdout pipe is closed on the way out (a leaked pipe is a ResourceWarning, an error here).
    with subprocess.Popen(
        [sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    ) as parent:
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            assert alive(child)
            parent.send_signal(signal.SIGKILL)
            parent.wait(10)
            started = time.monotonic()
            wait_for(lambda: not alive(child), timeout=10, what="the grid process exits after its parent was killed")
            assert time.monotonic() - started < 5
            # It stopped cleanly (stdin EOF), so it took its endpoint files with it.
            assert not (app_paths.data / "local-grid" / "endpoint.json").exists()
            assert "stopping" in (app_paths.logs / "local-grid.log").read_text()
        finally:
            if parent.poll() is None:
                parent.kill()


def test_a_grid_that_cannot_start_says_why_in_one_line(app_paths: AppPaths) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        grid = EmbeddedGridProcess(app_paths, port=port, start_timeout=30)
        with pytest.raises(EmbeddedGridError) as info:
            grid.start()
    message = str(info.value)
    assert "\n" not in message
    assert "exited (code 1)" in message and "did not start" in message and "address already in use" in message.lower()
    assert not grid.running
