"""The node supervisor against the real Docker engine, with a locally built STAND-IN for the
official Nosana node image (busybox: it prints a banner and idles, or crashes on start when told).
The stand-in proves the lifecycle (start, crash, back-off, restart, give up, stop, log tail), not
anything about the real node's behaviour. The clock is a counter the test advances, so the
back-off is checked without waiting.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from hostapp.nosana.supervisor import NodeSupervisor, SupervisorError
from tests.support import wait_for

pytestmark = [pytest.mark.nosana, pytest.mark.docker]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make(docker_client: Any, stand_in_image: str) -> Iterator[Any]:
    made: list[NodeSupervisor] = []

    def factory(**options: Any) -> NodeSupervisor:
        supervisor = NodeSupervisor(
            docker_client, image=stand_in_image, name=f"hostapp-test-nosana-{uuid.uuid4().hex[:8]}", **options
        )
        made.append(supervisor)
        return supervisor

    yield factory
    for supervisor in made:
        supervisor.stop(timeout=1)


def exited(docker_client: Any, name: str) -> bool:
    return bool(docker_client.containers.get(name).status == "exited")


def test_start_crash_backoff_restart_and_stop(make: Any, docker_client: Any) -> None:
    clock = Clock()
    node = make(clock=clock, first_delay=2.0, max_delay=300.0, stable_seconds=600.0)
    assert node.start().state == "running"
    wait_for(lambda: "stand-in: in the market queue" in node.log_tail(), timeout=30)
    assert node.poll().state == "running"
    first_id = docker_client.containers.get(node.name).id

    docker_client.containers.get(node.name).kill()  # the node dies under us
    wait_for(lambda: exited(docker_client, node.name), timeout=30)
    status = node.poll()
    assert (status.state, status.restarts, status.last_exit_code, status.restart_in) == ("backing-off", 1, 137, 2.0)
    assert "exited with code 137; restart 1 in 2 s" in status.detail
    clock.now += 1.5
    assert node.poll().state == "backing-off"  # not before its time
    clock.now += 0.5
    assert node.poll().state == "running"
    assert docker_client.containers.get(node.name).id != first_id

    clock.now += 600  # a long healthy run forgets the earlier crash: the next delay is the first again
    assert node.poll().state == "running"
    wait_for(lambda: "stand-in: in the market queue" in node.log_tail(), timeout=30)
    docker_client.containers.get(node.name).kill()
    wait_for(lambda: exited(docker_client, node.name), timeout=30)
    assert node.poll().restart_in == 2.0

    stopped = node.stop(timeout=5)
    assert stopped.state == "stopped" and node.log_tail() == []
    assert not docker_client.containers.list(all=True, filters={"name": node.name})
    assert node.poll().state == "stopped"  # stopped means stopped: no restart


def test_a_crash_loop_backs_off_doubling_to_the_cap_then_gives_up(make: Any, docker_client: Any) -> None:
    clock = Clock()
    node = make(clock=clock, first_delay=2.0, max_delay=5.0, max_restarts=3, environment={"STANDIN_MODE": "crash"})
    node.start()
    delays = []
    for _ in range(3):
        wait_for(lambda: exited(docker_client, node.name), timeout=30)
        status = node.poll()
        assert status.state == "backing-off" and status.last_exit_code == 3
        delays.append(status.restart_in)
        clock.now += status.restart_in
        assert node.poll().state == "running"
    assert delays == [2.0, 4.0, 5.0]
    wait_for(lambda: exited(docker_client, node.name), timeout=30)
    failed = node.poll()
    assert failed.state == "failed" and failed.detail == "the node exited with code 3 and was restarted 3 times"
    assert "stand-in: failing on start" in node.log_tail()  # the log stays readable after giving up


def test_a_missing_image_is_one_clear_error(make: Any) -> None:
    node = make()
    node.image = "hostapp-test/no-such-nosana-node:0"
    with pytest.raises(SupervisorError, match=r"^the Nosana node image hostapp-test/no-such-nosana-node:0 is not on"):
        node.start()
    assert node.status().state == "failed"
