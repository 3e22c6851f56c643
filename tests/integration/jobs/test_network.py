"""A job with network gets its own bridge; with the installer's firewall rules the host is unreachable."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hostapp.jobs.definition import GridJob, parse_job_definition
from hostapp.jobs.sandbox import FIREWALL_RULES

pytestmark = pytest.mark.docker

PROBE = (
    "ls /sys/class/net; gw=$(ip route | awk '/default/ {print $3}'); echo gateway=$gw; "
    "if echo ping | nc -w 2 $gw {port} >/dev/null 2>&1; then echo host=reached; else echo host=blocked; fi"
)


@pytest.fixture
def host_listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("0.0.0.0", 0))  # every host address, the bridge gateway included
    server.listen(5)
    server.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


@pytest.fixture
def firewall() -> Iterator[None]:
    """The rules the installer sets up (root). Skipped where this test cannot manage iptables."""
    if (
        shutil.which("iptables") is None
        or subprocess.run(["iptables", "-S", "DOCKER-USER"], capture_output=True).returncode
    ):
        pytest.skip("needs root and iptables with the DOCKER-USER chain (the installer's firewall rules)")
    added = []
    for rule in FIREWALL_RULES:
        subprocess.run(["iptables", "-I", *rule], check=True)
        added.append(rule)
    yield
    for rule in added:
        subprocess.run(["iptables", "-D", *rule], check=False)


def _run(make_runner: Any, port: int) -> Any:
    runner, _ = make_runner()
    definition = parse_job_definition(
        {
            "ops": [
                {
                    "type": "container/run",
                    "id": "probe",
                    "args": {"image": "hostapp-test/busybox:latest", "cmd": PROBE.replace("{port}", str(port))},
                }
            ]
        }
    )
    return runner.run(GridJob("net-" + str(port), 1, 1, 60, definition, network=True))


def test_job_network_is_its_own_bridge_and_host_is_blocked(  # type: ignore[no-untyped-def]
    make_runner, host_listener, firewall
) -> None:
    result = _run(make_runner, host_listener)
    assert result.status == "succeeded", result.reason
    lines = result.ops[0].log_tail.splitlines()
    assert "eth0" in lines  # it has network
    assert "host=blocked" in lines, lines


def test_without_firewall_rules_the_gateway_is_reachable_as_documented(  # type: ignore[no-untyped-def]
    make_runner, host_listener
) -> None:
    """docs/sandbox.md says so: without the installer's rules the host's own services are reachable."""
    present = shutil.which("iptables") and not subprocess.run(["iptables", "-C", *FIREWALL_RULES[0]]).returncode
    if present:
        pytest.skip("this machine has the installer's firewall rules")
    result = _run(make_runner, host_listener)
    assert result.status == "succeeded", result.reason
    assert "host=reached" in result.ops[0].log_tail.splitlines()
