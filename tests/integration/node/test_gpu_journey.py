"""The gamer's journey on a GPU machine: `hostapp node` with an RTX 4090 (the recorded NVML profile)
registers at the embedded grid, takes a job and earns. Before the typed registration this machine
never earned: the grid refused every registration that carried a GPU.

Real parts: `hostapp node` as a process with its embedded grid and chain, the wallet in the real
Secret Service, jobs in the real Docker engine; only NVML is the recorded profile.
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

from hostapp.gpu.probe import FAKE_NVML_ENV
from tests.support import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.keyring, pytest.mark.slow]

RTX4090 = Path(__file__).resolve().parents[2] / "fixtures" / "nvml" / "rtx4090.json"
RTX4090_UUID = "GPU-5e7c9b62-1f0a-4d2e-9b41-3c8a7d6e2f10"


def hostapp(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hostapp", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_hostapp_node_on_an_rtx_4090_registers_works_and_earns(
    hostapp_home: Path, local_images: None, tmp_path: Path
) -> None:
    env = {**os.environ, FAKE_NVML_ENV: str(RTX4090)}
    assert hostapp("wallet", "create", "--yes-i-wrote-it-down", env=env).returncode == 0
    log_path = tmp_path / "node.log"
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hostapp", "node"], stdout=log, stderr=subprocess.STDOUT, text=True, env=env
        )
    seen: set[str] = set()

    def status() -> dict[str, Any]:
        ran = hostapp("status", "--json", env=env)
        snapshot = dict(json.loads(ran.stdout)) if ran.stdout.strip() else {"state": "not answering"}
        seen.add(str(snapshot["state"]))
        assert snapshot["state"] != "error", snapshot.get("problem")  # the bug: refused registration
        return snapshot

    try:
        working = wait_for(lambda: (s := status())["state"] == "working" and s, timeout=60, what="working")
        (slot,) = working["slots"]
        assert slot["gpu"] == RTX4090_UUID and slot["job_id"]  # the GPU slot leased the job
        earned = wait_for(lambda: status()["earned"], timeout=60, what="the first credit")
        assert isinstance(earned, int) and earned > 0
        assert hostapp("status", env=env).returncode == 0
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    text = log_path.read_text()
    assert "refused" not in text and "Traceback" not in text, text[-3000:]
    assert "error" not in seen
