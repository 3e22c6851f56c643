"""Classification of host processes; container pids are in tests/integration/gpu (real Docker)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hostapp.events import Event, EventBus
from hostapp.gpu.fake_nvml import FakeNvml
from hostapp.gpu.probe import NvmlProbe
from hostapp.gpu.processes import (
    FOREIGN_USE_CHANGED,
    FOREIGN_USE_STARTED,
    FOREIGN_USE_STOPPED,
    ClassifiedProcess,
    ForeignUseWatcher,
    JobContainers,
    ProcessClassifier,
    ProcessKind,
    container_id_of,
    process_name_of,
)

CID = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"


@pytest.mark.parametrize(
    "cgroup",
    [
        f"12:memory:/docker/{CID}\n11:cpu,cpuacct:/docker/{CID}\n",  # cgroup v1 (this machine)
        f"0::/system.slice/docker-{CID}.scope\n",  # cgroup v2 + systemd driver
        f"0::/docker/{CID}\n",  # cgroup v2 + cgroupfs driver
        f"0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker-{CID}.scope\n",  # rootless
    ],
)
def test_container_id_from_each_cgroup_layout(tmp_path: Path, cgroup: str) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "cgroup").write_text(cgroup)
    assert container_id_of(42, tmp_path) == CID


def test_host_processes_are_in_no_container(tmp_path: Path) -> None:
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "cgroup").write_text("0::/user.slice/user-1000.slice/session-2.scope\n")
    assert container_id_of(7, tmp_path) is None
    assert container_id_of(8, tmp_path) is None  # gone
    assert container_id_of(os.getpid()) is None  # this test runs on the host


def test_process_name_from_proc() -> None:
    assert process_name_of(os.getpid()) == Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert process_name_of(4_194_999) is None


def _classifier(nvml: FakeNvml, **lists: list[str]) -> ProcessClassifier:
    probe = NvmlProbe.open(nvml)
    assert isinstance(probe, NvmlProbe)
    return ProcessClassifier(probe, JobContainers(connect=_no_engine), **lists)


def _no_engine() -> object:
    raise AssertionError("host processes must be classified without asking the Docker engine")


def test_host_graphics_and_compute_are_foreign(fake_nvml: Callable[[str], FakeNvml]) -> None:
    nvml = fake_nvml("rtx4090")
    me = os.getpid()
    parent = os.getppid()
    nvml.set_processes(0, compute=[(me, 512 * 1024**2), (parent, 1024**3)], graphics=[(me, 64 * 1024**2)])
    by_pid = {p.pid: p for p in _classifier(nvml).classify_gpu(0)}
    assert by_pid[me].kind is ProcessKind.FOREIGN_GRAPHICS  # a CUDA-using game is still a game
    assert by_pid[me].graphics and by_pid[me].compute and by_pid[me].used_memory_bytes == 512 * 1024**2
    assert by_pid[parent].kind is ProcessKind.FOREIGN_COMPUTE
    assert by_pid[me].name == process_name_of(me)
    assert by_pid[me].job_id is None and by_pid[me].container_id is None


def test_names_fall_back_to_nvml_then_pid(fake_nvml: Callable[[str], FakeNvml]) -> None:
    nvml = fake_nvml("rtx4090")  # its pids 4190001/2 exist in no /proc: names come from NVML
    nvml.set_processes(0, graphics=[(4190001, None), (4190009, None)])
    names = {p.pid: p.name for p in _classifier(nvml, allow=[]).classify_gpu(0)}
    assert names == {4190001: "Xorg", 4190009: "pid 4190009"}


def test_allow_list_ignores_and_deny_list_wins(fake_nvml: Callable[[str], FakeNvml]) -> None:
    nvml = fake_nvml("rtx4090")  # Xorg + gnome-shell on the desktop
    kinds = {p.name: p.kind for p in _classifier(nvml, allow=["xorg", "gnome-*"]).classify_gpu(0)}
    assert kinds == {"Xorg": ProcessKind.IGNORED, "gnome-shell": ProcessKind.IGNORED}
    kinds = {p.name: p.kind for p in _classifier(nvml, allow=["*"], deny=["gnome-shell"]).classify_gpu(0)}
    assert kinds == {"Xorg": ProcessKind.IGNORED, "gnome-shell": ProcessKind.FOREIGN_GRAPHICS}
    kinds = {p.name: p.kind for p in _classifier(nvml).classify_gpu(0)}
    assert set(kinds.values()) == {ProcessKind.FOREIGN_GRAPHICS}


def _proc(pid: int, name: str, kind: ProcessKind) -> ClassifiedProcess:
    return ClassifiedProcess(pid, name, None, kind, kind is ProcessKind.FOREIGN_GRAPHICS, True)


def test_watcher_emits_started_changed_stopped_with_names() -> None:
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe("*", events.append)
    watcher = ForeignUseWatcher(bus)
    ours = _proc(10, "python3", ProcessKind.OURS)
    xorg = _proc(11, "Xorg", ProcessKind.IGNORED)
    game = _proc(12, "eldenring.exe", ProcessKind.FOREIGN_GRAPHICS)
    blender = _proc(13, "blender", ProcessKind.FOREIGN_COMPUTE)
    watcher.update("GPU-a", [ours, xorg])
    watcher.update("GPU-a", [ours, xorg, game])
    watcher.update("GPU-a", [ours, game])  # same foreign set: no event
    watcher.update("GPU-b", [blender])
    watcher.update("GPU-a", [game, blender])
    watcher.update("GPU-a", [ours])
    assert [(e.topic, e.data["gpu_uuid"], e.data["processes"]) for e in events] == [
        (FOREIGN_USE_STARTED, "GPU-a", ["eldenring.exe"]),
        (FOREIGN_USE_STARTED, "GPU-b", ["blender"]),
        (FOREIGN_USE_CHANGED, "GPU-a", ["blender", "eldenring.exe"]),
        (FOREIGN_USE_STOPPED, "GPU-a", ["blender", "eldenring.exe"]),
    ]
    assert events[0].data["graphics"] is True and events[1].data["graphics"] is False
    assert watcher.foreign("GPU-a") == [] and watcher.foreign("GPU-b") == [blender]


def test_identity_is_remembered_while_listed_and_forgotten_after(
    fake_nvml: Callable[[str], FakeNvml], tmp_path: Path
) -> None:
    (tmp_path / "500").mkdir()
    (tmp_path / "500" / "cgroup").write_text("0::/user.slice\n")
    (tmp_path / "500" / "comm").write_text("game\n")
    nvml = fake_nvml("rtx4090")
    nvml.set_processes(0, graphics=[(500, None)])
    probe = NvmlProbe.open(nvml)
    assert isinstance(probe, NvmlProbe)
    classifier = ProcessClassifier(probe, JobContainers(connect=_no_engine), proc_root=tmp_path)
    assert [p.name for p in classifier.classify_gpu(0)] == ["game"]
    (tmp_path / "500" / "comm").write_text("other\n")  # steady: no /proc read while the pid stays listed
    assert [p.name for p in classifier.classify_gpu(0)] == ["game"]
    nvml.set_processes(0)
    assert classifier.classify_gpu(0) == []
    nvml.set_processes(0, graphics=[(500, None)])  # a reused pid is looked up afresh
    assert [p.name for p in classifier.classify_gpu(0)] == ["other"]
