from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from hostapp.config.paths import AppPaths
from hostapp.config.settings import JobLimits
from hostapp.events import Event, EventBus
from hostapp.jobs.runner import JobRunner
from hostapp.store import Store


class Recorder:
    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe("*", self.events.append)

    def topics(self) -> list[str]:
        return [e.topic for e in self.events]

    def of(self, topic: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.topic == topic]


@pytest.fixture
def store(app_paths: AppPaths) -> Iterator[Store]:
    db = Store(app_paths.database)
    yield db
    db.close()


@pytest.fixture
def make_runner(docker_client: Any, app_paths: AppPaths, store: Store, busybox_image: str, python_image: str):  # type: ignore[no-untyped-def]
    """A runner with its own instance id (tests share the engine) and small limits."""
    instance = f"test-{secrets.token_hex(4)}"
    made: list[JobRunner] = []

    def make(**limits: Any) -> tuple[JobRunner, Recorder]:
        bus = EventBus()
        settings = {"stop_grace_seconds": 1, **limits}
        runner = JobRunner(docker_client, JobLimits(**settings), app_paths, bus, store, instance)
        made.append(runner)
        return runner, Recorder(bus)

    yield make
    for container in docker_client.containers.list(all=True, filters={"label": f"hostapp.instance={instance}"}):
        container.remove(force=True)
