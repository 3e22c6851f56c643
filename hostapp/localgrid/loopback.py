"""Serves an ASGI app with uvicorn from a background thread on a loopback address.

Used by the local grid and the local chain's JSON-RPC endpoint: both run inside the app.

A loopback port is reachable from every web page the user opens: a page can POST to it (a
`text/plain` form needs no CORS preflight) and, through DNS rebinding, even read the answers
under its own host name. `LoopbackGuard` closes both: only loopback `Host` values (what a
rebinding page cannot send), no foreign `Origin`, and request bodies only as `application/json`
(which a page can send cross-origin only after a preflight this server never answers).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_BODIES = frozenset({"application/json"})
# The grid's job submission also takes YAML (hostapp/localgrid/yaml_submission.py). None of these is a
# CORS-safelisted type (text/plain, form encodings), so a page still cannot send them without a preflight.
YAML_BODIES = frozenset({"application/yaml", "text/yaml", "application/x-yaml"})

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _host_name(value: str) -> str:
    """`127.0.0.1:7750` -> `127.0.0.1`, `[::1]:80` -> `[::1]`, lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def loopback_host(value: str) -> bool:
    return _host_name(value) in LOOPBACK_HOSTS


def loopback_origin(value: str) -> bool:
    scheme, _, rest = value.strip().lower().partition("://")
    return scheme in ("http", "https") and loopback_host(rest.split("/", 1)[0])


class LoopbackGuard:
    """ASGI middleware: refuses what a web page (or a DNS-rebinding host name) could send a loopback port.

    - `Host` must name loopback (421 otherwise): a rebinding page sends its own host name;
    - an `Origin`, when present, must be loopback too (403): browsers add it to cross-origin requests;
    - requests with a body must be `application/json` (415), or one of `body_types` (the grid adds YAML):
      kinds a page cannot send without a CORS preflight, and no route here answers preflights.
    """

    def __init__(self, app: Any, body_types: frozenset[str] = JSON_BODIES) -> None:
        self.app = app
        self.body_types = body_types

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for key, value in scope.get("headers") or []:
            headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
        host = headers.get("host", "")
        origin = headers.get("origin")
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if not loopback_host(host):
            await _refuse(send, 421, "foreign_host", f"Host {host[:100]!r} is not a loopback address: refused")
        elif origin is not None and not loopback_origin(origin):
            await _refuse(send, 403, "foreign_origin", f"Origin {origin[:100]!r} is not loopback: refused")
        elif scope.get("method") in BODY_METHODS and content_type not in self.body_types:
            await _refuse(
                send, 415, "unsupported_media_type", "request bodies must be sent as Content-Type: application/json"
            )
        else:
            await self.app(scope, receive, send)


async def _refuse(send: _Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class LoopbackServer:
    def __init__(
        self,
        app: Any,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        body_types: frozenset[str] = JSON_BODIES,
        **uvicorn_options: Any,
    ) -> None:
        """Binds at once (port 0: a free port), so `url` is known before `start()`; raises OSError if taken.
        `body_types`: the content types a request body may have (LoopbackGuard)."""
        import uvicorn

        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
        # without it a response written in two parts waits ~40 ms for the client's delayed ACK.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self.host = host
        self.port = int(self._socket.getsockname()[1])
        options = {"log_config": None, "access_log": False, **uvicorn_options}
        self._server = uvicorn.Server(uvicorn.Config(LoopbackGuard(app, body_types), **options))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self._thread.name} did not start on {self.url}")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()
