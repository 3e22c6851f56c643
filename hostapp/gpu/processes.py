"""Who is using each GPU: our job containers, a game or 3D app, or someone else's compute.

NVML lists graphics and compute processes per GPU by host pid. A pid is *ours* when its cgroup
places it in a Docker container that carries the `hostapp.job_id` label; everything else is
foreign, split into graphics (games, 3D apps: the schedule pauses for these) and compute. Users'
allow list names processes to ignore (the compositor); the deny list wins over the allow list.
`ForeignUseWatcher` turns successive classifications into started/stopped events.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from hostapp.events import EventBus
from hostapp.gpu.probe import GpuProbe, GpuProcessUse

log = logging.getLogger(__name__)

JOB_LABEL = "hostapp.job_id"
FOREIGN_USE_STARTED = "gpu.foreign_use_started"
FOREIGN_USE_CHANGED = "gpu.foreign_use_changed"
FOREIGN_USE_STOPPED = "gpu.foreign_use_stopped"

# cgroup v1 "…:/docker/<id>", cgroup v2 "0::/system.slice/docker-<id>.scope", rootless and
# containerd variants: a 64-hex container id right after "docker" or a slash.
_CONTAINER_ID = re.compile(r"(?:docker[-/]|/)([0-9a-f]{64})(?:\.scope)?(?:/|$)")


class ProcessKind(StrEnum):
    OURS = "ours"
    FOREIGN_GRAPHICS = "foreign_graphics"
    FOREIGN_COMPUTE = "foreign_compute"
    IGNORED = "ignored"  # on the allow list

    @property
    def foreign(self) -> bool:
        return self in (ProcessKind.FOREIGN_GRAPHICS, ProcessKind.FOREIGN_COMPUTE)


@dataclass(frozen=True, slots=True)
class ClassifiedProcess:
    pid: int
    name: str
    used_memory_bytes: int | None
    kind: ProcessKind
    graphics: bool
    compute: bool
    job_id: str | None = None
    container_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "name": self.name,
            "used_memory_bytes": self.used_memory_bytes,
            "kind": self.kind.value,
            "graphics": self.graphics,
            "compute": self.compute,
            "job_id": self.job_id,
            "container_id": self.container_id,
        }


def container_id_of(pid: int, proc_root: Path = Path("/proc")) -> str | None:
    """The Docker container id a host pid runs in, from /proc/<pid>/cgroup; None outside one."""
    try:
        with open(f"{proc_root}/{pid}/cgroup", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    for line in text.splitlines():
        match = _CONTAINER_ID.search(line.rsplit(":", 1)[-1])
        if match:
            return match.group(1)
    return None


def process_name_of(pid: int, proc_root: Path = Path("/proc")) -> str | None:
    try:
        with open(f"{proc_root}/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


class JobContainers:
    """Container id → hostapp job id (or None), from the container's labels; cached.

    Labels never change and container ids are never reused, so an answer is cached for good;
    only "engine unreachable" is not cached (asked again next time).
    """

    MAX_CACHED = 4096

    def __init__(self, docker_client: Any = None, connect: Callable[[], Any] | None = None) -> None:
        self._client = docker_client
        self._connect = connect
        self._cache: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self.lookups = 0  # engine round trips, for tests and the benchmark

    def _docker(self) -> Any:
        if self._client is None:
            if self._connect is None:
                from hostapp.jobs.engine import connect

                self._connect = lambda: connect(timeout=5)
            self._client = self._connect()
        return self._client

    def job_id(self, container_id: str) -> str | None:
        with self._lock:
            if container_id in self._cache:
                return self._cache[container_id]
        import docker.errors

        try:
            self.lookups += 1
            attrs = self._docker().api.inspect_container(container_id)
            labels = (attrs.get("Config") or {}).get("Labels") or {}
            job: str | None = labels.get(JOB_LABEL) or None
        except Exception as exc:
            if isinstance(exc, docker.errors.NotFound):
                job = None  # gone already, or not a Docker container: not ours
            else:
                log.warning("cannot ask the Docker engine about container %s: %s", container_id[:12], exc)
                return None
        with self._lock:
            if len(self._cache) >= self.MAX_CACHED:
                self._cache.clear()
            self._cache[container_id] = job
        return job


def _matches(name: str, patterns: Iterable[str]) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in patterns)


@dataclass(frozen=True, slots=True)
class _Identity:
    name: str
    container_id: str | None
    job_id: str | None


class ProcessClassifier:
    """Classifies the processes NVML lists on a GPU.

    A pid's name and container are looked up once and remembered while NVML keeps listing that
    pid (a process cannot change container, and its GPU context dies with it), so a steady
    sample costs no /proc reads; pids that leave the list are forgotten, which keeps a reused
    pid from inheriting an old answer.
    """

    def __init__(
        self,
        probe: GpuProbe,
        containers: JobContainers,
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
        proc_root: Path = Path("/proc"),
    ) -> None:
        self._probe = probe
        self._containers = containers
        self.allow = list(allow)
        self.deny = list(deny)
        self._proc_root = proc_root
        self._known: dict[int, dict[int, _Identity]] = {}  # per GPU index: pid -> identity

    def classify_gpu(self, index: int) -> list[ClassifiedProcess]:
        """Raises GpuReadError when the GPU cannot be read."""
        uses = self._probe.processes(index)
        before = self._known.get(index, {})
        now: dict[int, _Identity] = {}
        out = []
        for use in uses:
            identity = before.get(use.pid) or self._identify(use.pid)
            if identity.container_id is None or identity.job_id is not None:
                now[use.pid] = identity  # not kept: a container the engine could not tell us about
            out.append(self._decide(use, identity))
        self._known[index] = now
        return out

    def classify(self, use: GpuProcessUse) -> ClassifiedProcess:
        return self._decide(use, self._identify(use.pid))

    def _identify(self, pid: int) -> _Identity:
        name = process_name_of(pid, self._proc_root) or self._probe.process_name(pid) or f"pid {pid}"
        container = container_id_of(pid, self._proc_root)
        job = self._containers.job_id(container) if container else None
        return _Identity(name, container, job)

    def _decide(self, use: GpuProcessUse, identity: _Identity) -> ClassifiedProcess:
        name, container, job = identity.name, identity.container_id, identity.job_id
        if job is not None:
            kind = ProcessKind.OURS
        elif _matches(name, self.allow) and not _matches(name, self.deny):
            kind = ProcessKind.IGNORED
        elif use.graphics:
            kind = ProcessKind.FOREIGN_GRAPHICS
        else:
            kind = ProcessKind.FOREIGN_COMPUTE
        return ClassifiedProcess(use.pid, name, use.used_memory_bytes, kind, use.graphics, use.compute, job, container)


class ForeignUseWatcher:
    """Publishes when foreign use of a GPU starts, changes and stops (compares successive samples)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._foreign: dict[str, dict[int, ClassifiedProcess]] = {}

    def foreign(self, uuid: str) -> list[ClassifiedProcess]:
        return list(self._foreign.get(uuid, {}).values())

    def update(self, uuid: str, processes: Iterable[ClassifiedProcess]) -> None:
        now = {p.pid: p for p in processes if p.kind.foreign}
        before = self._foreign.get(uuid, {})
        self._foreign[uuid] = now
        if now.keys() == before.keys():
            return
        if not before:
            self._bus.publish(FOREIGN_USE_STARTED, **_payload(uuid, now))
        elif not now:
            self._bus.publish(FOREIGN_USE_STOPPED, **_payload(uuid, before))
        else:
            self._bus.publish(FOREIGN_USE_CHANGED, **_payload(uuid, now))


def _payload(uuid: str, processes: dict[int, ClassifiedProcess]) -> dict[str, Any]:
    ordered = sorted(processes.values(), key=lambda p: p.pid)
    return {
        "gpu_uuid": uuid,
        "processes": sorted({p.name for p in ordered}),
        "pids": [p.pid for p in ordered],
        "graphics": any(p.kind is ProcessKind.FOREIGN_GRAPHICS for p in ordered),
    }
