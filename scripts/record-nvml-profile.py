#!/usr/bin/env python3
"""Records the NVIDIA GPUs of this machine into an NVML profile for tests and demos.

    python scripts/record-nvml-profile.py tests/fixtures/nvml/h100-sxm.json [--keep-uuid]

The profile holds what hostapp reads through NVML (hostapp/gpu/fake_nvml.py replays it): static
facts, one telemetry reading, the running processes' pids and memory (names only with
--with-process-names) and, per function, the NVML error the card returned (NOT_SUPPORTED for a
passive card's fan, say). No serial numbers are read; UUIDs are replaced by stable pseudonyms
unless --keep-uuid. Needs only the nvidia-ml-py package (no hostapp import), so it runs anywhere.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pynvml

ERROR_NAMES = {
    getattr(pynvml, n): n for n in dir(pynvml) if n.startswith("NVML_ERROR_") and isinstance(getattr(pynvml, n), int)
}


class Recorder:
    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def read(self, function: str, *args: Any) -> Any:
        try:
            return getattr(pynvml, function)(*args)
        except pynvml.NVMLError as exc:
            self.errors[function] = ERROR_NAMES.get(exc.value, "NVML_ERROR_UNKNOWN")
            return None


def text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def pseudonym(uuid: str) -> str:
    digest = hashlib.sha256(uuid.encode()).hexdigest()
    return f"GPU-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def record_device(index: int, keep_uuid: bool, process_names: dict[str, str], with_names: bool) -> dict[str, Any]:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    r = Recorder()
    uuid = text(pynvml.nvmlDeviceGetUUID(handle))
    memory = r.read("nvmlDeviceGetMemoryInfo", handle)
    pci = r.read("nvmlDeviceGetPciInfo", handle)
    cc = r.read("nvmlDeviceGetCudaComputeCapability", handle)
    util = r.read("nvmlDeviceGetUtilizationRates", handle)
    clocks = {
        key: r.read("nvmlDeviceGetClockInfo", handle, clock)
        for key, clock in (
            ("graphics", pynvml.NVML_CLOCK_GRAPHICS),
            ("sm", pynvml.NVML_CLOCK_SM),
            ("mem", pynvml.NVML_CLOCK_MEM),
        )
    }
    reasons_fn = (
        "nvmlDeviceGetCurrentClocksEventReasons"
        if hasattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons")
        else "nvmlDeviceGetCurrentClocksThrottleReasons"
    )

    def processes(function: str) -> list[dict[str, Any]]:
        found = r.read(function, handle) or []
        out = []
        for p in found:
            out.append({"pid": int(p.pid), "used_memory": p.usedGpuMemory})
            if with_names:
                name = r.read("nvmlSystemGetProcessName", p.pid)
                if name:
                    process_names[str(p.pid)] = text(name).rsplit("/", 1)[-1]
        return out

    device = {
        "name": text(pynvml.nvmlDeviceGetName(handle)),
        "uuid": uuid if keep_uuid else pseudonym(uuid),
        "pci_bus_id": text(pci.busId) if pci else None,
        "memory": {"total": memory.total, "used": memory.used, "free": memory.free} if memory else None,
        "compute_capability": list(cc) if cc else None,
        "pcie": {
            "max_gen": r.read("nvmlDeviceGetMaxPcieLinkGeneration", handle),
            "max_width": r.read("nvmlDeviceGetMaxPcieLinkWidth", handle),
            "curr_gen": r.read("nvmlDeviceGetCurrPcieLinkGeneration", handle),
            "curr_width": r.read("nvmlDeviceGetCurrPcieLinkWidth", handle),
        },
        "power_limit_mw": r.read("nvmlDeviceGetPowerManagementLimit", handle),
        "temperature_c": r.read("nvmlDeviceGetTemperature", handle, pynvml.NVML_TEMPERATURE_GPU),
        "power_usage_mw": r.read("nvmlDeviceGetPowerUsage", handle),
        "fan_percent": r.read("nvmlDeviceGetFanSpeed", handle),
        "utilization": {"gpu": util.gpu, "memory": util.memory} if util else None,
        "clocks_mhz": clocks if None not in clocks.values() else None,
        "clocks_event_reasons": r.read(reasons_fn, handle),
        "compute_processes": processes("nvmlDeviceGetComputeRunningProcesses"),
        "graphics_processes": processes("nvmlDeviceGetGraphicsRunningProcesses"),
    }
    # The fake replays a recorded NOT_SUPPORTED as NOT_SUPPORTED (the field is then None).
    r.errors.pop("nvmlSystemGetProcessName", None)
    if reasons_fn in r.errors:
        r.errors["nvmlDeviceGetCurrentClocksEventReasons"] = r.errors.pop(reasons_fn)
    device["errors"] = r.errors
    return device


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--keep-uuid", action="store_true", help="store real GPU UUIDs (default: pseudonyms)")
    parser.add_argument("--with-process-names", action="store_true", help="also store running processes' names")
    parser.add_argument("--note", default="", help="free text stored with the profile (e.g. cloud or rig name)")
    args = parser.parse_args()
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        print(f"record-nvml-profile: NVML unusable: {exc} ({ERROR_NAMES.get(exc.value)})", file=sys.stderr)
        return 1
    try:
        process_names: dict[str, str] = {}
        profile = {
            "format": 1,
            "recorded": {
                "source": "pynvml on a real GPU (scripts/record-nvml-profile.py)",
                "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
                "nvml_version": text(pynvml.nvmlSystemGetNVMLVersion()),
                "note": args.note,
            },
            "init_error": None,
            "system": {
                "driver_version": text(pynvml.nvmlSystemGetDriverVersion()),
                "cuda_driver_version": pynvml.nvmlSystemGetCudaDriverVersion_v2(),
            },
            "devices": [
                record_device(i, args.keep_uuid, process_names, args.with_process_names)
                for i in range(pynvml.nvmlDeviceGetCount())
            ],
            "process_names": process_names,
        }
    finally:
        pynvml.nvmlShutdown()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(profile, indent=2) + "\n", encoding="utf-8")
    print(f"recorded {len(profile['devices'])} GPU(s) to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
