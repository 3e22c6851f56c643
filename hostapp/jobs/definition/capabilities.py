"""What runs on this machine: its capabilities, the features a definition needs, and what it asks of a GPU."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hostapp.gpu.requirements import GpuRequirements
from hostapp.jobs.definition.schema import JobDefinition, Resource, RunOp, SpreadMarker


@dataclass(frozen=True)
class MachineCaps:
    """What this machine can run: filled from the engine's info (and the GPU probe when there is one)."""

    nvidia_runtime: bool = False
    runtime_detail: str = "no NVIDIA container runtime"
    gpu_vram_mb: int | None = None
    network: bool = True  # whether jobs that need network may get it here


def run_ops(definition: JobDefinition) -> Iterable[RunOp]:
    return (op for op in definition.ops if isinstance(op, RunOp))


def needs_gpu(definition: JobDefinition) -> bool:
    return any(op.args.gpu for op in run_ops(definition))


def unsupported(definition: JobDefinition, machine_caps: MachineCaps) -> list[str]:
    """Features this host does not run, one `unsupported: …` line each (empty: runnable here)."""
    lines: list[str] = []
    if definition.logistics is not None:
        lines.append(
            "unsupported: job: logistics: the definition and results are exchanged with an outside API "
            "(confidential jobs); this host runs only definitions it is given"
        )
    if not definition.ops:
        lines.append("unsupported: job: ops: the definition has no ops to run")
    for op in run_ops(definition):
        args = op.args
        prefix = f"unsupported: op {op.id}"
        lines += _unsupported_resources(prefix, args.resources or [])
        if args.expose is not None:  # served through the grid's tunnel edge (hostapp/services/, docs/services.md)
            from hostapp.services.expose import expose_problems

            lines += expose_problems(op)
        if args.gpu and not machine_caps.nvidia_runtime:
            lines.append(f"{prefix}: args.gpu: cannot run GPU job: {machine_caps.runtime_detail}")
        if args.gpu and args.required_vram and machine_caps.gpu_vram_mb is not None:
            if args.required_vram * 1024 > machine_caps.gpu_vram_mb:
                lines.append(
                    f"{prefix}: args.required_vram: needs {args.required_vram} GB of GPU memory, "
                    f"this GPU has {machine_caps.gpu_vram_mb // 1024} GB"
                )
        if args.aliases is not None:
            lines.append(f"{prefix}: args.aliases: network aliases between ops are not provided")
        if args.restart_policy and args.restart_policy.policy in ("always", "unless-stopped"):
            if args.restart_policy.restart_tries == 0:
                lines.append(
                    f"{prefix}: args.restart_policy: {args.restart_policy.policy!r} without restart_tries "
                    "restarts forever; give restart_tries"
                )
    return lines


def _unsupported_resources(prefix: str, resources: Sequence[Resource | SpreadMarker | str]) -> list[str]:
    """S3 and HF resources are fetched into the model cache (hostapp/resources/); the rest say why not."""
    lines = []
    for index, item in enumerate(resources):
        where = f"{prefix}: args.resources[{index}]"
        if isinstance(item, SpreadMarker):
            lines.append(f"{where}: a resource list from a literal (__spread__) is not fetched by this host")
        elif isinstance(item, Resource) and item.type == "Ollama":
            lines.append(
                f"{where}: Ollama model {item.model!r} is not fetched by this host (no Ollama registry "
                "client yet); name the weights as an HF or S3 resource instead"
            )
        elif isinstance(item, Resource) and item.buckets:
            lines.append(f"{where}.buckets: S3 resources with several buckets are not fetched by this host")
    return lines


def resources(definition: JobDefinition) -> list[tuple[RunOp, int, Resource]]:
    """The S3 and HF resources of every container/run op: what the runner fetches and mounts."""
    return [
        (op, index, item)
        for op in run_ops(definition)
        for index, item in enumerate(op.args.resources or [])
        if isinstance(item, Resource) and item.type in ("S3", "HF") and not item.buckets
    ]


def gpu_requirements(definition: JobDefinition) -> GpuRequirements:
    """What the job asks of a GPU, for qualification and grid matching (VRAM in MB)."""
    vram_gb = max((op.args.required_vram or 0 for op in run_ops(definition) if op.args.gpu), default=0)
    system = definition.meta.system_requirements if definition.meta else None
    cuda: tuple[int, int] | None = None
    if system:
        value = system.get("required_vram")
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 4096:
            vram_gb = max(vram_gb, int(value))
        cuda = _version_pair(system.get("required_cuda"))
    gpu = needs_gpu(definition)
    return GpuRequirements(gpu=gpu, min_vram_mb=vram_gb * 1024 if gpu and vram_gb else None, min_cuda=cuda)


def _version_pair(value: Any) -> tuple[int, int] | None:
    candidates = value if isinstance(value, list) else [value]
    pairs = []
    for item in candidates:
        match = re.match(r"^(\d{1,3})\.(\d{1,3})", str(item)) if item is not None else None
        if match:
            pairs.append((int(match.group(1)), int(match.group(2))))
    return min(pairs) if pairs else None
