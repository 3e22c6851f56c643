"""`hostapp gpu` as a user runs it: a subprocess, real Docker engine check, NVML from recorded profiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

PROFILES = Path(__file__).resolve().parents[2] / "fixtures" / "nvml"


def _gpu(*args: str, profile: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HOSTAPP_FAKE_NVML"}
    if profile is not None:
        env["HOSTAPP_FAKE_NVML"] = str(profile if isinstance(profile, Path) else PROFILES / f"{profile}.json")
    return subprocess.run(
        [sys.executable, "-m", "hostapp", "gpu", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_this_machine_without_a_gpu(hostapp_home: Path) -> None:
    result = _gpu()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("no NVIDIA GPU/driver found: ")
    assert "fix: install the NVIDIA driver" in result.stdout
    assert "Traceback" not in result.stderr
    doc = json.loads(_gpu("--json").stdout)
    assert doc["available"] is False and doc["gpus"] == []
    assert doc["reason"]["kind"] == "library_not_found"
    assert doc["engine"]["reachable"] is True and doc["engine"]["gpu_runtime"] is False


def test_consumer_card_table(hostapp_home: Path, docker_client: object) -> None:
    result = _gpu(profile="rtx4090")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "NVIDIA driver 550.54.14, CUDA 12.4: 1 GPU(s)" in out
    row = next(line for line in out.splitlines() if line.startswith("0 "))
    for cell in ("NVIDIA GeForce RTX 4090", "1187/24564 MiB", "8.9", "Gen1 x16 (Gen4 x16)", "22/450 W", "38 °C"):
        assert cell in row
    assert "throttle: gpu_idle" in out
    assert "Xorg" in out and "ignored (allow list)" in out
    # The engine here has no NVIDIA runtime: the same check and hint as doctor.
    assert "Container runtime: WARN no nvidia runtime" in out and "nvidia-ctk runtime configure" in out


def test_two_gpu_json_document(hostapp_home: Path) -> None:
    result = _gpu("--json", profile="rig-2gpu")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"format", "available", "reason", "driver_version", "cuda_driver_version", "gpus", "engine"}
    assert doc["format"] == 1 and doc["available"] is True and doc["reason"] is None
    assert [g["name"] for g in doc["gpus"]] == ["NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 3060"]
    g1 = doc["gpus"][1]
    assert g1["memory_total_mib"] == 12288 and g1["compute_capability"] == "8.6"
    assert g1["pcie"] == {"max_gen": 4, "max_width": 16, "current_gen": 1, "current_width": 8}
    assert g1["telemetry"]["temperature_c"] == 39 and g1["telemetry"]["throttle_reasons"] == ["gpu_idle"]
    assert g1["processes"] == [] and g1["error"] is None


def test_data_centre_card_without_fan(hostapp_home: Path) -> None:
    doc = json.loads(_gpu("--json", profile="h100-sxm").stdout)
    [h100] = doc["gpus"]
    assert h100["name"] == "NVIDIA H100 80GB HBM3" and h100["memory_total_mib"] == 81559
    assert h100["telemetry"]["fan_percent"] is None and h100["power_limit_w"] == 700.0


@pytest.mark.parametrize(
    ("profile", "code", "prefix", "kind"),
    [
        ("error-library-not-found", 0, "no NVIDIA GPU/driver found", "library_not_found"),
        ("error-driver-not-loaded", 0, "no NVIDIA GPU/driver found", "driver_not_loaded"),
        ("error-no-gpu", 0, "no NVIDIA GPU/driver found", "no_gpu"),
        ("error-no-permission", 1, "NVIDIA GPU not usable", "no_permission"),
        ("error-gpu-lost", 1, "NVIDIA GPU not usable", "gpu_lost"),
        ("error-driver-mismatch", 1, "NVIDIA GPU not usable", "driver_mismatch"),
        ("error-unknown", 1, "NVIDIA GPU not usable", "unknown"),
    ],
)
def test_failure_modes_one_line_and_exit_code(
    hostapp_home: Path, profile: str, code: int, prefix: str, kind: str
) -> None:
    result = _gpu(profile=profile)
    assert result.returncode == code
    assert result.stdout.startswith(prefix + ": ") and "\n  fix: " in result.stdout
    assert "Traceback" not in result.stderr
    doc = json.loads(_gpu("--json", profile=profile).stdout)
    assert doc["reason"]["kind"] == kind and doc["reason"]["hint"]


def test_watch_refreshes_count_times(hostapp_home: Path) -> None:
    result = _gpu("--watch", "--count", "3", "--interval", "0.05", profile="rtx4090")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("NVIDIA driver 550.54.14") == 3
    result = _gpu("--watch", "--json", "--count", "2", "--interval", "0.05", profile="rig-2gpu")
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and all(len(json.loads(line)["gpus"]) == 2 for line in lines)


def test_bad_input_is_one_line_and_nonzero(hostapp_home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[]")
    result = _gpu(profile=broken)
    assert result.returncode == 2
    assert result.stderr.startswith("hostapp: error: the fake NVML profile named by HOSTAPP_FAKE_NVML")
    assert "Traceback" not in result.stderr
    assert _gpu("--watch", "--count", "0").returncode == 2
    assert _gpu("--watch", "--interval", "-1").returncode == 2
