"""`hostapp doctor`: is this machine ready to share its GPU? Each check OK / WARN / FAIL + a fix."""

from __future__ import annotations

import os
import shutil
import sys
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
    summary: str  # the technical finding ("no nvidia runtime … (runtimes: io.containerd.runc.v2, runc)")
    hint: str | None = None  # the full fix
    details: dict[str, Any] = field(default_factory=dict)
    meaning: str = ""  # what it means for the user, first ("GPU jobs can't run: …"); "" = the summary

    @property
    def says(self) -> str:
        """The line a person reads first; `summary`, `hint` and `details` are the detail behind it."""
        return self.meaning or self.summary

    @property
    def title(self) -> str:
        return CHECK_TITLES.get(self.id, self.id)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "summary": self.summary,
            "meaning": self.says,
            "hint": self.hint,
            "details": self.details,
        }


CHECK_TITLES = {
    "docker": "Docker",
    "gpu": "Graphics card",
    "gpu_runtime": "GPU in containers",
    "keyring": "Wallet key storage",
    "disk": "Disk space",
    "grid": "Grid connection",
    "node": "hostapp",
}


@dataclass
class DoctorReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.status is not Status.FAIL for c in self.checks)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DoctorReport:
        """The report `hostapp doctor --json` printed (how the tray runs the checks, in their own process)."""
        checks = []
        for raw in data["checks"]:
            summary = str(raw["summary"])
            meaning = str(raw.get("meaning") or "")
            checks.append(
                Check(
                    str(raw["id"]),
                    Status(raw["status"]),
                    summary,
                    raw.get("hint"),
                    dict(raw.get("details") or {}),
                    "" if meaning == summary else meaning,
                )
            )
        return cls(checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": DOCTOR_FORMAT,
            "hostapp": __version__,
            "ok": self.ok,
            "checks": [c.to_json() for c in self.checks],
        }


def check_docker() -> tuple[Check, dict[str, Any] | None]:
    from hostapp.jobs.engine import EngineUnavailable, connect

    try:
        client = connect(timeout=5)
        info: dict[str, Any] = client.info()
        version = client.version()
    except EngineUnavailable as exc:
        return Check(
            "docker",
            Status.FAIL,
            str(exc).split(": start", 1)[0],
            hint=str(exc).split("): ", 1)[-1],
            meaning="No jobs can run: Docker is not running or not installed",
        ), None
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
        meaning=f"Docker {details['version']} is running: jobs can start",
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
            meaning="No NVIDIA graphics card found: only small CPU demo jobs will run, and they earn little",
        )
    from hostapp.control.status import short_gpu_name

    names = ", ".join(g.name for g in found.gpus) or "none"
    models = ", ".join(short_gpu_name(g.name) for g in found.gpus)
    return Check(
        "gpu",
        Status.OK if found.gpus else Status.WARN,
        f"{len(found.gpus)} NVIDIA GPU(s): {names}; driver {found.driver_version}, CUDA {found.cuda_driver_version}",
        details=found.to_json(),
        meaning=f"Found your {models}: it can earn" if found.gpus else "The NVIDIA driver runs but shows no GPU",
    )


def check_gpu_runtime(info: dict[str, Any] | None, gpu: Check) -> Check:
    from hostapp.jobs.engine import GPU_RUNTIME_HINT, gpu_runtime

    if info is None:
        return Check(
            "gpu_runtime",
            Status.WARN,
            "unknown: the Docker engine is not reachable",
            hint="fix the Docker check first",
            meaning="Not known yet whether GPU jobs can run: Docker must work first",
        )
    ok, summary = gpu_runtime(info)
    if ok:
        return Check("gpu_runtime", Status.OK, summary, meaning="Docker can give jobs your GPU")
    # Without a GPU the missing runtime changes nothing the user can use today.
    if gpu.status is not Status.OK:
        return Check(
            "gpu_runtime",
            Status.WARN,
            summary,
            hint="needed only with an NVIDIA GPU",
            meaning="Docker has no NVIDIA GPU support; it is needed only with an NVIDIA graphics card",
        )
    return Check(
        "gpu_runtime",
        Status.WARN,
        summary,
        hint=GPU_RUNTIME_HINT,
        meaning="GPU jobs can't run: the NVIDIA Container Toolkit is missing, so Docker cannot give jobs "
        "your GPU. Install it (see the fix), then restart Docker",
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
            meaning="Your keyring is locked or not running: the wallet key goes to a file protected by a "
            "passphrase you type when hostapp starts",
        )
    if not secure:
        return Check(
            "keyring",
            Status.WARN,
            f"no secure OS keyring (backend {name})",
            hint="install/unlock GNOME Keyring or KWallet; otherwise hostapp uses a passphrase-encrypted file",
            details={"backend": name, "secure": False},
            meaning="No keyring on this PC: the wallet key goes to a file protected by a passphrase you "
            "type when hostapp starts",
        )
    return Check(
        "keyring",
        Status.OK,
        f"secure OS keyring: {name}",
        details={"backend": name, "secure": True},
        meaning="Your wallet key is kept safe in your login keyring",
    )


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
            meaning=f"Little disk space ({free_gb:.0f} GB free): large AI jobs may not fit",
        )
    return Check(
        "disk",
        Status.OK,
        f"{free_gb:.1f} GiB free at {probe} for the image cache",
        details=details,
        meaning=f"Enough disk space for job images ({free_gb:.0f} GB free)",
    )


def check_grid(settings: Settings) -> Check:
    if settings.grid.url is None:
        return Check(
            "grid",
            Status.OK,
            "embedded local grid (no remote grid configured)",
            details={"url": None},
            meaning="Using the built-in demo grid on this PC",
        )
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
            meaning="Can't reach the grid: no jobs will come until it answers",
        )
    return Check(
        "grid", Status.OK, f"grid {settings.grid.url} reachable", details={"url": url}, meaning="The grid answers"
    )


def check_node(paths: AppPaths, timeout: float = 5.0) -> Check:
    """Asks the running app or node (control socket), if one runs, whether it can work: a grid that
    refuses this node's registration shows here with its fix, not only in the tray."""
    from hostapp.control.status import NodeSnapshot, NodeState
    from hostapp.control.transport import ControlError, NotRunning, call
    from hostapp.shapes import ShapeError

    try:
        snapshot = NodeSnapshot.model_validate(call(paths.control_socket, "status", timeout=timeout))
    except NotRunning:
        return Check(
            "node",
            Status.OK,
            "no hostapp running to ask (start it with `hostapp` or `hostapp node`)",
            meaning="hostapp is not running, so it is not earning",
        )
    except ControlError as exc:
        return Check(
            "node",
            Status.WARN,
            f"the running hostapp did not answer: {exc}",
            hint="restart it (tray ▸ Quit, then start)",
        )
    except ShapeError:
        return Check(
            "node",
            Status.WARN,
            "the running hostapp is another version (its status cannot be read)",
            hint="restart it so it runs this version",
        )
    details = snapshot.model_dump(mode="json")
    if snapshot.state is NodeState.ERROR and snapshot.problem is not None:
        return Check(
            "node",
            Status.FAIL,
            snapshot.problem.reason,
            hint=snapshot.problem.fix,
            details=details,
            meaning=f"hostapp can't work: {snapshot.problem.reason}",
        )
    if snapshot.state is NodeState.OFFLINE:
        return Check(
            "node",
            Status.WARN,
            f"the running node cannot reach its grid: {snapshot.grid_problem or snapshot.reason}",
            hint="check your network and the grid URL in Settings",
            details=details,
            meaning="hostapp runs but can't reach its grid: no jobs until it can",
        )
    return Check("node", Status.OK, f"running: {snapshot.headline}", details=details, meaning=snapshot.headline)


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
    if settings.grid.backend == "nosana":  # beta: the network's own requirements, each with its fix
        from hostapp.nosana.checks import nosana_checks

        checks += nosana_checks(paths, settings, checks)
    if sys.platform == "win32":
        checks = [for_windows(c) for c in checks]
    return DoctorReport([c for c in checks if only(c.id)])


# On Windows the engine is Docker Desktop and the GPU reaches containers through WSL 2 and the
# Windows NVIDIA driver (no nvidia-container-toolkit to install, no GNOME Keyring to unlock).
WINDOWS_HINTS = {
    "docker": "install Docker Desktop with the WSL 2 backend (docs.docker.com/desktop/setup/install/"
    "windows-install), start it, then run `hostapp doctor` again",
    "gpu": "install the NVIDIA driver for Windows (nvidia.com/drivers; it includes NVML and the WSL 2 GPU "
    "support), then restart hostapp",
    "gpu_runtime": "use Docker Desktop's WSL 2 backend (Settings > General) and a current NVIDIA driver: "
    "it passes the GPU to containers",
    "keyring": "hostapp keeps the key in Windows Credential Manager; sign in to Windows with your own "
    "account, otherwise hostapp uses a passphrase-encrypted file",
}


def for_windows(check: Check) -> Check:
    """The check with the fix a Windows user can follow (the generic hints name Linux tools)."""
    hint = WINDOWS_HINTS.get(check.id)
    if check.status is Status.OK or hint is None or check.hint in ("fix the Docker check first",):
        return check
    if check.id == "gpu":
        hint += " (CPU demo jobs still run)"
    if check.id == "gpu_runtime" and check.hint == "needed only with an NVIDIA GPU":
        return check
    meaning = check.meaning
    if check.id == "gpu_runtime":  # no toolkit to install on Windows: Docker Desktop brings the GPU
        meaning = "GPU jobs can't run: Docker Desktop cannot give jobs your GPU yet (see the fix)"
    return Check(check.id, check.status, check.summary, hint=hint, details=check.details, meaning=meaning)


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
        lines.append(f"{mark} {c.id:<12} {c.says}")  # what it means for the user first
        if c.hint and c.status is not Status.OK:
            lines.append(f"     {'':<12} fix: {c.hint}")
        if c.meaning and c.status is not Status.OK:
            lines.append(f"     {'':<12} detail: {c.summary}")
    return "\n".join(lines)
