"""Health checks from the node against the demo service in a real container on its internal bridge."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from hostapp.services.expose import HttpCheck, ServicePort, WebSocketCheck
from hostapp.services.health import READY, STARTING, UNHEALTHY, HealthMonitor, HealthPolicy, run_check

from .conftest import Container, remove_service, start_service

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HEALTH = HttpCheck("/health", "GET", 200, continuous=True)


def test_http_checks_method_headers_body_and_status(service: Container) -> None:
    async def checks() -> list[tuple[bool, str]]:
        cases = [
            HttpCheck("/health", "GET", 200),
            HttpCheck("/echo", "POST", 200, (("Content-Type", "application/json"),), b'{"ping": true}'),
            HttpCheck("/missing", "GET", 404),
            HttpCheck("/", "GET", 201),  # wrong status
            WebSocketCheck("hostapp-demo ready"),
            WebSocketCheck("something else"),
        ]
        outcomes = [await run_check(check, service.address, 8080, 5) for check in cases]
        return [(o.ok, o.detail) for o in outcomes]

    results = asyncio.run(checks())
    assert [ok for ok, _ in results] == [True, True, True, False, False, False]
    assert "status 200, expected 201" in results[3][1]
    # the websocket check upgrades on /: the demo server upgrades on /ws only, so both fail
    assert "no upgrade" in results[4][1]
    refused = asyncio.run(run_check(HEALTH, service.address, 9999, 2))
    assert not refused.ok and ("Connection" in refused.detail or "Errno" in refused.detail)


def test_a_health_check_gates_readiness(docker_client: Any, service_image: str) -> None:
    """The server starts listening after 1.5 s: the service is `starting` until then, `ready` after."""
    container = start_service(docker_client.api, service_image, "8080", {"START_DELAY": "1.5"})
    try:
        states: list[tuple[float, str]] = []
        monitor = HealthMonitor(
            container.address,
            [ServicePort(8080, "web", (HEALTH,))],
            HealthPolicy(interval_seconds=0.5, timeout_seconds=1, retries=1, startup_seconds=20),
            on_change=lambda state, _: states.append((time.monotonic(), state)),
        )
        started = time.monotonic()
        assert asyncio.run(monitor.wait_ready()) is True
        assert [state for _, state in states] == [STARTING, READY]
        assert states[-1][0] - started >= 1.4
        assert monitor.record()["state"] == READY
    finally:
        remove_service(container)


def test_a_service_that_never_passes_is_unhealthy(service: Container) -> None:
    monitor = HealthMonitor(
        service.address,
        [ServicePort(8080, None, (HttpCheck("/", "GET", 418),))],
        HealthPolicy(interval_seconds=0.2, timeout_seconds=1, retries=1, startup_seconds=1),
    )
    assert asyncio.run(monitor.wait_ready()) is False
    assert monitor.state == UNHEALTHY and "not ready after 1 s" in monitor.history[-1][2]


def test_a_failing_continuous_check_marks_it_unhealthy_after_the_retry_budget(service: Container) -> None:
    policy = HealthPolicy(interval_seconds=0.2, timeout_seconds=1, retries=2, startup_seconds=10)
    monitor = HealthMonitor(service.address, [ServicePort(8080, None, (HEALTH,))], policy)

    async def scenario() -> list[str]:
        task = asyncio.create_task(monitor.run())
        seen = []
        while monitor.state != READY:
            await asyncio.sleep(0.05)
        seen.append(monitor.state)
        await asyncio.to_thread(service.exec, "touch", "/tmp/unhealthy")  # the server answers 503 from now on
        failing_since = time.monotonic()
        while monitor.state != UNHEALTHY:
            await asyncio.sleep(0.05)
            assert time.monotonic() - failing_since < 10
        seen.append(monitor.state)
        # the retry budget: 2 failures are tolerated, the 3rd marks it (checks 0.2 s apart: 0.4 s at least)
        assert time.monotonic() - failing_since >= 0.35
        await asyncio.to_thread(service.exec, "rm", "/tmp/unhealthy")
        while monitor.state != READY:
            await asyncio.sleep(0.05)
        seen.append(monitor.state)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return seen

    assert asyncio.run(scenario()) == [READY, UNHEALTHY, READY]
    assert [entry["state"] for entry in monitor.record()["history"]] == [STARTING, READY, UNHEALTHY, READY]  # type: ignore[index]
    assert "3 failures in a row" in monitor.history[2][2] and "status 503" in monitor.history[2][2]
