"""`EmbeddedGridProcess`: the node's handle on the embedded grid, run as `python -m hostapp.localgrid`.

The grid and its chain are the grid, not the host: they run in a child process so the node's own
process holds neither a web server nor LiteSVM. The child is tied to the node by its stdin: when
the node exits, however it exits (even killed -9), the pipe closes and the child stops itself.
This module imports nothing of the server, so the node pays only for a pipe and a thread.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from hostapp.config.paths import AppPaths
from hostapp.localgrid.owner_token import bearer, load_or_create

log = logging.getLogger(__name__)

STDERR_FILE = "local-grid.stderr.log"  # in the logs folder: what the child printed outside its log
STDERR_TAIL_CHARS = 2000


class EmbeddedGridError(RuntimeError):
    """The embedded grid process did not start or did not answer."""


class EmbeddedGridProcess:
    def __init__(
        self,
        paths: AppPaths,
        *,
        port: int = 0,
        chain: bool = True,
        demo: bool = True,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.paths = paths
        self.port = port
        self.chain = chain
        self.demo = demo
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ready: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Created here, before the child reads it, so the node and the grid agree on one token.
        self.owner_token = load_or_create(paths.config)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Spawns the child and waits for its ready line; returns the grid's URL."""
        with self._lock:
            if self.running:
                return self.url
            command = [
                sys.executable,
                "-m",
                "hostapp.localgrid",
                "--data-dir",
                str(self.paths.data),
                "--config-dir",
                str(self.paths.config),
                "--logs-dir",
                str(self.paths.logs),
                "--port",
                str(self.port),
            ]
            command += [] if self.chain else ["--no-chain"]
            command += [] if self.demo else ["--no-demo"]
            self.paths.logs.mkdir(parents=True, exist_ok=True, mode=0o700)
            stderr_path = self.paths.logs / STDERR_FILE
            with stderr_path.open("w", encoding="utf-8") as stderr:  # the child keeps its own descriptor
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                    bufsize=1,
                    # Its own session: a Ctrl-C in the node's terminal is the node's to handle; the
                    # grid stops when the node closes its stdin (or exits).
                    start_new_session=True,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            self._process = process
            self._lines = queue.Queue()
            assert process.stdout is not None
            threading.Thread(
                target=_pump, args=(process.stdout, self._lines), name="local-grid-stdout", daemon=True
            ).start()
            try:
                ready = self._read_line(self.start_timeout, "to start")
                parsed = json.loads(ready)
                if not isinstance(parsed, dict) or parsed.get("event") != "ready" or "url" not in parsed:
                    raise EmbeddedGridError(
                        f"the embedded grid process said {ready.strip()[:200]!r}, not its ready line"
                    )
            except (EmbeddedGridError, ValueError) as exc:
                self._terminate()
                raise EmbeddedGridError(f"{exc}{_stderr_tail(stderr_path)}") from None
            self._ready = parsed
            self.port = int(str(parsed["url"]).rsplit(":", 1)[1])  # a restart comes back at the same URL
            # The journeys and the diagnostics find the grid in the node's log by this line.
            log.info("local grid listening on %s (process %d; chain %s)", self.url, self.pid, parsed.get("rpc_url"))
            return self.url

    def stop(self) -> None:
        """Asks the child to stop (SIGTERM, and its stdin closed), waits, kills it if it will not."""
        with self._lock:
            self._terminate()

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            try:
                if sys.platform != "win32":  # on Windows terminate() kills outright: EOF asks politely
                    process.send_signal(signal.SIGTERM)
                if process.stdin is not None:
                    process.stdin.close()
            except (OSError, ValueError):
                pass
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning(
                    "the local grid process %d did not stop in %.0f s: killing it", process.pid, self.stop_timeout
                )
                process.kill()
                process.wait(self.stop_timeout)
        if process.stdout is not None:
            process.stdout.close()
        if process.stdin is not None and not process.stdin.closed:  # a child that exited on its own
            try:
                process.stdin.close()
            except OSError:  # a command it never read, unflushed
                pass
        log.info("local grid process %d exited (%s)", process.pid, process.returncode)

    # ------------------------------------------------------------ what the ready line said

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def url(self) -> str:
        return str(self._need("url"))

    @property
    def rpc_url(self) -> str | None:
        value = self._ready.get("rpc_url")
        return str(value) if value else None

    @property
    def mint(self) -> str | None:
        value = self._ready.get("mint")
        return str(value) if value else None

    @property
    def decimals(self) -> int | None:
        value = self._ready.get("decimals")
        return int(value) if isinstance(value, int) else None

    @property
    def pid(self) -> int:
        return int(self._need("pid"))

    @property
    def owner_headers(self) -> dict[str, str]:
        """Headers for owner calls (POST/GET /v1/jobs) to this grid."""
        return bearer(self.owner_token)

    # ------------------------------------------------------------ commands (fault tests)

    def stop_chain(self) -> None:
        """Takes the chain's RPC away (as an outage would) while the grid keeps serving."""
        self._command("chain-stop")

    def start_chain(self) -> str:
        """Brings the chain back; returns its (new) RPC URL."""
        return str(self._command("chain-start")["rpc_url"])

    def _command(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        with self._lock:
            process = self._process
            if process is None or process.stdin is None or process.poll() is not None:
                raise EmbeddedGridError("the embedded grid process is not running: start the node first")
            process.stdin.write(name + "\n")
            process.stdin.flush()
            answer = json.loads(self._read_line(timeout, f"to answer {name}"))
            if not answer.get("ok"):
                raise EmbeddedGridError(f"the embedded grid refused {name}: {answer.get('error')}")
            self._ready.update({k: v for k, v in answer.items() if k in ("rpc_url", "mint", "decimals")})
            return dict(answer)

    def _read_line(self, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, min(0.2, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise EmbeddedGridError(f"the embedded grid process took over {timeout:.0f} s {what}") from None
                continue
            if line is None:
                code = self._process.wait(5) if self._process is not None else None
                raise EmbeddedGridError(
                    f"the embedded grid process exited (code {code}) while the node waited for it {what}"
                )
            if line.strip():
                return line

    def _need(self, key: str) -> Any:
        if key not in self._ready:
            raise EmbeddedGridError("the embedded grid process is not started")
        return self._ready[key]


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """The child's stdout, line by line, into a queue (a timed read that works on every platform)."""
    try:
        for line in stream:
            lines.put(line)
    except (OSError, ValueError):
        pass
    finally:
        lines.put(None)


def _stderr_tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    if not text:
        return ""
    # Its last line: the child ends with the cause (its own message, or a traceback's last line).
    last = text.splitlines()[-1].strip()[-STDERR_TAIL_CHARS:]
    return f": {last} (all it printed: {path})"
