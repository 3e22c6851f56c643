"""Local control socket: `hostapp status/pause/resume/schedule` talk to a running app or node.

A Unix socket in the user's runtime dir, mode 0600 inside a 0700 folder: only the owner can
connect. Windows' Python has no AF_UNIX, so there the server listens on a loopback TCP port and
writes an endpoint file at the same path: `{"port": N, "token": "<random>"}`, in the user's
private %LOCALAPPDATA% profile folder; every request must carry that per-run token, so another
local user (who cannot read the file) cannot drive the node. The client tells the two apart by
what is at the path (a socket or a file).

One JSON request line in; out come zero or more `{"event": …}` lines (a long command such as
`run-job` streams its progress) and then one `{"ok": …}` line. The server never trusts the
request beyond the fields it names.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import socket
import socketserver
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

# A job definition may be 1 MiB of UTF-8; JSON escaping in the request can make it up to 6× longer.
MAX_REQUEST_BYTES = 8 * 1024 * 1024
# How long a connection may take to send its request line: a client that connects and says nothing
# (or stalls half-way) would otherwise hold a server thread and its socket for ever.
REQUEST_READ_TIMEOUT_SECONDS = 10.0
# How long one answer line may wait for a client that stopped reading (a run-job client suspended
# with Ctrl-Z): past it the client counts as gone, and a job it started is stopped.
WRITE_TIMEOUT_SECONDS = 60.0
# Unix sockets where the platform has them (not in Windows builds of CPython).
HAVE_UNIX_SOCKETS = hasattr(socket, "AF_UNIX") and hasattr(socketserver, "UnixStreamServer")
LOOPBACK = "127.0.0.1"

Emit = Callable[[dict[str, Any]], None]


class ControlError(Exception):
    """Nothing is running, or the running app refused the request; the message says what to do."""


class NotRunning(ControlError):
    """No app or node answers on the socket (none started, or one that crashed left it behind)."""


class ClientGone(Exception):
    """The client hung up while a command was still streaming to it."""


class ControlHandler(Protocol):
    def handle_control(self, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
        """Run `command` and return a JSON-able result; raise ValueError for a bad request.

        `emit` sends a progress event to the client before the result; it raises ClientGone once the
        client has hung up, so a long command can stop the work nobody waits for any more.
        """
        ...


class _RequestHandler(socketserver.StreamRequestHandler):
    server: _ControlServer  # or _UnixControlServer: the same three attributes

    def handle(self) -> None:
        self.connection.settimeout(self.server.read_timeout)
        try:
            line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
        except OSError:  # timed out (or reset) before a whole request line came: nothing to answer
            return
        self.connection.settimeout(WRITE_TIMEOUT_SECONDS)
        try:
            if len(line) > MAX_REQUEST_BYTES:
                raise ValueError("request too large")
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("command"), str):
                raise ValueError("request must be an object with a 'command' string")
            token = self.server.token
            if token is not None and not (
                isinstance(request.get("token"), str) and hmac.compare_digest(request["token"], token)
            ):
                raise ValueError("wrong or missing control token; use the hostapp command of this install")
            args = request.get("args") or {}
            if not isinstance(args, dict):
                raise ValueError("'args' must be an object")
            result = self.server.handler.handle_control(request["command"], args, self._emit)
            response: dict[str, Any] = {"ok": True, "result": result}
        except ClientGone:
            return
        except (ValueError, json.JSONDecodeError) as exc:
            response = {"ok": False, "error": str(exc)}
        except Exception as exc:
            log.exception("control command failed")
            response = {"ok": False, "error": f"internal error: {exc}"}
        with contextlib.suppress(OSError):
            self._send(response)

    def _emit(self, event: dict[str, Any]) -> None:
        try:
            self._send({"event": event})
        except OSError as exc:
            raise ClientGone(str(exc)) from exc

    def _send(self, message: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(message, default=str).encode() + b"\n")
        self.wfile.flush()


class _ControlServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """Loopback TCP (Windows); `_UnixControlServer` below where Unix sockets exist."""

    daemon_threads = True
    handler: ControlHandler
    read_timeout: float
    token: str | None = None  # required in every request (TCP only: a Unix socket's mode guards it)


if HAVE_UNIX_SOCKETS:

    class _UnixControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True
        handler: ControlHandler
        read_timeout: float
        token: str | None = None


class ControlServer:
    def __init__(
        self,
        path: Path,
        handler: ControlHandler,
        read_timeout: float = REQUEST_READ_TIMEOUT_SECONDS,
        use_tcp: bool = not HAVE_UNIX_SOCKETS,
    ) -> None:
        self.path = path
        self._handler = handler
        self._read_timeout = read_timeout
        self._use_tcp = use_tcp
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path.parent, 0o700)
        if self.path.exists() or self.path.is_symlink():
            if _answers(self.path):
                raise ControlError(f"another hostapp is already running (control socket {self.path})")
            self.path.unlink()  # left behind by a crashed run
        server = self._listen_tcp() if self._use_tcp else self._listen_unix()
        server.handler = self._handler
        server.read_timeout = self._read_timeout
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="control-socket", daemon=True)
        self._thread.start()

    def _listen_unix(self) -> _UnixControlServer:
        old_umask = os.umask(0o177)
        try:
            server = _UnixControlServer(str(self.path), _RequestHandler)
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        return server

    def _listen_tcp(self) -> _ControlServer:
        server = _ControlServer((LOOPBACK, 0), _RequestHandler)
        server.token = secrets.token_urlsafe(32)
        endpoint = json.dumps({"port": server.server_address[1], "token": server.token}).encode()
        try:
            # O_EXCL: never write through a file (or link) someone else put there; 0600 where modes exist.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(endpoint)
        except OSError:
            server.server_close()
            raise
        return server

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _answers(path: Path) -> bool:
    try:
        sock, address, _token = _endpoint(path)
    except (OSError, ControlError):
        return False
    with sock:
        sock.settimeout(1)
        try:
            sock.connect(address)
        except OSError:
            return False
    return True


def _endpoint(path: Path) -> tuple[socket.socket, Any, str | None]:
    """A socket to connect, its address and the token to send, from what the server left at `path`."""
    if stat.S_ISSOCK(path.stat().st_mode):
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), str(path), None
    try:
        endpoint = json.loads(path.read_bytes()[:4096])
        port, token = endpoint["port"], endpoint["token"]
    except (ValueError, TypeError, KeyError) as exc:
        raise NotRunning(
            f"hostapp is not running (unreadable control endpoint {path}): start it with `hostapp` or `hostapp node`"
        ) from exc
    if not (isinstance(port, int) and 0 < port < 65536 and isinstance(token, str)):
        raise NotRunning(
            f"hostapp is not running (unreadable control endpoint {path}): start it with `hostapp` or `hostapp node`"
        )
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM), (LOOPBACK, port), token


def call(
    path: Path,
    command: str,
    args: dict[str, Any] | None = None,
    timeout: float | None = 10.0,
    on_event: Emit | None = None,
) -> Any:
    """Send one command to the running app; raises ControlError with a one-line reason.

    Events the command streams go to `on_event`. `timeout` bounds each wait for the next line (None:
    wait as long as the command runs, for commands that run a job).
    """
    try:
        sock, address, token = _endpoint(path)
    except FileNotFoundError:
        raise NotRunning(
            "hostapp is not running (no control socket): start it with `hostapp` or `hostapp node`"
        ) from None
    except OSError as exc:
        raise ControlError(f"cannot talk to the running hostapp: {exc}") from exc
    request: dict[str, Any] = {"command": command, "args": args or {}}
    if token is not None:
        request["token"] = token
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            raise NotRunning(
                "hostapp is not running (stale control socket): start it with `hostapp` or `hostapp node`"
            ) from exc
        except OSError as exc:
            raise ControlError(f"cannot talk to the running hostapp: {exc}") from exc
        try:
            sock.sendall(json.dumps(request).encode() + b"\n")
            with sock.makefile("rb") as lines:
                response = _read_response(lines, on_event)
        except OSError as exc:
            raise ControlError(f"cannot talk to the running hostapp: {exc}") from exc
    if not response.get("ok"):
        raise ControlError(str(response.get("error")))
    return response.get("result")


def _read_response(lines: Any, on_event: Emit | None) -> dict[str, Any]:
    for line in lines:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            message = None
        if not isinstance(message, dict):
            raise ControlError("the running hostapp sent no valid answer; check its log")
        if "event" in message:
            if on_event is not None and isinstance(message["event"], dict):
                on_event(message["event"])
            continue
        return message
    raise ControlError("the running hostapp closed the connection without an answer; check its log")
