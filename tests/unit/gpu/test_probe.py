from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from hostapp.gpu.failures import FailureKind, failure_from_nvml_error
from hostapp.gpu.fake_nvml import FakeNvml, FakeProfileError, load_profile
from hostapp.gpu.probe import (
    FAKE_NVML_ENV,
    GpuReadError,
    NullProbe,
    NvmlProbe,
    decode_throttle_reasons,
    detect,
    open_probe,
)

from .conftest import PROFILES

MIB = 1024 * 1024


def test_consumer_card_facts(fake_nvml: Callable[[str], FakeNvml]) -> None:
    found = detect(fake_nvml("rtx4090"))
    assert found.available and found.failure is None
    assert (found.driver_version, found.cuda_driver_version) == ("550.54.14", "12.4")
    [gpu] = found.gpus
    assert gpu.name == "NVIDIA GeForce RTX 4090"
    assert gpu.uuid == "GPU-5e7c9b62-1f0a-4d2e-9b41-3c8a7d6e2f10"
    assert gpu.memory_total_mib == 24564
    assert gpu.compute_capability == (8, 9)
    assert gpu.cuda_driver_version == (12, 4)
    assert (gpu.pcie_max_gen, gpu.pcie_max_width, gpu.pcie_current_gen, gpu.pcie_current_width) == (4, 16, 1, 16)
    assert gpu.power_limit_w == 450.0
    doc = found.to_json()
    json.dumps(doc)
    assert doc["gpus"][0]["compute_capability"] == "8.9"
    assert doc["gpus"][0]["pcie"] == {"max_gen": 4, "max_width": 16, "current_gen": 1, "current_width": 16}
    assert "serial" not in json.dumps(doc).lower()


def test_data_centre_card_and_unsupported_fan(fake_nvml: Callable[[str], FakeNvml]) -> None:
    probe = NvmlProbe.open(fake_nvml("h100-sxm"))
    assert isinstance(probe, NvmlProbe)
    [gpu] = probe.detect().gpus
    assert gpu.name == "NVIDIA H100 80GB HBM3"
    assert gpu.memory_total_mib == 81559
    assert gpu.compute_capability == (9, 0)
    assert gpu.power_limit_w == 700.0
    assert (gpu.pcie_max_gen, gpu.pcie_max_width) == (5, 16)
    sample = probe.sample(0)
    assert sample.fan_percent is None  # passive card: NVML says NOT_SUPPORTED, not an error
    assert sample.temperature_c is not None and sample.power_w is not None


def test_two_gpus_in_index_order(fake_nvml: Callable[[str], FakeNvml]) -> None:
    found = detect(fake_nvml("rig-2gpu"))
    assert [g.index for g in found.gpus] == [0, 1]
    assert [g.memory_total_mib for g in found.gpus] == [24576, 12288]
    assert found.gpus[1].pcie_current_width == 8
    assert len({g.uuid for g in found.gpus}) == 2


def test_sample_reads_every_metric(fake_nvml: Callable[[str], FakeNvml]) -> None:
    probe = NvmlProbe.open(fake_nvml("rtx4090"))
    assert isinstance(probe, NvmlProbe)
    s = probe.sample(0)
    assert (s.temperature_c, s.power_w, s.fan_percent) == (38, 21.57, 30)
    assert (s.utilization_gpu_percent, s.utilization_memory_percent) == (2, 7)
    assert (s.memory_used_bytes, s.memory_free_bytes) == (1187 * MIB, (24564 - 1187) * MIB)
    assert (s.clock_graphics_mhz, s.clock_sm_mhz, s.clock_memory_mhz) == (210, 210, 405)
    assert s.throttle_reasons == ("gpu_idle",)
    assert s.to_json()["clocks_mhz"] == {"graphics": 210, "sm": 210, "memory": 405}


def test_handles_are_cached_and_nvml_initialised_once(fake_nvml: Callable[[str], FakeNvml]) -> None:
    nvml = fake_nvml("rig-2gpu")
    probe = NvmlProbe.open(nvml)
    before = dict(nvml.calls)
    for _ in range(5):
        probe.sample(0)
        probe.sample(1)
    assert nvml.calls["nvmlInit"] == before["nvmlInit"] == 1
    assert nvml.calls["nvmlDeviceGetHandleByIndex"] == before["nvmlDeviceGetHandleByIndex"]
    assert nvml.calls["nvmlDeviceGetCount"] == before["nvmlDeviceGetCount"]
    assert nvml.calls["nvmlDeviceGetTemperature"] == 10
    probe.close()
    probe.close()
    assert not nvml.initialised


def test_throttle_reasons_decoded_to_names() -> None:
    assert decode_throttle_reasons(0) == ()
    assert decode_throttle_reasons(0x4 | 0x40) == ("sw_power_cap", "hw_thermal_slowdown")
    assert decode_throttle_reasons(0x1 | 0x100) == ("gpu_idle", "display_clock_setting")


@pytest.mark.parametrize(
    ("profile", "kind", "absent"),
    [
        ("error-library-not-found", FailureKind.LIBRARY_NOT_FOUND, True),
        ("error-driver-not-loaded", FailureKind.DRIVER_NOT_LOADED, True),
        ("error-no-permission", FailureKind.NO_PERMISSION, False),
        ("error-gpu-lost", FailureKind.GPU_LOST, False),
        ("error-driver-mismatch", FailureKind.DRIVER_MISMATCH, False),
        ("error-unknown", FailureKind.UNKNOWN, False),
        ("error-no-gpu", FailureKind.NO_GPU, True),
    ],
)
def test_every_failure_mode_maps_to_a_typed_reason_with_a_hint(
    fake_nvml: Callable[[str], FakeNvml], profile: str, kind: FailureKind, absent: bool
) -> None:
    nvml = fake_nvml(profile)
    probe = NvmlProbe.open(nvml)
    assert isinstance(probe, NullProbe)
    found = probe.detect()
    assert not found.available and found.gpus == []
    assert found.failure is not None and found.failure.kind is kind
    assert found.failure.kind.means_absent is absent
    assert found.reason and found.hint and len(found.hint) > 20
    assert not nvml.initialised  # a failed open leaves NVML shut down
    with pytest.raises(GpuReadError) as raised:
        probe.sample(0)
    assert raised.value.failure.kind is kind
    json.dumps(found.to_json())


def test_driver_absent_reason_says_so_for_doctor(fake_nvml: Callable[[str], FakeNvml]) -> None:
    assert "no NVIDIA driver found" in (detect(fake_nvml("error-library-not-found")).reason or "")


def test_gpu_lost_while_sampling(fake_nvml: Callable[[str], FakeNvml]) -> None:
    nvml = fake_nvml("rig-2gpu")
    probe = NvmlProbe.open(nvml)
    nvml.device(1)["errors"] = {"*": "NVML_ERROR_GPU_IS_LOST"}
    probe.sample(0)
    with pytest.raises(GpuReadError) as raised:
        probe.sample(1)
    assert raised.value.failure.kind is FailureKind.GPU_LOST
    with pytest.raises(GpuReadError):
        probe.processes(1)


def test_no_permission_on_one_reading_is_a_typed_error(fake_nvml: Callable[[str], FakeNvml]) -> None:
    nvml = fake_nvml("rtx4090")
    probe = NvmlProbe.open(nvml)
    nvml.device(0)["errors"] = {"nvmlDeviceGetPowerUsage": "NVML_ERROR_NO_PERMISSION"}
    with pytest.raises(GpuReadError) as raised:
        probe.sample(0)
    assert raised.value.failure.kind is FailureKind.NO_PERMISSION


def test_real_pynvml_on_this_machine_never_raises() -> None:
    import pynvml

    found = detect(pynvml)
    if found.available:  # on a machine with a GPU (the lent device)
        assert found.gpus and found.driver_version
    else:
        assert found.failure is not None
        assert found.failure.kind in (FailureKind.LIBRARY_NOT_FOUND, FailureKind.DRIVER_NOT_LOADED)


def test_unexpected_loader_exception_is_unknown() -> None:
    import pynvml

    why = failure_from_nvml_error(pynvml, OSError("libnvidia-ml.so.1: cannot open shared object file"))
    assert why.kind is FailureKind.UNKNOWN and "OSError" in why.message
    why = failure_from_nvml_error(pynvml, pynvml.NVMLError(4242))
    assert why.kind is FailureKind.UNKNOWN and why.nvml_code == 4242


def test_fake_profile_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(FAKE_NVML_ENV, str(PROFILES / "h100-sxm.json"))
    assert detect().gpus[0].name == "NVIDIA H100 80GB HBM3"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    monkeypatch.setenv(FAKE_NVML_ENV, str(broken))
    found = detect()
    assert found.failure is not None and found.failure.kind is FailureKind.FAKE_PROFILE_INVALID
    assert "not JSON" in found.failure.message
    monkeypatch.setenv(FAKE_NVML_ENV, str(tmp_path / "missing.json"))
    assert open_probe().detect().failure.kind is FailureKind.FAKE_PROFILE_INVALID  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": 2}', "not an NVML profile"),
        ('{"format": 1, "devices": {}}', "must be a list"),
        ('{"format": 1, "devices": [{"name": "x"}]}', "lacks"),
        ('{"format": 1, "init_error": "NVML_ERROR_BOGUS", "devices": []}', "unknown NVML error"),
    ],
)
def test_bad_profiles_are_refused_with_a_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(FakeProfileError, match=message):
        load_profile(path)


def test_every_fixture_profile_loads() -> None:
    names = sorted(p.stem for p in PROFILES.glob("*.json"))
    assert {"rtx4090", "h100-sxm", "rig-2gpu", "error-gpu-lost"} <= set(names)
    for name in names:
        load_profile(PROFILES / f"{name}.json")


def test_doctor_uses_the_same_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    from hostapp.health.doctor import Status, check_gpu

    monkeypatch.setenv(FAKE_NVML_ENV, str(PROFILES / "rig-2gpu.json"))
    check = check_gpu()
    assert check.status is Status.OK
    assert "2 NVIDIA GPU(s): NVIDIA GeForce RTX 3090, NVIDIA GeForce RTX 3060" in check.summary
    monkeypatch.setenv(FAKE_NVML_ENV, str(PROFILES / "error-no-permission.json"))
    check = check_gpu()
    assert check.status is Status.WARN and "no permission" in check.summary


def test_recorded_h100_under_load_replays(fake_nvml: Callable[[str], FakeNvml]) -> None:
    """Recorded on the lent H100 with scripts/record-nvml-profile.py while PyTorch held a context."""
    from hostapp.gpu.processes import JobContainers, ProcessClassifier, ProcessKind

    probe = NvmlProbe.open(fake_nvml("h100-sxm-busy"))
    assert isinstance(probe, NvmlProbe)
    assert probe.detect().cuda_driver_version == "13.0"
    sample = probe.sample(0)
    assert (sample.clock_sm_mhz, sample.throttle_reasons) == (1980, ())
    [process] = ProcessClassifier(probe, JobContainers()).classify_gpu(0)
    assert (process.name, process.kind) == ("python3", ProcessKind.FOREIGN_COMPUTE)
    assert process.used_memory_bytes == 916455424
