from __future__ import annotations

from collections.abc import Callable

from hostapp.gpu.fake_nvml import FakeNvml
from hostapp.gpu.probe import GpuInfo, detect
from hostapp.gpu.qualify import qualify
from hostapp.gpu.requirements import GpuRequirements


def _gpu(fake_nvml: Callable[[str], FakeNvml], profile: str, index: int = 0) -> GpuInfo:
    return detect(fake_nvml(profile)).gpus[index]


def test_no_requirements_qualifies(fake_nvml: Callable[[str], FakeNvml]) -> None:
    assert qualify(_gpu(fake_nvml, "rtx4090"), GpuRequirements()) == []
    assert qualify(_gpu(fake_nvml, "rtx4090"), GpuRequirements(gpu=True)) == []


def test_each_requirement_met(fake_nvml: Callable[[str], FakeNvml]) -> None:
    h100 = _gpu(fake_nvml, "h100-sxm")
    wants = GpuRequirements(
        gpu=True, min_vram_mb=81559, min_compute_capability=(9, 0), min_cuda=(12, 4), models=("H100",)
    )
    assert qualify(h100, wants) == []


def test_each_requirement_missed_gives_its_reason(fake_nvml: Callable[[str], FakeNvml]) -> None:
    rtx3060 = _gpu(fake_nvml, "rig-2gpu", 1)
    wants = GpuRequirements(
        gpu=True, min_vram_mb=16384, min_compute_capability=(8, 9), min_cuda=(12, 4), models=("H100", "4090")
    )
    reasons = qualify(rtx3060, wants)
    assert len(reasons) == 4
    assert "needs 16384 MiB of VRAM; NVIDIA GeForce RTX 3060 has 12288 MiB" in reasons[0]
    assert "compute capability 8.9" in reasons[1] and "has 8.6" in reasons[1]
    assert "CUDA 12.4" in reasons[2] and "12.2" in reasons[2] and "update the NVIDIA driver" in reasons[2]
    assert "accepts only H100, 4090" in reasons[3]


def test_boundaries_are_inclusive_and_versions_compare_numerically(fake_nvml: Callable[[str], FakeNvml]) -> None:
    rtx4090 = _gpu(fake_nvml, "rtx4090")  # 24564 MiB, CC 8.9, CUDA 12.4
    assert qualify(rtx4090, GpuRequirements(min_vram_mb=24564)) == []
    assert qualify(rtx4090, GpuRequirements(min_vram_mb=24565)) != []
    assert qualify(rtx4090, GpuRequirements(min_compute_capability=(8, 10))) != []  # 8.10 > 8.9
    assert qualify(rtx4090, GpuRequirements(min_cuda=(12, 10))) != []
    assert qualify(rtx4090, GpuRequirements(min_cuda=(11, 8))) == []
    assert qualify(rtx4090, GpuRequirements(models=("rtx 4090",))) == []  # case-insensitive substring
