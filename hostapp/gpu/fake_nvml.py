"""A stand-in for the `pynvml` module, fed from a recorded JSON profile.

There is no GPU on development and CI machines, so tests replace NVML — and only NVML — at the
pynvml boundary: every probe takes the nvml module as a parameter, and this class implements the
pynvml functions hostapp calls with the same signatures, return shapes and `NVMLError` codes (it
reuses the real pynvml's error classes and constants, which load no library).

Profiles are written by `scripts/record-nvml-profile.py` on a real GPU (format in docs/gpu.md).
Also selectable with HOSTAPP_FAKE_NVML=/path/profile.json as a developer/testing aid.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pynvml

PROFILE_FORMAT = 1

_CLOCK_KEYS = {pynvml.NVML_CLOCK_GRAPHICS: "graphics", pynvml.NVML_CLOCK_SM: "sm", pynvml.NVML_CLOCK_MEM: "mem"}


class FakeProfileError(ValueError):
    """The profile file is missing, not JSON, or not in the expected shape."""


def load_profile(path: Path) -> dict[str, Any]:
    try:
        profile = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise FakeProfileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FakeProfileError(f"{path} is not JSON: {exc}") from exc
    _check_profile(profile, str(path))
    return profile  # type: ignore[no-any-return]


def _check_profile(profile: Any, where: str) -> None:
    if not isinstance(profile, dict) or profile.get("format") != PROFILE_FORMAT:
        raise FakeProfileError(f'{where}: not an NVML profile (expected an object with "format": 1)')
    devices = profile.get("devices", [])
    if not isinstance(devices, list) or not all(isinstance(d, dict) for d in devices):
        raise FakeProfileError(f'{where}: "devices" must be a list of objects')
    for index, device in enumerate(devices):
        for key in ("name", "uuid", "memory"):
            if key not in device:
                raise FakeProfileError(f'{where}: device {index} lacks "{key}"')
    for name in _error_names(profile):
        if not isinstance(getattr(pynvml, str(name), None), int) or not str(name).startswith("NVML_ERROR_"):
            raise FakeProfileError(f"{where}: unknown NVML error name {name!r}")


def _error_names(profile: dict[str, Any]) -> list[Any]:
    names: list[Any] = []
    if profile.get("init_error"):
        names.append(profile["init_error"])
    names.extend((profile.get("errors") or {}).values())
    for device in profile.get("devices", []):
        names.extend((device.get("errors") or {}).values())
    return names


class FakeNvml:
    """Implements the subset of pynvml hostapp uses. Handles are device indexes wrapped in a tuple."""

    NVMLError = pynvml.NVMLError

    def __init__(self, profile: dict[str, Any]) -> None:
        _check_profile(profile, "profile")
        self.profile = profile
        self._lock = threading.Lock()
        self._init_count = 0
        self.calls: Counter[str] = Counter()  # calls per NVML function: tests check handles are cached

    def __getattr__(self, name: str) -> Any:
        # Constants (NVML_ERROR_*, NVML_CLOCK_*, ...) come from the real module.
        if name.startswith(("NVML_", "nvmlClocks")):
            return getattr(pynvml, name)
        raise AttributeError(name)

    @classmethod
    def from_file(cls, path: Path) -> FakeNvml:
        return cls(load_profile(path))

    # -- helpers for tests ------------------------------------------------------------------
    def device(self, index: int) -> dict[str, Any]:
        devices: list[dict[str, Any]] = self.profile["devices"]
        return devices[index]

    def set_processes(
        self,
        index: int,
        compute: list[tuple[int, int | None]] | None = None,
        graphics: list[tuple[int, int | None]] | None = None,
    ) -> None:
        device = self.device(index)
        device["compute_processes"] = [{"pid": p, "used_memory": m} for p, m in compute or []]
        device["graphics_processes"] = [{"pid": p, "used_memory": m} for p, m in graphics or []]

    @property
    def initialised(self) -> bool:
        return self._init_count > 0

    # -- plumbing ---------------------------------------------------------------------------
    def _raise(self, name: str) -> None:
        raise pynvml.NVMLError(getattr(pynvml, name))

    def _enter(self, function: str, handle: Any = None) -> dict[str, Any] | None:
        self.calls[function] += 1
        if self._init_count == 0:
            self._raise("NVML_ERROR_UNINITIALIZED")
        error = (self.profile.get("errors") or {}).get(function)
        if error:
            self._raise(error)
        if handle is None:
            return None
        device = self.device(handle[0])
        errors = device.get("errors") or {}
        error = errors.get(function) or errors.get("*")
        if error:
            self._raise(error)
        return device

    def _value(self, function: str, handle: Any, key: str) -> Any:
        device = self._enter(function, handle)
        assert device is not None
        if key not in device or device[key] is None:
            self._raise("NVML_ERROR_NOT_SUPPORTED")
        return device[key]

    # -- library ----------------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.calls["nvmlInit"] += 1
        if self.profile.get("init_error"):
            self._raise(self.profile["init_error"])
        with self._lock:
            self._init_count += 1

    def nvmlShutdown(self) -> None:
        self.calls["nvmlShutdown"] += 1
        with self._lock:
            if self._init_count == 0:
                self._raise("NVML_ERROR_UNINITIALIZED")
            self._init_count -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._enter("nvmlSystemGetDriverVersion")
        return str(self.profile["system"]["driver_version"])

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        self._enter("nvmlSystemGetCudaDriverVersion_v2")
        return int(self.profile["system"]["cuda_driver_version"])

    def nvmlSystemGetProcessName(self, pid: int) -> str:
        self._enter("nvmlSystemGetProcessName")
        names = self.profile.get("process_names") or {}
        if str(pid) not in names:
            self._raise("NVML_ERROR_NOT_FOUND")
        return str(names[str(pid)])

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self.profile["devices"])

    def nvmlDeviceGetHandleByIndex(self, index: int) -> tuple[int]:
        self._enter("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.profile["devices"]):
            self._raise("NVML_ERROR_INVALID_ARGUMENT")
        self._enter("nvmlDeviceGetHandleByIndex", (index,))
        return (index,)

    # -- static device facts ----------------------------------------------------------------
    def nvmlDeviceGetName(self, handle: Any) -> str:
        return str(self._value("nvmlDeviceGetName", handle, "name"))

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        return str(self._value("nvmlDeviceGetUUID", handle, "uuid"))

    def nvmlDeviceGetPciInfo(self, handle: Any) -> SimpleNamespace:
        return SimpleNamespace(busId=str(self._value("nvmlDeviceGetPciInfo", handle, "pci_bus_id")))

    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]:
        major, minor = self._value("nvmlDeviceGetCudaComputeCapability", handle, "compute_capability")
        return int(major), int(minor)

    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle: Any) -> int:
        return int(self._value("nvmlDeviceGetMaxPcieLinkGeneration", handle, "pcie")["max_gen"])

    def nvmlDeviceGetMaxPcieLinkWidth(self, handle: Any) -> int:
        return int(self._value("nvmlDeviceGetMaxPcieLinkWidth", handle, "pcie")["max_width"])

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: Any) -> int:
        return int(self._value("nvmlDeviceGetCurrPcieLinkGeneration", handle, "pcie")["curr_gen"])

    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: Any) -> int:
        return int(self._value("nvmlDeviceGetCurrPcieLinkWidth", handle, "pcie")["curr_width"])

    def nvmlDeviceGetPowerManagementLimit(self, handle: Any) -> int:
        return int(self._value("nvmlDeviceGetPowerManagementLimit", handle, "power_limit_mw"))

    # -- telemetry --------------------------------------------------------------------------
    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> SimpleNamespace:
        memory = self._value("nvmlDeviceGetMemoryInfo", handle, "memory")
        return SimpleNamespace(total=int(memory["total"]), used=int(memory["used"]), free=int(memory["free"]))

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            self._raise("NVML_ERROR_INVALID_ARGUMENT")
        return int(self._value("nvmlDeviceGetTemperature", handle, "temperature_c"))

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        return int(self._value("nvmlDeviceGetPowerUsage", handle, "power_usage_mw"))

    def nvmlDeviceGetFanSpeed(self, handle: Any) -> int:
        return int(self._value("nvmlDeviceGetFanSpeed", handle, "fan_percent"))

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> SimpleNamespace:
        rates = self._value("nvmlDeviceGetUtilizationRates", handle, "utilization")
        return SimpleNamespace(gpu=int(rates["gpu"]), memory=int(rates["memory"]))

    def nvmlDeviceGetClockInfo(self, handle: Any, clock: int) -> int:
        clocks = self._value("nvmlDeviceGetClockInfo", handle, "clocks_mhz")
        if clock not in _CLOCK_KEYS:
            self._raise("NVML_ERROR_INVALID_ARGUMENT")
        return int(clocks[_CLOCK_KEYS[clock]])

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:
        return int(self._value("nvmlDeviceGetCurrentClocksEventReasons", handle, "clocks_event_reasons"))

    # -- processes --------------------------------------------------------------------------
    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[SimpleNamespace]:
        return self._processes("nvmlDeviceGetComputeRunningProcesses", handle, "compute_processes")

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: Any) -> list[SimpleNamespace]:
        return self._processes("nvmlDeviceGetGraphicsRunningProcesses", handle, "graphics_processes")

    def _processes(self, function: str, handle: Any, key: str) -> list[SimpleNamespace]:
        device = self._enter(function, handle)
        assert device is not None
        return [SimpleNamespace(pid=int(p["pid"]), usedGpuMemory=p.get("used_memory")) for p in device.get(key) or []]
