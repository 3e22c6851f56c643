"""The node process (`hostapp node`): the control socket from the first second, the node once it can run.

The tray is a thin client of this process (docs/architecture.md): it reads the state, the GPU
readings, the jobs, the ledger, the schedule and the settings, and asks for wallet operations,
through the control socket only, and follows the node's events through one `events` stream. So the
socket is served before the node exists: a tray that starts a node for a user without a wallet yet
must be able to create the wallet through it. The node itself (slot loop, runner, grid) starts once
a wallet is ready, and retries with back-off while something it needs (the Docker engine) is missing.

Commands (hostapp/control/client.py is their typed client):
- node: status, pause, resume, run-job, schedule.* (hostapp/node/commands.py); while no node runs,
  status says why, and pause/resume/schedule.* go to the policy owner, which the node reads at start;
- events: every bus event as it is published, and a keep-alive every few seconds, until the client goes;
- wallet.* (hostapp/wallet/actions.py), earnings.* (hostapp/earnings/wire.py), jobs.history,
  settings.get/settings.set, storage.usage, shutdown.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hostapp.control.status import NodeSnapshot, NodeState, Problem
from hostapp.control.transport import ClientGone, ControlServer, Emit
from hostapp.events import WILDCARD, Event

if TYPE_CHECKING:
    from hostapp.app import Services
    from hostapp.node.slots import Node
    from hostapp.wallet.actions import WalletActions

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 5.0  # an idle event stream still sends a line this often: the tray sees a dead node
EVENT_QUEUE_LIMIT = 10_000  # events kept for a client that reads slowly; past it, the oldest are dropped
START_RETRY_SECONDS = (5.0, 10.0, 30.0, 60.0)  # back-off between tries to start the node
WALLET_POLL_SECONDS = 3.0  # a wallet made by `hostapp wallet create` in another terminal is noticed this fast
NEEDS_WALLET = "Create a wallet to start"
NEEDS_WALLET_FIX = "create or import a wallet on the Wallet page (or `hostapp wallet create`)"
NEEDS_BACKUP_FIX = "confirm the backup of your recovery phrase on the Wallet page"
STOPPING = "The node is stopping"


class NodeDaemon:
    """Serves the control socket and owns the node's life in this process."""

    def __init__(self, services: Services, *, require_backup: bool = True) -> None:
        from hostapp.wallet.actions import WalletActions

        self.services = services
        self.require_backup = require_backup  # the tray's rule: no work before the phrase is backed up
        self.wallet: WalletActions = WalletActions(lambda: services.wallet)
        self.node: Node | None = None
        self.problem: Problem | None = None  # why no node runs (None while starting)
        self.headline = "Starting"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._control: ControlServer | None = None
        self._starter: threading.Thread | None = None
        self._streams: set[queue.Queue[Event | None]] = set()  # each events client's queue; None ends it
        self.on_shutdown: Callable[[], None] = lambda: None  # what `shutdown` calls (the CLI stops the process)

    # ------------------------------------------------------------------ life

    def serve(self) -> None:
        """Opens the control socket; raises ControlError when another node already answers on it."""
        control = ControlServer(self.services.paths.control_socket, self)
        control.start()
        self._control = control

    def start(self) -> None:
        """Starts the node on a thread as soon as it can run (wallet ready, engine up), retrying with back-off."""
        self._starter = threading.Thread(target=self._start_loop, name="node-start", daemon=True)
        self._starter.start()

    def start_now(self) -> Node:
        """Starts the node on this thread; raises what stops it (used by `hostapp node` without --wait)."""
        with self._lock:
            if self.node is None:
                node = self.services.start_node()
                self.node, self.problem = node, None
            return self.node

    def stop(self) -> None:
        """Stops the node and closes the socket; a second call does nothing."""
        with self._lock:
            if self._stop.is_set():
                return
            self._stop.set()
        self._wake.set()
        for stream in list(self._streams):
            with contextlib.suppress(queue.Full):
                stream.put_nowait(None)  # every event stream ends now, not at its next keep-alive
        self.headline = STOPPING
        if self._starter is not None:
            self._starter.join(timeout=5)
        self.services.close()  # the node (its jobs stop and are released), telemetry, the embedded grid
        if self._control is not None:
            self._control.stop()
            self._control = None

    def _start_loop(self) -> None:
        tries = 0
        while not self._stop.is_set() and self.node is None:
            waiting_for_wallet = not self._wallet_ready()
            if not waiting_for_wallet:
                try:
                    self.start_now()  # from here the node's own node.state events say what it does
                    return
                except Exception as exc:  # Docker down, the grid refused: said in the status, tried again
                    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    self.problem = Problem(reason=reason, fix=_fix_of(exc))
                    log.warning("the node did not start: %s", reason)
                    self._announce()
            delay = WALLET_POLL_SECONDS if waiting_for_wallet else START_RETRY_SECONDS[min(tries, 3)]
            tries += 0 if waiting_for_wallet else 1
            self._wake.wait(delay)
            self._wake.clear()

    def _wallet_ready(self) -> bool:
        try:
            summary = self.wallet.summary()
        except ValueError as exc:
            self.problem = Problem(reason=f"the wallet cannot be read: {exc}", fix=NEEDS_WALLET_FIX)
            self._announce()
            return False
        if summary is None or (self.require_backup and not summary.backup_confirmed):
            fix = NEEDS_BACKUP_FIX if summary is not None else NEEDS_WALLET_FIX
            changed = self.problem is None or self.problem.fix != fix
            self.problem = Problem(reason=NEEDS_WALLET, fix=fix)
            if changed:
                self._announce()
            return False
        return True

    def _announce(self) -> None:
        """A node.state event with the overall state, for a tray that follows the events."""
        snapshot = self.status()
        self.services.bus.publish(
            "node.state",
            state=snapshot.state.value,
            overall=snapshot.state.value,
            headline=snapshot.headline,
            reason=snapshot.reason,
            problem=snapshot.problem.model_dump() if snapshot.problem else None,
            next_change=None,
        )

    # ------------------------------------------------------------------ status

    def status(self) -> NodeSnapshot:
        node = self.node
        if node is not None:
            return node.status().model_copy(update={"pid": os.getpid()})
        if self.problem is None:
            return NodeSnapshot(state=NodeState.STARTING, headline=self.headline, pid=os.getpid())
        problem = self.problem
        return NodeSnapshot(
            state=NodeState.STOPPED, headline=problem.reason, reason=problem.reason, problem=problem, pid=os.getpid()
        )

    # ------------------------------------------------------------------ the control socket

    def handle_control(self, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
        if command == "events":
            return self._stream_events(emit)
        if command.startswith("wallet."):
            return self._wallet_command(command, args)
        if command.startswith("earnings."):
            from hostapp.earnings import EarningsQueries
            from hostapp.earnings.wire import earnings_command

            store = self.services.store
            return earnings_command(lambda: EarningsQueries(store.reader()), command, args, emit)
        if command == "jobs.history":
            return {"value": self._job_history(args)}
        if command == "settings.get":
            return {"value": self.services.settings.model_dump(mode="json")}
        if command == "settings.set":
            return {"value": self._save_settings(args.get("settings"))}
        if command == "storage.usage":
            return {"value": self._storage_usage()}
        if command == "grid.price":
            return {"value": self._grid_price()}
        if command == "shutdown":
            threading.Thread(target=self.on_shutdown, name="node-shutdown", daemon=True).start()
            return {"headline": "hostapp node: stopping; running jobs are stopped and released"}
        node = self.node
        if command == "status":
            return self.status().model_dump(mode="json")
        if node is not None:
            return node.handle_control(command, args, emit)
        return self._without_node(command, args, emit)

    def _without_node(self, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
        """pause/resume/schedule.* before the node runs: the policy owner keeps them for it."""
        from hostapp.node.commands import owner_command

        if command in ("run-job",):
            problem = self.problem
            why = problem.line() if problem else "the node is still starting"
            raise ValueError(f"the node is not running yet: {why}")
        return owner_command(self.services.policy_owner, command, args, datetime.now().astimezone())

    def _stream_events(self, emit: Emit) -> dict[str, Any]:
        events: queue.Queue[Event | None] = queue.Queue(maxsize=EVENT_QUEUE_LIMIT)
        dropped = 0

        def keep(event: Event) -> None:  # the publisher's thread: never block it
            nonlocal dropped
            try:
                events.put_nowait(event)
            except queue.Full:
                dropped += 1

        unsubscribe = self.services.bus.subscribe(WILDCARD, keep)
        self._streams.add(events)
        try:
            emit({"topic": "control.attached", "data": {"status": self.status().model_dump(mode="json")}})
            while not self._stop.is_set():
                try:
                    event = events.get(timeout=KEEPALIVE_SECONDS)
                except queue.Empty:
                    emit({"keepalive": time.time(), "dropped": dropped})
                    continue
                if event is None:
                    break
                emit({"topic": event.topic, "data": event.data})
        except ClientGone:
            pass
        finally:
            unsubscribe()
            self._streams.discard(events)
        return {"ended": STOPPING}

    def _wallet_command(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        from hostapp.wallet.actions import wallet_command

        result = wallet_command(self.wallet, command, args)
        if command in ("wallet.create", "wallet.confirm_backup", "wallet.import"):
            self._wake.set()  # a wallet may be ready now: start the node without waiting for the poll
        return result

    def _job_history(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        from hostapp.jobs.journal import JobHistory

        search = args.get("search", "")
        limit = args.get("limit", 500)
        if not isinstance(search, str) or not isinstance(limit, int) or isinstance(limit, bool):
            raise ValueError("jobs.history takes a 'search' string and a whole-number 'limit'")
        return [row.to_json() for row in JobHistory(self.services.store).search(search, max(1, min(limit, 5000)))]

    def _save_settings(self, raw: Any) -> dict[str, Any]:
        """Validates, saves, then updates the one shared Settings object in place: the wallet service,
        the node and the runner hold it, so none of them can later save a stale copy over this change."""
        from hostapp.config.settings import Settings, save_settings
        from hostapp.shapes import ShapeError

        if not isinstance(raw, dict):
            raise ValueError("'settings' must be the settings document")
        try:
            settings = Settings.model_validate(raw)
        except ShapeError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"settings {where}: {first['msg']}") from None
        services = self.services
        save_settings(services.paths.settings_file, settings)  # first: a failed write changes nothing
        current = services.context.settings
        for name in type(settings).model_fields:
            setattr(current, name, getattr(settings, name))
        services.bus.publish("settings.changed", source="control")
        return current.model_dump(mode="json")

    def _grid_price(self) -> dict[str, Any] | None:
        """The rate fields of this node's grid's /v1/health, for the tray (which opens no HTTP client):
        None while no grid runs for it (the embedded one not started yet)."""
        import httpx  # the node's HTTP client already (the grid's): no urllib.request, http.client, email

        from hostapp.earnings.pricing import price_fields

        url = self.status().grid_url or self.services.settings.grid.url
        if not url:
            return None
        response = httpx.get(f"{url.rstrip('/')}/v1/health", timeout=5.0)
        response.raise_for_status()
        return price_fields(response.json())

    def _storage_usage(self) -> dict[str, Any]:
        from hostapp.jobs.retention import JobOutputs
        from hostapp.resources.cache import ModelCache

        services = self.services
        answer: dict[str, Any] = {"outputs": None, "outputs_problem": None, "models": None, "models_problem": None}
        try:
            usage = JobOutputs(services.paths.jobs_dir, services.settings.outputs, services.store).usage()
            answer["outputs"] = {**dataclasses.asdict(usage), "percent": usage.percent}
        except OSError as exc:
            answer["outputs_problem"] = str(exc)
        try:
            entries = ModelCache(services.paths.cache / "models").entries()
            answer["models"] = [{"kind": e.kind, "label": e.label, "size": e.size} for e in entries]
        except OSError as exc:
            answer["models_problem"] = str(exc)
        return answer


# Modules a library imports when they are installed, which the node never uses: marked absent in the
# node's process so their packages stay out of its memory (measured in docs/benchmarks.md).
UNUSED_OPTIONAL_MODULES = (
    # httpx's command line (`httpx URL`): `import httpx` loads it, and with it click, rich and pygments
    # (~5 MB), whenever they are installed; the node is an httpx client only.
    "httpx._main",
)


def skip_unused_imports() -> list[str]:
    """Marks UNUSED_OPTIONAL_MODULES absent (None in sys.modules: the library's `try: import … except
    ImportError` takes its fallback), so the node does not load them. Called first thing in `hostapp
    node`, before httpx is imported; a module already imported is left as it is. Returns those marked."""
    import sys

    marked = [name for name in UNUSED_OPTIONAL_MODULES if name not in sys.modules]
    for name in marked:
        sys.modules[name] = None  # type: ignore[assignment]  # None: "not importable", by the import system's rule
    return marked


M_ARENA_MAX = -8  # glibc's mallopt parameter number
NODE_MALLOC_ARENAS = 2


def limit_malloc_arenas() -> bool:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core), and the node's
    threads (one per slot, the runner's log readers, the control socket's clients) each keep a few
    MB of freed memory there. Two arenas are plenty for a process that mostly waits; measured in
    docs/benchmarks.md. Called first thing in `hostapp node`, before those threads exist. False where
    it does not apply (not glibc, not Linux)."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, NODE_MALLOC_ARENAS))
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False


def _fix_of(exc: BaseException) -> str:
    """The fix an exception names (GridRejected.fix, an engine hint), else where to look."""
    fix = getattr(exc, "fix", None)
    if isinstance(fix, str) and fix:
        return fix
    from hostapp.jobs.engine import START_HINT, EngineUnavailable

    if isinstance(exc, EngineUnavailable):
        return START_HINT
    return "see Diagnostics (or `hostapp doctor`) and the node log"


def run_until_stopped(daemon: NodeDaemon, stop: threading.Event) -> None:
    """Blocks until `stop` is set (a signal, `shutdown`), then stops the daemon."""
    daemon.on_shutdown = stop.set
    try:
        stop.wait()
    finally:
        with contextlib.suppress(Exception):
            daemon.stop()
