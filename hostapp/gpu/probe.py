"""GPU detection and per-GPU readings behind a small interface.

`NvmlProbe` talks to NVML through a pynvml-shaped module passed in (the real `pynvml`, or
`FakeNvml` in tests and demos); `NullProbe` stands in when NVML is unusable and carries the typed
reason. `open_probe()` picks one; `detect()` is the one-shot summary doctor and the CLI print.
NVML is initialised once per probe and device handles are cached, so a telemetry sample costs
only the reads themselves.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hostapp.gpu.failures import FailureKind, ProbeFailure, failure, failure_from_nvml_error

log = logging.getLogger(__name__)

FAKE_NVML_ENV = "HOSTAPP_FAKE_NVML"
MIB = 1024 * 1024

# Bits of nvmlDeviceGetCurrentClocksEventReasons (formerly "throttle reasons"), named for people.
THROTTLE_REASONS: tuple[tuple[int, str], ...] = (
    (0x001, "gpu_idle"),
    (0x002, "applications_clocks_setting"),
    (0x004, "sw_power_cap"),
    (0x008, "hw_slowdown"),
    (0x010, "sync_boost"),
    (0x020, "sw_thermal_slowdown"),
    (0x040, "hw_thermal_slowdown"),
    (0x080, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
)


def decode_throttle_reasons(mask: int) -> tuple[str, ...]:
    return tuple(name for bit, name in THROTTLE_REASONS if mask & bit)


def _version(value: tuple[int, int] | None) -> str | None:
    return None if value is None else f"{value[0]}.{value[1]}"


@dataclass(frozen=True)
class GpuInfo:
    """Static facts about one GPU. Identifiers are serial-free: index, UUID, PCI bus id."""

    index: int
    uuid: str
    name: str
    memory_total_bytes: int
    driver_version: str | None = None
    cuda_driver_version: tuple[int, int] | None = None
    compute_capability: tuple[int, int] | None = None
    pci_bus_id: str | None = None
    pcie_max_gen: int | None = None
    pcie_max_width: int | None = None
    pcie_current_gen: int | None = None
    pcie_current_width: int | None = None
    power_limit_w: float | None = None

    @property
    def memory_total_mib(self) -> int:
        return self.memory_total_bytes // MIB

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "uuid": self.uuid,
            "name": self.name,
            "memory_total_bytes": self.memory_total_bytes,
            "memory_total_mib": self.memory_total_mib,
            "driver_version": self.driver_version,
            "cuda_driver_version": _version(self.cuda_driver_version),
            "compute_capability": _version(self.compute_capability),
            "pci_bus_id": self.pci_bus_id,
            "pcie": {
                "max_gen": self.pcie_max_gen,
                "max_width": self.pcie_max_width,
                "current_gen": self.pcie_current_gen,
                "current_width": self.pcie_current_width,
            },
            "power_limit_w": self.power_limit_w,
        }


@dataclass(frozen=True)
class GpuDetection:
    available: bool
    reason: str | None = None  # why no GPU is usable, in words
    hint: str | None = None
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    gpus: list[GpuInfo] = field(default_factory=list)
    failure: ProbeFailure | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "reason": self.reason,
            "reason_kind": self.failure.kind.value if self.failure else None,
            "hint": self.hint,
            "driver_version": self.driver_version,
            "cuda_driver_version": self.cuda_driver_version,
            "gpus": [g.to_json() for g in self.gpus],
        }

    @classmethod
    def unusable(cls, why: ProbeFailure) -> GpuDetection:
        reason = why.message
        if why.kind in (FailureKind.LIBRARY_NOT_FOUND, FailureKind.DRIVER_NOT_LOADED):
            reason = f"no NVIDIA driver found: {why.message}"
        elif why.kind is FailureKind.NO_GPU:
            reason = f"no NVIDIA GPU found: {why.message}"
        return cls(False, reason, why.hint, failure=why)


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One telemetry reading. A field is None where the card does not report it (e.g. no fan)."""

    uuid: str
    index: int
    at: float  # time.time()
    temperature_c: int | None
    power_w: float | None
    fan_percent: int | None
    utilization_gpu_percent: int | None
    utilization_memory_percent: int | None
    memory_used_bytes: int | None
    memory_free_bytes: int | None
    clock_graphics_mhz: int | None
    clock_sm_mhz: int | None
    clock_memory_mhz: int | None
    throttle_reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "index": self.index,
            "at": self.at,
            "temperature_c": self.temperature_c,
            "power_w": self.power_w,
            "fan_percent": self.fan_percent,
            "utilization_gpu_percent": self.utilization_gpu_percent,
            "utilization_memory_percent": self.utilization_memory_percent,
            "memory_used_bytes": self.memory_used_bytes,
            "memory_free_bytes": self.memory_free_bytes,
            "clocks_mhz": {
                "graphics": self.clock_graphics_mhz,
                "sm": self.clock_sm_mhz,
                "memory": self.clock_memory_mhz,
            },
            "throttle_reasons": list(self.throttle_reasons),
        }


@dataclass(frozen=True, slots=True)
class GpuProcessUse:
    """A process NVML lists on a GPU, before classification."""

    pid: int
    used_memory_bytes: int | None
    graphics: bool  # listed among graphics processes (a game, a 3D app, the compositor)
    compute: bool  # listed among compute processes (CUDA)


class GpuReadError(Exception):
    """A reading failed; `failure` says why (GPU lost, no permission...)."""

    def __init__(self, why: ProbeFailure) -> None:
        super().__init__(why.message)
        self.failure = why


class GpuProbe(Protocol):
    """What the rest of hostapp needs from NVML."""

    def detect(self) -> GpuDetection: ...

    def sample(self, index: int) -> GpuSample:
        """Raises GpuReadError when the GPU cannot be read."""
        ...

    def processes(self, index: int) -> list[GpuProcessUse]:
        """Raises GpuReadError when the GPU cannot be read."""
        ...

    def process_name(self, pid: int) -> str | None: ...

    def close(self) -> None: ...


class NullProbe:
    """NVML is unusable: detection says why, and there is nothing to sample."""

    def __init__(self, why: ProbeFailure) -> None:
        self.failure = why

    def detect(self) -> GpuDetection:
        return GpuDetection.unusable(self.failure)

    def sample(self, index: int) -> GpuSample:
        raise GpuReadError(self.failure)

    def processes(self, index: int) -> list[GpuProcessUse]:
        raise GpuReadError(self.failure)

    def process_name(self, pid: int) -> str | None:
        return None

    def close(self) -> None:
        pass


T = TypeVar("T")


class NvmlProbe:
    """NVML through a pynvml-shaped module. Create with `NvmlProbe.open(nvml)`."""

    def __init__(self, nvml: Any, detection: GpuDetection, handles: list[Any]) -> None:
        self._nvml = nvml
        self._detection = detection
        self._handles = handles
        self._closed = False
        self._lock = threading.Lock()
        self._reasons_fn: Callable[[Any], int] | None = getattr(
            nvml, "nvmlDeviceGetCurrentClocksEventReasons", None
        ) or getattr(nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None)

    @classmethod
    def open(cls, nvml: Any) -> NvmlProbe | NullProbe:
        """Initialises NVML and reads the static facts once; any failure gives a NullProbe."""
        try:
            nvml.nvmlInit()
        except Exception as exc:  # NVMLError, or OSError from a broken library load
            return NullProbe(failure_from_nvml_error(nvml, exc))
        try:
            driver = _text(nvml.nvmlSystemGetDriverVersion())
            cuda_raw = int(nvml.nvmlSystemGetCudaDriverVersion_v2())
            cuda = (cuda_raw // 1000, (cuda_raw % 1000) // 10)
            count = int(nvml.nvmlDeviceGetCount())
            handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            gpus = [_read_info(nvml, i, h, driver, cuda) for i, h in enumerate(handles)]
        except Exception as exc:
            _shutdown(nvml)
            return NullProbe(failure_from_nvml_error(nvml, exc))
        if not gpus:
            _shutdown(nvml)
            return NullProbe(failure(FailureKind.NO_GPU))
        detection = GpuDetection(True, None, None, driver, _version(cuda), gpus)
        return cls(nvml, detection, handles)

    def detect(self) -> GpuDetection:
        return self._detection

    @property
    def gpus(self) -> list[GpuInfo]:
        return self._detection.gpus

    def _call(self, fn: Callable[..., T], *args: Any) -> T | None:
        """A reading the card may not support (fans on passive cards, power on some boards) is None."""
        try:
            return fn(*args)
        except self._nvml.NVMLError as exc:
            if exc.value == self._nvml.NVML_ERROR_NOT_SUPPORTED:
                return None
            raise

    def sample(self, index: int) -> GpuSample:
        nvml, call = self._nvml, self._call
        info = self._detection.gpus[index]
        handle = self._handles[index]
        try:
            memory = call(nvml.nvmlDeviceGetMemoryInfo, handle)
            util = call(nvml.nvmlDeviceGetUtilizationRates, handle)
            power_mw = call(nvml.nvmlDeviceGetPowerUsage, handle)
            reasons = call(self._reasons_fn, handle) if self._reasons_fn else None
            return GpuSample(
                uuid=info.uuid,
                index=index,
                at=time.time(),
                temperature_c=call(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU),
                power_w=None if power_mw is None else power_mw / 1000,
                fan_percent=call(nvml.nvmlDeviceGetFanSpeed, handle),
                utilization_gpu_percent=None if util is None else int(util.gpu),
                utilization_memory_percent=None if util is None else int(util.memory),
                memory_used_bytes=None if memory is None else int(memory.used),
                memory_free_bytes=None if memory is None else int(memory.free),
                clock_graphics_mhz=call(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_GRAPHICS),
                clock_sm_mhz=call(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_SM),
                clock_memory_mhz=call(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_MEM),
                throttle_reasons=decode_throttle_reasons(reasons or 0),
            )
        except nvml.NVMLError as exc:
            raise GpuReadError(failure_from_nvml_error(nvml, exc)) from None

    def processes(self, index: int) -> list[GpuProcessUse]:
        nvml = self._nvml
        handle = self._handles[index]
        try:
            compute = self._call(nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []
            graphics = self._call(nvml.nvmlDeviceGetGraphicsRunningProcesses, handle) or []
        except nvml.NVMLError as exc:
            raise GpuReadError(failure_from_nvml_error(nvml, exc)) from None
        by_pid: dict[int, GpuProcessUse] = {}
        for entry, is_graphics in [*((p, False) for p in compute), *((p, True) for p in graphics)]:
            pid = int(entry.pid)
            used = entry.usedGpuMemory
            seen = by_pid.get(pid)
            if seen is None:
                by_pid[pid] = GpuProcessUse(pid, used, is_graphics, not is_graphics)
            else:
                # The same process can hold a graphics and a compute context (a game using CUDA).
                by_pid[pid] = GpuProcessUse(
                    pid,
                    max(seen.used_memory_bytes or 0, used or 0) or None,
                    seen.graphics or is_graphics,
                    seen.compute or not is_graphics,
                )
        return list(by_pid.values())

    def process_name(self, pid: int) -> str | None:
        """NVML's view of a process name: the fallback where /proc is not available (Windows)."""
        fn = getattr(self._nvml, "nvmlSystemGetProcessName", None)
        if fn is None:
            return None
        try:
            name = _text(fn(pid))
        except Exception:
            return None
        return os.path.basename(name) or None

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                _shutdown(self._nvml)


def _read_info(nvml: Any, index: int, handle: Any, driver: str, cuda: tuple[int, int]) -> GpuInfo:
    def optional(fn_name: str, *args: Any) -> Any:
        fn = getattr(nvml, fn_name, None)
        if fn is None:
            return None
        try:
            return fn(handle, *args)
        except nvml.NVMLError as exc:
            if exc.value in (nvml.NVML_ERROR_NOT_SUPPORTED, nvml.NVML_ERROR_NOT_FOUND):
                return None
            raise

    cc = optional("nvmlDeviceGetCudaComputeCapability")
    power_mw = optional("nvmlDeviceGetPowerManagementLimit")
    pci = optional("nvmlDeviceGetPciInfo")
    return GpuInfo(
        index=index,
        uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
        name=_text(nvml.nvmlDeviceGetName(handle)),
        memory_total_bytes=int(nvml.nvmlDeviceGetMemoryInfo(handle).total),
        driver_version=driver,
        cuda_driver_version=cuda,
        compute_capability=None if cc is None else (int(cc[0]), int(cc[1])),
        pci_bus_id=None if pci is None else _text(pci.busId),
        pcie_max_gen=optional("nvmlDeviceGetMaxPcieLinkGeneration"),
        pcie_max_width=optional("nvmlDeviceGetMaxPcieLinkWidth"),
        pcie_current_gen=optional("nvmlDeviceGetCurrPcieLinkGeneration"),
        pcie_current_width=optional("nvmlDeviceGetCurrPcieLinkWidth"),
        power_limit_w=None if power_mw is None else power_mw / 1000,
    )


def _shutdown(nvml: Any) -> None:
    try:
        nvml.nvmlShutdown()
    except Exception:
        log.debug("nvmlShutdown failed", exc_info=True)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def load_nvml_module(environ: dict[str, str] | None = None) -> Any:
    """The real pynvml, or a FakeNvml when HOSTAPP_FAKE_NVML names a profile (developer/testing aid).

    Raises FakeProfileError for a bad profile, ImportError when pynvml is missing.
    """
    env = os.environ if environ is None else environ
    fake = env.get(FAKE_NVML_ENV)
    if fake:
        from hostapp.gpu.fake_nvml import FakeNvml

        return FakeNvml.from_file(Path(fake))
    import pynvml

    return pynvml


def open_probe(nvml: Any = None) -> NvmlProbe | NullProbe:
    """A probe over `nvml` (default: `load_nvml_module()`); never raises."""
    if nvml is None:
        try:
            nvml = load_nvml_module()
        except ImportError:
            return NullProbe(failure(FailureKind.BINDINGS_MISSING))
        except ValueError as exc:  # FakeProfileError
            return NullProbe(failure(FailureKind.FAKE_PROFILE_INVALID, str(exc)))
    return NvmlProbe.open(nvml)


def detect(nvml: Any = None) -> GpuDetection:
    """One-shot detection (doctor, `hostapp gpu`): opens NVML, reads the facts, shuts it down."""
    probe = open_probe(nvml)
    try:
        return probe.detect()
    finally:
        probe.close()
