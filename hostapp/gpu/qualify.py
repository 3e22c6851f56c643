"""Does a GPU meet a job's requirements? An empty list means yes; otherwise the reasons why not."""

from __future__ import annotations

from hostapp.gpu.probe import GpuInfo
from hostapp.gpu.requirements import GpuRequirements


def _v(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def qualify(gpu: GpuInfo, requirements: GpuRequirements) -> list[str]:
    reasons: list[str] = []
    if requirements.min_vram_mb is not None and gpu.memory_total_mib < requirements.min_vram_mb:
        reasons.append(f"needs {requirements.min_vram_mb} MiB of VRAM; {gpu.name} has {gpu.memory_total_mib} MiB")
    if requirements.min_compute_capability is not None:
        wanted = requirements.min_compute_capability
        if gpu.compute_capability is None:
            reasons.append(f"needs compute capability {_v(wanted)}; {gpu.name} does not report one")
        elif gpu.compute_capability < wanted:
            reasons.append(f"needs compute capability {_v(wanted)}; {gpu.name} has {_v(gpu.compute_capability)}")
    if requirements.min_cuda is not None:
        if gpu.cuda_driver_version is None:
            reasons.append(f"needs CUDA {_v(requirements.min_cuda)}; the driver's CUDA version is unknown")
        elif gpu.cuda_driver_version < requirements.min_cuda:
            reasons.append(
                f"needs CUDA {_v(requirements.min_cuda)}; the driver supports CUDA "
                f"{_v(gpu.cuda_driver_version)} (update the NVIDIA driver)"
            )
    if requirements.models and not any(m.lower() in gpu.name.lower() for m in requirements.models):
        reasons.append(f"accepts only {', '.join(requirements.models)}; this GPU is {gpu.name}")
    return reasons
