"""Why NVML is unusable, as typed reasons with a fix the user can act on.

NVML reports failures as numeric codes (pynvml raises `NVMLError` with `.value`); this module is
the one place that turns a code into words and a hint, so the CLI, doctor and the tray say the
same thing and nobody ever sees a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FailureKind(StrEnum):
    LIBRARY_NOT_FOUND = "library_not_found"
    DRIVER_NOT_LOADED = "driver_not_loaded"
    NO_PERMISSION = "no_permission"
    GPU_LOST = "gpu_lost"
    NO_GPU = "no_gpu"
    DRIVER_MISMATCH = "driver_mismatch"
    BINDINGS_MISSING = "bindings_missing"
    FAKE_PROFILE_INVALID = "fake_profile_invalid"
    UNKNOWN = "unknown"

    @property
    def means_absent(self) -> bool:
        """No NVIDIA GPU/driver on this machine: a normal state (CPU jobs still run), not a fault."""
        return self in (FailureKind.LIBRARY_NOT_FOUND, FailureKind.DRIVER_NOT_LOADED, FailureKind.NO_GPU)


_TEXT: dict[FailureKind, tuple[str, str]] = {
    FailureKind.LIBRARY_NOT_FOUND: (
        "the NVML library libnvidia-ml is not installed (no NVIDIA driver)",
        "install the NVIDIA driver for your card (Linux: your distribution's nvidia-driver package; "
        "Windows: nvidia.com/drivers), then restart",
    ),
    FailureKind.DRIVER_NOT_LOADED: (
        "the NVIDIA kernel driver is not loaded",
        "reboot after installing the driver; if it persists, check `lsmod | grep nvidia` and Secure Boot "
        "module signing",
    ),
    FailureKind.NO_PERMISSION: (
        "no permission to talk to the NVIDIA driver",
        "add your user to the group that owns /dev/nvidia* (often `video`) and log in again, "
        "or check the device node permissions",
    ),
    FailureKind.GPU_LOST: (
        "the GPU has fallen off the bus (NVML: GPU is lost)",
        "save your work and reboot; if it recurs, check the power cables, PCIe seating and temperatures",
    ),
    FailureKind.NO_GPU: (
        "the NVIDIA driver is loaded but lists no GPU",
        "check that the card is seated and powered and that `nvidia-smi` lists it",
    ),
    FailureKind.DRIVER_MISMATCH: (
        "the NVML library and the kernel driver have different versions",
        "reboot to load the driver you installed (or reinstall the driver)",
    ),
    FailureKind.BINDINGS_MISSING: (
        "the Python NVML bindings (nvidia-ml-py) are not installed",
        "reinstall hostapp",
    ),
    FailureKind.FAKE_PROFILE_INVALID: (
        "the fake NVML profile named by HOSTAPP_FAKE_NVML cannot be used",
        "fix the profile file or unset HOSTAPP_FAKE_NVML (a developer/testing aid)",
    ),
    FailureKind.UNKNOWN: (
        "NVML failed with an unexpected error",
        "update or reinstall the NVIDIA driver; run `nvidia-smi` to see whether it works",
    ),
}


@dataclass(frozen=True)
class ProbeFailure:
    kind: FailureKind
    message: str
    hint: str
    nvml_code: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "message": self.message, "hint": self.hint, "code": self.nvml_code}


def failure(kind: FailureKind, detail: str | None = None, nvml_code: int | None = None) -> ProbeFailure:
    message, hint = _TEXT[kind]
    if detail:
        message = f"{message} ({detail})"
    return ProbeFailure(kind, message, hint, nvml_code)


# Symbolic names rather than numbers: both the real pynvml and the fake module define them.
_KIND_BY_CODE_NAME = {
    "NVML_ERROR_LIBRARY_NOT_FOUND": FailureKind.LIBRARY_NOT_FOUND,
    "NVML_ERROR_FUNCTION_NOT_FOUND": FailureKind.DRIVER_MISMATCH,
    "NVML_ERROR_DRIVER_NOT_LOADED": FailureKind.DRIVER_NOT_LOADED,
    "NVML_ERROR_NO_PERMISSION": FailureKind.NO_PERMISSION,
    "NVML_ERROR_GPU_IS_LOST": FailureKind.GPU_LOST,
    "NVML_ERROR_RESET_REQUIRED": FailureKind.GPU_LOST,
    "NVML_ERROR_LIB_RM_VERSION_MISMATCH": FailureKind.DRIVER_MISMATCH,
    "NVML_ERROR_GPU_NOT_FOUND": FailureKind.NO_GPU,
    "NVML_ERROR_UNKNOWN": FailureKind.UNKNOWN,
}


def failure_from_nvml_error(nvml: Any, exc: BaseException) -> ProbeFailure:
    """Maps an `NVMLError` (or anything else NVML's loader raised) to a typed failure."""
    code = getattr(exc, "value", None)
    if isinstance(code, int):
        for name, kind in _KIND_BY_CODE_NAME.items():
            if getattr(nvml, name, None) == code:
                return failure(kind, None if kind is not FailureKind.UNKNOWN else f"NVML code {code}", code)
        return failure(FailureKind.UNKNOWN, f"NVML code {code}", code)
    return failure(FailureKind.UNKNOWN, f"{type(exc).__name__}: {str(exc)[:200]}")
