"""Composition root: builds and wires the core services. GUI, CLI, node and tests all use it."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hostapp.config.paths import AppPaths, default_paths
from hostapp.config.settings import Settings, load_settings, save_settings
from hostapp.events import EventBus

if TYPE_CHECKING:
    from hostapp.store import Store


@dataclass
class AppContext:
    """Paths and settings: cheap, enough for commands that touch nothing else."""

    paths: AppPaths
    settings: Settings
    settings_problem: str | None = None

    def save_settings(self) -> None:
        save_settings(self.paths.settings_file, self.settings)


def load_context(paths: AppPaths | None = None) -> AppContext:
    paths = (paths or default_paths()).ensure()
    loaded = load_settings(paths.settings_file)
    return AppContext(paths, loaded.settings, loaded.problem)


@dataclass
class Services:
    """The long-lived core: built once per process, shared by the GUI, node and CLI commands.

    Services are created on first use so a command pays only for what it touches.
    """

    context: AppContext
    bus: EventBus = field(default_factory=EventBus)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def paths(self) -> AppPaths:
        return self.context.paths

    @property
    def settings(self) -> Settings:
        return self.context.settings

    @functools.cached_property
    def store(self) -> Store:
        from hostapp.store import Store

        with self._lock:
            return Store(self.paths.database)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()


def build_services(paths: AppPaths | None = None, setup_logs: bool = True) -> Services:
    context = load_context(paths)
    if setup_logs:
        from hostapp.logs import setup_logging

        setup_logging(context.paths.logs)
    return Services(context)
