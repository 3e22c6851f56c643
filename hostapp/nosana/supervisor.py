"""Supervises the official Nosana node as a container: start, stop, restart with back-off, log tail.

The node software (Nosana's own CLI image) does the market work; hostapp only keeps it running.
Docker's own restart policy is not used, so that hostapp sees every crash, can show it, and
spaces restarts out: the delay doubles after each crash up to a cap, and resets once the node has
run `stable_seconds` without crashing. `poll()` is one supervision step (the caller's loop or a
timer calls it); the clock is injectable so the back-off is tested without waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

# The official node image; configurable because Nosana publishes it under its own names and tags.
DEFAULT_IMAGE = "nosana/nosana-cli:latest"
CONTAINER_NAME = "hostapp-nosana-node"
LABEL = "io.hostapp.role"

State = Literal["stopped", "running", "backing-off", "failed"]


class SupervisorError(Exception):
    """One line for the user: what failed about the node container and what to do."""


@dataclass(frozen=True)
class NodeStatus:
    state: State
    image: str
    restarts: int  # crashes restarted since the user last pressed start
    last_exit_code: int | None
    restart_in: float | None  # seconds until the next restart while backing off
    detail: str = ""


@dataclass
class _Crash:
    exit_code: int
    restart_at: float


@dataclass
class NodeSupervisor:
    docker: Any  # docker.DockerClient
    image: str = DEFAULT_IMAGE
    command: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)  # host path -> {"bind", "mode"}
    name: str = CONTAINER_NAME
    first_delay: float = 2.0
    max_delay: float = 300.0
    stable_seconds: float = 600.0
    max_restarts: int | None = None  # None: keep trying (with the capped delay)
    clock: Callable[[], float] = time.monotonic
    _wanted: bool = False
    _restarts: int = 0
    _delay: float = 0.0
    _started_at: float = 0.0
    _crash: _Crash | None = None
    _last_exit: int | None = None
    _failed: str = ""

    # -- user actions ----------------------------------------------------------------
    def start(self) -> NodeStatus:
        """Start the node (a fresh container) and keep it running until stop()."""
        self._wanted, self._restarts, self._delay, self._crash, self._failed = True, 0, self.first_delay, None, ""
        self._launch()
        return self.status()

    def stop(self, timeout: int = 30) -> NodeStatus:
        """Stop and remove the node container; gives the node `timeout` seconds to leave cleanly."""
        self._wanted, self._crash = False, None
        container = self._container()
        if container is not None:
            try:
                container.stop(timeout=timeout)
                container.remove(force=True)
            except Exception as exc:  # docker.errors.* : one line, never a traceback in the tray
                raise SupervisorError(f"could not stop the Nosana node container: {_short(exc)}") from None
        return self.status()

    def ensure_running(self) -> NodeStatus:
        """Keep the node up without disturbing it: one poll step while supervised; else adopt a
        container already running under this name (hostapp restarted while the node held a job:
        relaunching would abandon that job), or start one."""
        if self._wanted or self._failed:
            return self.poll()
        container = self._container()
        if container is not None and container.status == "running":
            self._wanted, self._restarts, self._delay, self._crash = True, 0, self.first_delay, None
            self._started_at = self.clock()
            return self.status()
        return self.start()

    def restart(self) -> NodeStatus:
        self.stop()
        return self.start()

    # -- supervision -----------------------------------------------------------------
    def poll(self) -> NodeStatus:
        """One step: notice a crash, schedule its restart with back-off, restart when due."""
        if not self._wanted or self._failed:
            return self.status()
        now = self.clock()
        if self._crash is not None:
            if now >= self._crash.restart_at:
                self._crash = None
                self._launch()
            return self.status()
        container = self._container()
        running = container is not None and container.status == "running"
        if running:
            if now - self._started_at >= self.stable_seconds:
                self._delay = self.first_delay  # it has been fine for a while: forget old crashes
            return self.status()
        exit_code = _exit_code(container)
        self._last_exit = exit_code
        if self.max_restarts is not None and self._restarts >= self.max_restarts:
            self._failed = f"the node exited with code {exit_code} and was restarted {self._restarts} times"
            log.warning("Nosana node: giving up: %s", self._failed)
            return self.status()
        self._restarts += 1
        self._crash = _Crash(exit_code, now + self._delay)
        log.warning("Nosana node exited with code %s; restarting in %.0f s", exit_code, self._delay)
        self._delay = min(self._delay * 2, self.max_delay)
        return self.status()

    def status(self) -> NodeStatus:
        if self._failed:
            return NodeStatus("failed", self.image, self._restarts, self._last_exit, None, self._failed)
        if self._crash is not None:
            wait = max(0.0, self._crash.restart_at - self.clock())
            detail = f"exited with code {self._crash.exit_code}; restart {self._restarts} in {wait:.0f} s"
            return NodeStatus("backing-off", self.image, self._restarts, self._last_exit, wait, detail)
        if self._wanted:
            return NodeStatus("running", self.image, self._restarts, self._last_exit, None)
        return NodeStatus("stopped", self.image, self._restarts, self._last_exit, None)

    def log_tail(self, lines: int = 200) -> list[str]:
        """The last lines the node printed (empty when there is no container)."""
        container = self._container()
        if container is None:
            return []
        raw: bytes = container.logs(tail=lines)
        return raw.decode("utf-8", errors="replace").splitlines()

    # -- internals -------------------------------------------------------------------
    def _container(self) -> Any | None:
        import docker.errors

        try:
            container = self.docker.containers.get(self.name)
        except docker.errors.NotFound:
            return None
        container.reload()
        return container

    def _launch(self) -> None:
        import docker.errors

        old = self._container()
        if old is not None:
            old.remove(force=True)  # a crashed or leftover node: its log was shown, start clean
        try:
            # create + start, not run: run() would pull a missing image behind the user's back.
            self.docker.containers.create(
                self.image,
                self.command,
                name=self.name,
                environment=self.environment,
                volumes=self.volumes,
                labels={LABEL: "nosana-node"},
            ).start()
        except docker.errors.ImageNotFound:
            self._failed = f"the Nosana node image {self.image} is not on this machine: pull it, or set its name"
        except docker.errors.APIError as exc:
            self._failed = f"the Nosana node container did not start: {_short(exc)}"
        if self._failed:
            self._wanted = False
            raise SupervisorError(self._failed)
        self._started_at = self.clock()


def _exit_code(container: Any | None) -> int:
    if container is None:
        return -1  # removed behind our back: treat as a crash
    return int(container.attrs.get("State", {}).get("ExitCode", -1))


def _short(exc: BaseException) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    return str(text).splitlines()[0] if text else type(exc).__name__
