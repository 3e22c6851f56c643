"""What a job asks of a GPU. Shared by job definitions (jobs/), qualification (gpu/) and grid matching."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GpuRequirements:
    gpu: bool = False  # the job needs a GPU at all
    min_vram_mb: int | None = None
    min_compute_capability: tuple[int, int] | None = None
    min_cuda: tuple[int, int] | None = None
    models: tuple[str, ...] = field(default_factory=tuple)  # substrings of accepted model names
