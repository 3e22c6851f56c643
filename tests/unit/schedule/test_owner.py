"""PolicyOwner: read-modify-write on the newest policy, across owners (processes) too; file checks.

Real files, real threads, the real event bus. Two owners on one file stand for two processes (the
tray and `hostapp node`): each has its own memory, and they share only the file and its lock.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hostapp.events import Event, EventBus
from hostapp.schedule.grid import Cell, Preset, WeeklyGrid
from hostapp.schedule.owner import CHANGED_TOPIC, PolicyOwner
from hostapp.schedule.policy import AvailabilityPolicy, Rules, snooze_for, snooze_indefinitely
from hostapp.schedule.policy_file import read_policy_file, save_policy
from tests.support import wait_for

NOW = datetime(2025, 1, 7, 12, 0, tzinfo=UTC)
OFF = WeeklyGrid.filled(Cell.OFF)


def recorder(bus: EventBus) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []

    def record(event: Event) -> None:
        seen.append((event.data["source"], event.data["revision"]))

    bus.subscribe(CHANGED_TOPIC, record)
    return seen


def test_a_pause_on_a_stale_owner_keeps_the_newer_edit(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    node_bus, gui_bus = EventBus(), EventBus()
    node_events, gui_events = recorder(node_bus), recorder(gui_bus)
    node, gui = PolicyOwner(path, node_bus), PolicyOwner(path, gui_bus)
    assert node.revision == gui.revision == 0

    gui.update(lambda p: dataclasses.replace(p, grid=OFF), "gui")
    # The node has not looked at the file since: its pause must apply to the edit, not to its copy.
    node.update(snooze_indefinitely, "control")

    saved = read_policy_file(path)
    assert saved.grid == OFF and saved.snooze is not None
    assert gui_events == [("gui", 1)]
    assert node_events == [("file", 1), ("control", 2)]  # it saw the edit, then made its change
    assert gui.current() == saved and gui_events[-1] == ("file", 2)


def test_concurrent_changes_from_two_owners_all_survive(tmp_path: Path) -> None:
    """Each side increments its own field 150 times; a lost update would leave a count short."""
    path = tmp_path / "schedule.json"
    save_policy(path, AvailabilityPolicy(rules=Rules(idle_minutes=0, foreign_process_grace_seconds=0)))
    owners = PolicyOwner(path), PolicyOwner(path)
    rounds = 150
    start = threading.Barrier(2)

    def bump(owner: PolicyOwner, field: str) -> None:
        start.wait()
        for _ in range(rounds):
            owner.update(
                lambda p: dataclasses.replace(p, rules=p.rules.model_copy(update={field: getattr(p.rules, field) + 1})),
                "gui",
            )

    threads = [
        threading.Thread(target=bump, args=(owners[0], "idle_minutes")),
        threading.Thread(target=bump, args=(owners[1], "foreign_process_grace_seconds")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    rules = read_policy_file(path).rules
    assert (rules.idle_minutes, rules.foreign_process_grace_seconds) == (rounds, rounds)


def test_a_watched_file_edit_is_noticed_without_a_read(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    bus = EventBus()
    events = recorder(bus)
    owner = PolicyOwner(path, bus, watch_seconds=0.05)
    unwatch = owner.watch()
    try:
        path.write_text('{"version": 1, "grid": "when_idle"}')  # a hand edit: no owner involved
        wait_for(lambda: events, timeout=10, what="the watch noticed the edit")
        assert events == [("file", 1)]
        assert owner.current().grid == Preset.WHEN_IDLE.grid()
    finally:
        unwatch()
    unwatch()  # a second call is harmless
    path.write_text('{"version": 1, "grid": "always"}')
    assert events == [("file", 1)]  # nobody watches now: nothing is published until someone reads
    assert owner.current().grid == Preset.ALWAYS.grid()
    assert events == [("file", 1), ("file", 2)]


def test_a_rewrite_with_the_same_stat_is_still_noticed(tmp_path: Path) -> None:
    """A file system with coarse mtimes may show an in-place rewrite with an unchanged stat."""
    import os

    path = tmp_path / "schedule.json"
    path.write_text('{"version": 1, "grid": "when_idle"}')
    owner = PolicyOwner(path)
    before = path.stat()
    with path.open("r+") as handle:  # same inode, same size, then the old mtime put back
        handle.write('{"version": 1, "grid": "always"}   ')
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert owner.current().grid == Preset.ALWAYS.grid()


def test_a_broken_file_keeps_the_schedule_in_force_and_its_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "schedule.json"
    bus = EventBus()
    events = recorder(bus)
    owner = PolicyOwner(path, bus)
    owner.update(lambda p: dataclasses.replace(p, grid=OFF), "gui")
    path.write_text('{"version": 1, "grid": "sometimes"}')  # a typo in a hand edit
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert owner.current().grid == OFF
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unknown preset 'sometimes'" in warnings[0]

    owner.update(snooze_indefinitely, "control")  # saved over the broken file…
    assert read_policy_file(path).grid == OFF
    assert (tmp_path / "schedule.json.broken").read_text() == '{"version": 1, "grid": "sometimes"}'  # …kept
    assert events == [("gui", 1), ("control", 2)]


def test_a_broken_file_at_start_is_the_default_policy(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    path.write_text("{not json")
    assert PolicyOwner(path).current() == AvailabilityPolicy()


def test_a_change_that_changes_nothing_writes_and_publishes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    bus = EventBus()
    events = recorder(bus)
    owner = PolicyOwner(path, bus)
    policy = snooze_for(AvailabilityPolicy(), NOW, timedelta(hours=1))
    assert owner.replace(policy, "node") == policy
    mtime = path.stat().st_mtime_ns
    assert owner.replace(policy, "node") == policy
    assert path.stat().st_mtime_ns == mtime and events == [("node", 1)] and owner.revision == 1
