"""The one address a service tunnel may connect to: a container on the job's own bridge, never the host side."""

from __future__ import annotations

import pytest

from hostapp.services.network import destination_problem

SUBNET, GATEWAY = ["172.18.0.0/16"], ["172.18.0.1"]


def test_a_container_on_the_job_bridge_is_the_destination() -> None:
    assert destination_problem("172.18.0.2", SUBNET, GATEWAY) is None


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("172.18.0.1", "host side"),  # the bridge's gateway is the host itself
        ("172.17.0.2", "not on the job's bridge"),  # another network's container
        ("192.168.1.10", "not on the job's bridge"),  # the LAN
        ("127.0.0.1", "not on the job's bridge"),
    ],
)
def test_everything_else_is_refused(address: str, why: str) -> None:
    problem = destination_problem(address, SUBNET, GATEWAY)
    assert problem is not None and why in problem
    assert "not on the job's bridge" in (destination_problem("172.18.0.2", [], []) or "")
