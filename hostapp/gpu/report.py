"""A snapshot of the GPUs for `hostapp gpu`: facts, a telemetry reading, classified processes and
whether the Docker engine can hand GPUs to containers; as a stable JSON document or a table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hostapp.gpu.failures import ProbeFailure
from hostapp.gpu.probe import MIB, GpuDetection, GpuInfo, GpuProbe, GpuReadError, GpuSample
from hostapp.gpu.processes import ClassifiedProcess, ProcessClassifier, ProcessKind

REPORT_FORMAT = 1


@dataclass(frozen=True)
class EngineGpuSupport:
    reachable: bool
    gpu_runtime: bool | None  # None when the engine is not reachable
    summary: str
    hint: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "reachable": self.reachable,
            "gpu_runtime": self.gpu_runtime,
            "summary": self.summary,
            "hint": self.hint,
        }


def check_engine() -> EngineGpuSupport:
    """Does the Docker engine have the NVIDIA runtime or CDI devices (engine.gpu_runtime)?"""
    from hostapp.jobs.engine import GPU_RUNTIME_HINT, EngineUnavailable, connect, gpu_runtime

    try:
        client = connect(timeout=5)
        try:
            info: dict[str, Any] = client.info()
        finally:
            client.close()
    except EngineUnavailable as exc:
        return EngineGpuSupport(False, None, "Docker engine not reachable", str(exc).split("): ", 1)[-1])
    except Exception as exc:
        return EngineGpuSupport(False, None, f"Docker engine not reachable ({exc})", None)
    ok, summary = gpu_runtime(info)
    return EngineGpuSupport(True, ok, summary, None if ok else GPU_RUNTIME_HINT)


@dataclass(frozen=True)
class GpuState:
    info: GpuInfo
    sample: GpuSample | None = None
    processes: list[ClassifiedProcess] = field(default_factory=list)
    error: ProbeFailure | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.info.to_json(),
            "telemetry": None if self.sample is None else self.sample.to_json(),
            "processes": [p.to_json() for p in self.processes],
            "error": None if self.error is None else self.error.to_json(),
        }


@dataclass(frozen=True)
class GpuReport:
    detection: GpuDetection
    gpus: list[GpuState]
    engine: EngineGpuSupport | None

    def to_json(self) -> dict[str, Any]:
        d = self.detection
        return {
            "format": REPORT_FORMAT,
            "available": d.available,
            "reason": None if d.failure is None else d.failure.to_json(),
            "driver_version": d.driver_version,
            "cuda_driver_version": d.cuda_driver_version,
            "gpus": [g.to_json() for g in self.gpus],
            "engine": None if self.engine is None else self.engine.to_json(),
        }


def collect(probe: GpuProbe, classifier: ProcessClassifier | None, engine: EngineGpuSupport | None) -> GpuReport:
    detection = probe.detect()
    states = []
    for gpu in detection.gpus:
        try:
            sample = probe.sample(gpu.index)
            processes = classifier.classify_gpu(gpu.index) if classifier else []
        except GpuReadError as exc:
            states.append(GpuState(gpu, error=exc.failure))
            continue
        states.append(GpuState(gpu, sample, processes))
    return GpuReport(detection, states, engine)


def unavailable_line(detection: GpuDetection) -> str:
    why = detection.failure
    if why is None:
        return "no NVIDIA GPU/driver found"
    prefix = "no NVIDIA GPU/driver found" if why.kind.means_absent else "NVIDIA GPU not usable"
    return f"{prefix}: {why.message}\n  fix: {why.hint}"


def _n(value: object, unit: str = "", fmt: str = "{}") -> str:
    return "-" if value is None else fmt.format(value) + unit


def _pcie(gen: int | None, width: int | None) -> str:
    return "-" if gen is None else f"Gen{gen}" + ("" if width is None else f" x{width}")


_KIND_TEXT = {
    ProcessKind.OURS: "ours",
    ProcessKind.FOREIGN_GRAPHICS: "foreign graphics",
    ProcessKind.FOREIGN_COMPUTE: "foreign compute",
    ProcessKind.IGNORED: "ignored (allow list)",
}


def render_table(report: GpuReport) -> str:
    d = report.detection
    if not d.available:
        return unavailable_line(d)
    lines = [f"NVIDIA driver {d.driver_version}, CUDA {d.cuda_driver_version}: {len(d.gpus)} GPU(s)", ""]
    rows: list[tuple[str, ...]] = [
        ("GPU", "NAME", "VRAM USED/TOTAL", "CC", "PCIE NOW (MAX)", "POWER/LIMIT", "TEMP", "UTIL", "FAN")
    ]
    for state in report.gpus:
        g, s = state.info, state.sample
        used = None if s is None or s.memory_used_bytes is None else s.memory_used_bytes // MIB
        rows.append(
            (
                str(g.index),
                g.name,
                f"{_n(used)}/{g.memory_total_mib} MiB",
                _n(g.compute_capability and f"{g.compute_capability[0]}.{g.compute_capability[1]}"),
                f"{_pcie(g.pcie_current_gen, g.pcie_current_width)} ({_pcie(g.pcie_max_gen, g.pcie_max_width)})",
                f"{_n(s and s.power_w, fmt='{:.0f}')}/{_n(g.power_limit_w, ' W', '{:.0f}')}",
                _n(s and s.temperature_c, " °C"),
                _n(s and s.utilization_gpu_percent, " %"),
                _n(s and s.fan_percent, " %"),
            )
        )
    lines.extend(_table(rows))
    for state in report.gpus:
        g = state.info
        lines.append("")
        if state.error is not None:
            lines.append(f"GPU {g.index} ({g.uuid}): cannot read: {state.error.message}")
            lines.append(f"  fix: {state.error.hint}")
            continue
        s = state.sample
        assert s is not None
        lines.append(
            f"GPU {g.index} {g.uuid}: clocks {_n(s.clock_graphics_mhz)}/{_n(s.clock_sm_mhz)}/"
            f"{_n(s.clock_memory_mhz)} MHz (graphics/SM/memory), memory util "
            f"{_n(s.utilization_memory_percent, ' %')}, throttle: {', '.join(s.throttle_reasons) or 'none'}"
        )
        if not state.processes:
            lines.append("  no processes")
            continue
        prows: list[tuple[str, ...]] = [("  PID", "NAME", "VRAM", "KIND")]
        for p in state.processes:
            kind = _KIND_TEXT[p.kind] + (f" (job {p.job_id})" if p.job_id else "")
            vram = "-" if p.used_memory_bytes is None else f"{p.used_memory_bytes // MIB} MiB"
            prows.append((f"  {p.pid}", p.name, vram, kind))
        lines.extend(_table(prows))
    if report.engine is not None:
        e = report.engine
        mark = "OK" if e.gpu_runtime else "WARN"
        lines.extend(["", f"Container runtime: {mark} {e.summary}"])
        if e.hint:
            lines.append(f"  fix: {e.hint}")
    return "\n".join(lines)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
