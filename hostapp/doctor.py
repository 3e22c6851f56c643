"""`hostapp doctor`: is this machine ready to share its GPU? Each check OK / WARN / FAIL + a fix."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from hostapp import __version__
from hostapp.config.paths import AppPaths
from hostapp.config.settings import Settings

DOCTOR_FORMAT = 1
MIN_FREE_DISK_BYTES = 20 * 1024**3


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass
class Check:
    id: str
    status: Status
    summary: str
    hint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "summary": self.summary,
            "hint": self.hint,
            "details": self.details,
        }


@dataclass
class DoctorReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.status is not Status.FAIL for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": DOCTOR_FORMAT,
            "hostapp": __version__,
            "ok": self.ok,
            "checks": [c.to_json() for c in self.checks],
        }


def check_docker() -> tuple[Check, dict[str, Any] | None]:
    from hostapp.engine import EngineUnavailable, connect

    try:
        client = connect(timeout=5)
        info: dict[str, Any] = client.info()
        version = client.version()
    except EngineUnavailable as exc:
        return Check("docker", Status.FAIL, str(exc).split(": start", 1)[0], hint=str(exc).split("): ", 1)[-1]), None
    details = {
        "version": version.get("Version"),
        "api_version": version.get("ApiVersion"),
        "storage_driver": info.get("Driver"),
        "root_dir": info.get("DockerRootDir"),
        "os": info.get("OperatingSystem"),
    }
    return Check(
        "docker",
        Status.OK,
        f"Docker engine {details['version']} ({details['storage_driver']} storage)",
        details=details,
    ), info


def check_gpu() -> Check:
    from hostapp.gpu.probe import detect

    found = detect()
    if not found.available:
        return Check(
            "gpu",
            Status.WARN,
            found.reason or "no NVIDIA GPU found",
            hint=(found.hint or "") + " (CPU demo jobs still run)",
            details=found.to_json(),
        )
    names = ", ".join(g.name for g in found.gpus) or "none"
    return Check(
        "gpu",
        Status.OK if found.gpus else Status.WARN,
        f"{len(found.gpus)} NVIDIA GPU(s): {names}; driver {found.driver_version}, CUDA {found.cuda_driver_version}",
        details=found.to_json(),
    )


def check_gpu_runtime(info: dict[str, Any] | None, gpu: Check) -> Check:
    from hostapp.engine import GPU_RUNTIME_HINT, gpu_runtime

    if info is None:
        return Check(
            "gpu_runtime",
            Status.WARN,
            "unknown: the Docker engine is not reachable",
            hint="fix the Docker check first",
        )
    ok, summary = gpu_runtime(info)
    if ok:
        return Check("gpu_runtime", Status.OK, summary)
    # Without a GPU the missing runtime changes nothing the user can use today.
    return Check(
        "gpu_runtime",
        Status.WARN,
        summary,
        hint=GPU_RUNTIME_HINT if gpu.status is Status.OK else "needed only with an NVIDIA GPU",
    )


def check_keyring() -> Check:
    from hostapp.wallet.backends import describe_keyring

    name, secure, problem = describe_keyring()
    if problem:
        return Check(
            "keyring",
            Status.WARN,
            f"OS keyring {name}: {problem}",
            hint="unlock or start your keyring (GNOME Keyring, KWallet); otherwise hostapp "
            "uses a passphrase-encrypted file",
            details={"backend": name, "secure": secure},
        )
    if not secure:
        return Check(
            "keyring",
            Status.WARN,
            f"no secure OS keyring (backend {name})",
            hint="install/unlock GNOME Keyring or KWallet; otherwise hostapp uses a passphrase-encrypted file",
            details={"backend": name, "secure": False},
        )
    return Check("keyring", Status.OK, f"secure OS keyring: {name}", details={"backend": name, "secure": True})


def check_disk(paths: AppPaths, docker_info: dict[str, Any] | None) -> Check:
    root = Path((docker_info or {}).get("DockerRootDir") or paths.cache)
    probe = root if root.exists() else paths.cache
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_gb = usage.free / 1024**3
    details = {"path": str(probe), "free_bytes": usage.free, "total_bytes": usage.total}
    if usage.free < MIN_FREE_DISK_BYTES:
        return Check(
            "disk",
            Status.WARN,
            f"{free_gb:.1f} GiB free at {probe} for the image cache",
            hint="free at least 20 GiB: AI job images are large",
            details=details,
        )
    return Check("disk", Status.OK, f"{free_gb:.1f} GiB free at {probe} for the image cache", details=details)


def check_grid(settings: Settings) -> Check:
    if settings.grid.url is None:
        return Check("grid", Status.OK, "embedded local grid (no remote grid configured)", details={"url": None})
    import httpx

    url = settings.grid.url.rstrip("/") + "/v1/health"
    try:
        response = httpx.get(url, timeout=5)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return Check(
            "grid",
            Status.FAIL,
            f"grid {settings.grid.url} not reachable ({exc})",
            hint="check your network and the grid URL in Settings",
            details={"url": url},
        )
    return Check("grid", Status.OK, f"grid {settings.grid.url} reachable", details={"url": url})


def check_node(paths: AppPaths, timeout: float = 5.0) -> Check:
    """Asks the running app or node (control socket), if one runs, whether it can work: a grid that
    refuses this node's registration shows here with its fix, not only in the tray."""
    from pydantic import ValidationError

    from hostapp.control import ControlError, NotRunning, call
    from hostapp.status import NodeSnapshot, NodeState

    try:
        snapshot = NodeSnapshot.model_validate(call(paths.control_socket, "status", timeout=timeout))
    except NotRunning:
        return Check("node", Status.OK, "no hostapp running to ask (start it with `hostapp` or `hostapp node`)")
    except ControlError as exc:
        return Check(
            "node",
            Status.WARN,
            f"the running hostapp did not answer: {exc}",
            hint="restart it (tray ▸ Quit, then start)",
        )
    except ValidationError:
        return Check(
            "node",
            Status.WARN,
            "the running hostapp is another version (its status cannot be read)",
            hint="restart it so it runs this version",
        )
    details = snapshot.model_dump(mode="json")
    if snapshot.state is NodeState.ERROR and snapshot.problem is not None:
        return Check("node", Status.FAIL, snapshot.problem.reason, hint=snapshot.problem.fix, details=details)
    if snapshot.state is NodeState.OFFLINE:
        return Check(
            "node",
            Status.WARN,
            f"the running node cannot reach its grid: {snapshot.grid_problem or snapshot.reason}",
            hint="check your network and the grid URL in Settings",
            details=details,
        )
    return Check("node", Status.OK, f"running: {snapshot.headline}", details=details)


def run_checks(paths: AppPaths, settings: Settings, only: Callable[[str], bool] = lambda _id: True) -> DoctorReport:
    docker_check, info = check_docker()
    gpu = check_gpu()
    checks = [
        docker_check,
        gpu,
        check_gpu_runtime(info, gpu),
        check_keyring(),
        check_disk(paths, info),
        check_grid(settings),
        check_node(paths),
    ]
    return DoctorReport([c for c in checks if only(c.id)])


def render(report: DoctorReport, color: bool | None = None) -> str:
    color = os.isatty(1) if color is None else color
    marks = {
        Status.OK: "\033[32mOK  \033[0m",
        Status.WARN: "\033[33mWARN\033[0m",
        Status.FAIL: "\033[31mFAIL\033[0m",
    }
    lines = []
    for c in report.checks:
        mark = marks[c.status] if color else f"{c.status.value:<4}"
        lines.append(f"{mark} {c.id:<12} {c.summary}")
        if c.hint and c.status is not Status.OK:
            lines.append(f"     {'':<12} fix: {c.hint}")
    return "\n".join(lines)
