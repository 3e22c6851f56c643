"""The node's typed client: what the tray (and tests) use to talk to the node process.

`NodeClient` names every command the node serves (hostapp/node/daemon.py) with its arguments and
answer; `EventStream` follows the node's events on a thread and hands each to the tray's bus,
reconnecting when the node comes back; `NodeSupervisor` starts a node when none answers, notices
when it dies, restarts it once on its own (with back-off) and otherwise waits to be asked.
Nothing here imports the node: a tray holds this, the bus and the shapes, never a node, runner,
grid or chain object.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hostapp.control.status import NodeSnapshot, NodeState, Problem
from hostapp.control.transport import ControlError, NotRunning, call

log = logging.getLogger(__name__)

EVENT_READ_TIMEOUT = 15.0  # the node sends a keep-alive every 5 s: three missed means it is gone
QUICK_TIMEOUT = 10.0  # status, schedule, settings, earnings: local reads
SLOW_TIMEOUT = 120.0  # wallet operations: the keyring may ask, the chain may be slow
NODE_START_TIMEOUT = 30.0  # from spawning `hostapp node` to its control socket answering
NODE_GONE = "The node is not running"
NODE_GONE_FIX = "choose Start in the tray menu to start it again (its log: Diagnostics → Open logs)"
AUTO_RESTARTS = 1  # restarts without asking, per crash window
CRASH_WINDOW_SECONDS = 600.0  # a node that dies again within this is left stopped until asked
RESTART_BACKOFF_SECONDS = 2.0


def hostapp_argv(*args: str) -> list[str]:
    """The command line that runs `hostapp <args>` with this installation (a frozen build or a venv)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "hostapp", *args]


class NodeClient:
    """One method per control command; each opens its own short connection (thread-safe)."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path

    def call(
        self,
        command: str,
        args: dict[str, Any] | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = QUICK_TIMEOUT,
    ) -> Any:
        return call(self.socket_path, command, args or {}, timeout=timeout, on_event=on_event)

    def answers(self) -> bool:
        try:
            self.call("status", timeout=3.0)
        except ControlError:
            return False
        return True

    # -- the node ------------------------------------------------------------------------------
    def status(self, timeout: float | None = QUICK_TIMEOUT) -> NodeSnapshot:
        return NodeSnapshot.model_validate(self.call("status", timeout=timeout))

    def pause(self, choice: str) -> str:
        return str(self.call("pause", {"choice": choice})["headline"])

    def resume(self) -> str:
        return str(self.call("resume")["headline"])

    def shutdown(self) -> None:
        self.call("shutdown")

    # -- the schedule ----------------------------------------------------------------------------
    def schedule(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.call("schedule.show")
        return answer

    def set_schedule(self, document: dict[str, Any], parts: list[str] | None = None) -> str:
        args: dict[str, Any] = {"schedule": document}
        if parts is not None:
            args["parts"] = parts
        return str(self.call("schedule.set", args)["headline"])

    # -- settings, jobs, storage -------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        value: dict[str, Any] = self.call("settings.get")["value"]
        return value

    def save_settings(self, document: dict[str, Any]) -> dict[str, Any]:
        value: dict[str, Any] = self.call("settings.set", {"settings": document})["value"]
        return value

    def job_history(self, search: str, limit: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.call("jobs.history", {"search": search, "limit": limit})["value"]
        return rows

    def storage_usage(self) -> dict[str, Any]:
        value: dict[str, Any] = self.call("storage.usage")["value"]
        return value

    def grid_price(self) -> dict[str, Any] | None:
        """The rate fields of the node's grid's /v1/health (`token_price`, `offered_price_per_second`),
        asked by the node; None when no node runs (the embedded grid is not started either). A grid that
        does not answer raises ControlError with the node's reason."""
        try:
            value: dict[str, Any] | None = self.call("grid.price", timeout=SLOW_TIMEOUT)["value"]
        except NotRunning:
            return None
        return value

    # -- the wallet and the ledger -------------------------------------------------------------------
    def wallet(self, command: str, **args: Any) -> Any:
        """`wallet.<command>`; a refusal is a ValueError with the node's one-line message."""
        try:
            return self.call(f"wallet.{command}", args, timeout=SLOW_TIMEOUT)["value"]
        except NotRunning:
            raise ValueError(f"{NODE_GONE}: {NODE_GONE_FIX}") from None
        except ControlError as exc:
            raise ValueError(str(exc)) from None

    def earnings_call(
        self, command: str, args: dict[str, Any], on_event: Callable[[dict[str, Any]], None] | None
    ) -> Any:
        return self.call(command, args, on_event=on_event, timeout=QUICK_TIMEOUT)


def stopped_snapshot(reason: str = NODE_GONE, fix: str = NODE_GONE_FIX) -> NodeSnapshot:
    problem = Problem(reason=reason, fix=fix)
    return NodeSnapshot(state=NodeState.STOPPED, headline=reason, reason=reason, problem=problem)


class EventStream:
    """Follows the node's `events` on a thread; each event goes to `deliver(topic, data)`.

    `on_link(True/False)` is called when the stream (re)connects and when it breaks. Reconnects
    every `retry_seconds` until `close()`.
    """

    def __init__(
        self,
        client: NodeClient,
        deliver: Callable[[str, dict[str, Any]], None],
        on_link: Callable[[bool], None],
        retry_seconds: float = 1.0,
    ) -> None:
        self._client = client
        self._deliver = deliver
        self._on_link = on_link
        self._retry = retry_seconds
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="node-events", daemon=True)
        self.connected = False

    def start(self) -> None:
        if self._thread.ident is None and not self._closed.is_set():  # a thread starts once
            self._thread.start()

    def close(self, wait: float = 0.0) -> None:
        """Stops following; with `wait`, until the thread ended (it ends when the node ends the stream,
        or at the next line or keep-alive)."""
        self._closed.set()
        if wait and self._thread.ident is not None:
            self._thread.join(timeout=wait)

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                self._client.call("events", on_event=self._received, timeout=EVENT_READ_TIMEOUT)
            except ControlError as exc:
                log.debug("event stream ended: %s", exc)
            except Exception:
                log.exception("event stream failed")
            if self.connected:
                self.connected = False
                self._on_link(False)
            self._closed.wait(self._retry)

    def _received(self, message: dict[str, Any]) -> None:
        if self._closed.is_set():
            raise ControlError("closed")  # ends the read: the tray is quitting
        if not self.connected:
            self.connected = True
            self._on_link(True)
        topic, data = message.get("topic"), message.get("data")
        if isinstance(topic, str) and isinstance(data, dict):
            self._deliver(topic, data)


class NodeSupervisor:
    """Keeps a node running for the tray: starts one when none answers, restarts a crashed one once."""

    def __init__(self, client: NodeClient, log_path: Path, *, argv: list[str] | None = None) -> None:
        self.client = client
        self.log_path = log_path
        self.argv = argv or hostapp_argv("node", "--wait-for-wallet")
        self._lock = threading.Lock()
        self._restarts: list[float] = []  # monotonic times of automatic restarts
        self.process: subprocess.Popen[bytes] | None = None
        self.held = False  # the user stopped the node (or the tray is quitting): no restart on its own

    def hold(self) -> None:
        self.held = True

    def ensure_running(self) -> bool:
        """Starts a node unless one answers; True when one answers now. Blocks up to NODE_START_TIMEOUT."""
        self.held = False
        with self._lock:
            if self.client.answers():
                return True
            self._spawn()
            deadline = time.monotonic() + NODE_START_TIMEOUT
            while time.monotonic() < deadline:
                if self.client.answers():
                    return True
                if self.process is not None and self.process.poll() is not None:
                    log.warning("the node exited at start with code %s; see %s", self.process.returncode, self.log_path)
                    return False
                time.sleep(0.1)
            return False

    def node_lost(self) -> bool:
        """The event stream broke: restart the node once per crash window (after a short back-off).
        False: it is left stopped (the tray says so and offers Start)."""
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < CRASH_WINDOW_SECONDS]
        if self.held or len(self._restarts) >= AUTO_RESTARTS:
            return False
        self._restarts.append(now)
        time.sleep(RESTART_BACKOFF_SECONDS)
        return not self.held and self.ensure_running()

    def _spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            # Its own session: closing the tray (or its terminal) never signals the node.
            kwargs: dict[str, Any] = {}
            if os.name == "nt":
                flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) | getattr(subprocess, "DETACHED_PROCESS", 0)
                kwargs["creationflags"] = flags
            else:
                kwargs["start_new_session"] = True
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, close_fds=True, **kwargs
            )
        log.info("started the node (pid %s); its console output goes to %s", self.process.pid, self.log_path)
