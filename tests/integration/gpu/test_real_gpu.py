"""On a machine with a real NVIDIA GPU (the lent device): real NVML, no fake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gpu


@pytest.fixture
def real_probe():  # type: ignore[no-untyped-def]
    import pynvml

    from hostapp.gpu.probe import NvmlProbe

    probe = NvmlProbe.open(pynvml)
    if not isinstance(probe, NvmlProbe):
        pytest.fail(f"no usable GPU: {probe.detect().reason}")
    yield probe
    probe.close()


def test_detects_and_samples_a_real_gpu(real_probe) -> None:  # type: ignore[no-untyped-def]
    found = real_probe.detect()
    assert found.gpus and found.driver_version and found.cuda_driver_version
    for gpu in found.gpus:
        assert gpu.uuid.startswith(("GPU-", "MIG-")) and gpu.memory_total_mib > 1000
        assert gpu.compute_capability is not None
        sample = real_probe.sample(gpu.index)
        assert sample.temperature_c is not None and 0 < sample.temperature_c < 110
        assert sample.memory_used_bytes is not None and sample.memory_free_bytes is not None
        assert isinstance(real_probe.processes(gpu.index), list)


def test_sampler_on_a_real_gpu(real_probe) -> None:  # type: ignore[no-untyped-def]
    from hostapp.events import EventBus
    from hostapp.gpu.telemetry import TelemetrySampler

    sampler = TelemetrySampler(real_probe, EventBus(), history_size=5)
    for _ in range(7):
        sampler.tick()
    assert len(sampler.history(real_probe.detect().gpus[0].uuid)) == 5


def test_cli_json_on_a_real_gpu(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HOSTAPP_FAKE_NVML"} | {"HOSTAPP_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "hostapp", "gpu", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["available"] is True and doc["gpus"][0]["telemetry"]["temperature_c"] is not None
