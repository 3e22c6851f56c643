"""GPU detection behind a small interface; a null result carries why NVML is unusable.

(Foundation version: the GPU issue extends this module; keep `detect()` and `GpuDetection`.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GpuInfo:
    index: int
    uuid: str
    name: str
    memory_total_bytes: int


@dataclass(frozen=True)
class GpuDetection:
    available: bool
    reason: str | None = None  # why no GPU is usable, in words
    hint: str | None = None
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    gpus: list[GpuInfo] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def detect() -> GpuDetection:
    try:
        import pynvml
    except ImportError:
        return GpuDetection(False, "nvidia-ml-py is not installed", "reinstall hostapp")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return GpuDetection(
            False, f"no NVIDIA driver found: {exc}", "install the NVIDIA driver for your card, then restart"
        )
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        cuda = pynvml.nvmlSystemGetCudaDriverVersion_v2()
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            gpus.append(
                GpuInfo(
                    index,
                    _text(pynvml.nvmlDeviceGetUUID(handle)),
                    _text(pynvml.nvmlDeviceGetName(handle)),
                    int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
                )
            )
        return GpuDetection(
            True,
            driver_version=driver,
            cuda_driver_version=f"{cuda // 1000}.{(cuda % 1000) // 10}",
            gpus=gpus,
        )
    except pynvml.NVMLError as exc:
        return GpuDetection(False, f"NVML error: {exc}", "reinstall the NVIDIA driver")
    finally:
        pynvml.nvmlShutdown()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
