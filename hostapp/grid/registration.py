"""What this node tells the grid about its GPUs (PUT /v1/node), built from the GPU probe's detection.

The probe knows more about a card than the grid needs (PCIe links, power limit, per-GPU driver
fields); the wire carries only `models.GpuInfo`. Values are fitted to the model's bounds here, so
an odd card (a long marketing name, an unusual compute capability) registers with that field
trimmed or left out instead of being refused by the grid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from hostapp.grid import models

if TYPE_CHECKING:
    from hostapp.gpu.probe import GpuInfo as ProbedGpu

MAX_NAME = 256
MAX_VRAM_MB = 10_000_000
_MAJOR_MINOR = re.compile(r"^[0-9]{1,2}\.[0-9]{1,2}$")
_CUDA = re.compile(r"^[0-9]{1,3}\.[0-9]{1,3}$")


def grid_gpu(gpu: ProbedGpu) -> models.GpuInfo:
    """One probed GPU as the grid's GpuInfo (what lease matching uses: UUID, VRAM, compute capability)."""
    capability = None
    if gpu.compute_capability is not None:
        text = f"{gpu.compute_capability[0]}.{gpu.compute_capability[1]}"
        capability = text if _MAJOR_MINOR.match(text) else None
    return models.GpuInfo(
        uuid=gpu.uuid[:MAX_NAME],
        name=gpu.name[:MAX_NAME],
        vram_mb=max(0, min(MAX_VRAM_MB, gpu.memory_total_mib)),
        compute_capability=capability,
    )


def grid_gpus(gpus: Iterable[ProbedGpu], enabled: Iterable[str]) -> list[models.GpuInfo]:
    """The GPUs this node shares, in probe order."""
    wanted = set(enabled)
    return [grid_gpu(g) for g in gpus if g.uuid in wanted]


def cuda_version(text: str | None) -> str | None:
    """The driver's CUDA version ("12.4") if it has the wire's shape; otherwise not sent."""
    return text if text is not None and _CUDA.match(text) else None


def driver_version(text: str | None) -> str | None:
    return None if text is None else text[:MAX_NAME]
