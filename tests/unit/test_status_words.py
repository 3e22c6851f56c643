"""Status words agree with each other: a job's timeout is a limit (not "N min left"), an
open-ended snooze has no "next change", a slot is named "RTX 4090" or "CPU" (never "GPU cpu" or a
UUID). `hostapp status` is run as a process against a real control socket."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hostapp.control.status import NodeSnapshot, NodeState, SlotSnapshot, duration_words
from hostapp.control.transport import ControlServer, Emit
from hostapp.gui.viewmodels import JobProgress
from hostapp.schedule import policy as pol
from hostapp.schedule.grid import Preset

GPU = "GPU-5f1c0000-0000-0000-0000-000000004090"
NOW = datetime(2026, 11, 30, 23, 15).astimezone()  # a weeknight: the preset turns off at 08:00


def test_durations_read_as_words() -> None:
    assert [duration_words(s) for s in (0, 45, 240, 270, 3600, 7500)] == [
        "0 s",
        "45 s",
        "4 min",
        "4 min 30 s",
        "1 h",
        "2 h 5 min",
    ]


def test_a_one_second_job_reads_as_elapsed_against_its_limit_not_time_left() -> None:
    job = JobProgress("j-1", started_at=1000.0, timeout_seconds=240)
    assert job.running_text(1001.0) == "running 1 s (time limit 4 min)"
    assert JobProgress("j-2").running_text(5.0) == "running"


def test_an_open_ended_snooze_has_no_next_change_a_timed_one_ends_at_its_end() -> None:
    policy = pol.AvailabilityPolicy(grid=Preset.NIGHTS_AND_WEEKENDS.grid())
    plain = pol.evaluate(policy, pol.Inputs(), NOW)
    assert plain.shown_next_change is not None and plain.shown_next_change.hour == 8
    forever = pol.evaluate(pol.snooze_indefinitely(policy), pol.Inputs(), NOW)
    assert forever.headline == "Snoozed indefinitely"
    assert forever.next_change is not None and forever.shown_next_change is None
    hour = pol.evaluate(pol.snooze_for(policy, NOW, timedelta(hours=1)), pol.Inputs(), NOW)
    assert hour.shown_next_change == NOW + timedelta(hours=1)


class FakeNodeAnswer:
    """The control socket's peer: answers `status` with a fixed snapshot (the CLI is what is tested)."""

    def __init__(self, snapshot: NodeSnapshot) -> None:
        self.snapshot = snapshot

    def handle_control(self, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
        return self.snapshot.model_dump(mode="json")


def test_cli_status_names_slots_by_model_and_cpu_never_gpu_cpu(hostapp_home: Path) -> None:
    from hostapp.config.paths import default_paths

    paths = default_paths().ensure()
    snapshot = NodeSnapshot(
        state=NodeState.WORKING,
        headline="Working — job j-1 (time limit 4 min)",
        slots=[
            SlotSnapshot(gpu=GPU, gpu_name="NVIDIA GeForce RTX 4090", state=NodeState.WORKING, headline="Working"),
            SlotSnapshot(gpu="GPU-unknown-model", state=NodeState.WAITING, headline="Waiting for work"),
            SlotSnapshot(gpu=None, state=NodeState.WAITING, headline="Waiting for work"),
        ],
    )
    server = ControlServer(paths.control_socket, FakeNodeAnswer(snapshot))
    server.start()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "hostapp", "status"],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=60,
            check=False,
        )
    finally:
        server.stop()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "  RTX 4090: Working" in lines
    assert "  GPU-unknown-model: Waiting for work" in lines  # no model known: the UUID is all there is
    assert "  CPU: Waiting for work" in lines
    assert "GPU cpu" not in out.stdout and GPU not in out.stdout
