"""The reaper removes batches in order, on its own thread, and survives a failing removal."""

from __future__ import annotations

import threading
import time

from hostapp.jobs.reaper import Reaper


def test_batches_are_removed_in_order_off_the_callers_thread() -> None:
    done: list[tuple[str, str]] = []
    threads: set[str] = set()
    gate = threading.Event()

    def remove(objects: list[tuple[str, str]]) -> None:
        gate.wait(10)
        threads.add(threading.current_thread().name)
        done.extend(objects)

    reaper = Reaper(remove, name="test-reaper")
    reaper.submit([("container", "a"), ("volume", "a-work")])
    reaper.submit([("container", "b")])
    reaper.submit([])  # nothing to do: not queued
    assert reaper.pending() == 2 and not reaper.drain(0.05)  # submit does not wait for the removal
    gate.set()
    assert reaper.drain(10)
    assert done == [("container", "a"), ("volume", "a-work"), ("container", "b")]
    assert threads == {"test-reaper"}


def test_a_failing_removal_does_not_stop_the_next() -> None:
    done: list[str] = []

    def remove(objects: list[tuple[str, str]]) -> None:
        if objects[0][1] == "bad":
            raise RuntimeError("engine said no")
        done.append(objects[0][1])

    reaper = Reaper(remove)
    reaper.submit([("container", "bad")])
    reaper.submit([("container", "good")])
    assert reaper.drain(10) and done == ["good"] and reaper.pending() == 0


def test_removal_waits_for_the_next_start_or_the_hold_time() -> None:
    done: list[str] = []
    reaper = Reaper(lambda objects: done.append(objects[0][1]), hold_seconds=30)
    reaper.submit([("container", "b")])
    time.sleep(0.2)
    assert done == [] and reaper.pending() == 1  # held: the next container has not started
    reaper.started()
    deadline = time.monotonic() + 10
    while reaper.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert done == ["b"]
    quick = Reaper(lambda objects: done.append(objects[0][1]), hold_seconds=0.1)
    quick.submit([("container", "c")])
    time.sleep(0.5)
    assert done == ["b", "c"]  # no next start: removed after the hold time
    reaper.submit([("container", "e")])
    assert reaper.drain(5) and done[-1] == "e"  # a drain (exit, tests) does not hold back
