"""Health checks of a service, run from the node against the container's address on its job bridge.

A service is `starting` until every port passes its checks once (a port without checks: until it accepts
a TCP connection), then `ready`. Continuous checks keep running every `interval_seconds`; more than
`retries` failures in a row make it `unhealthy` (a pass makes it `ready` again). A service that is not
ready within `startup_seconds` is `unhealthy` too. Every change is kept in `history`, which the op's
result records.

The checks speak plain HTTP/1.1 (and the websocket upgrade) over asyncio streams to one address and
port: no proxy from the environment, no redirects followed, nothing but the container is contacted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hostapp.services.expose import Check, HttpCheck, ServicePort, WebSocketCheck

STARTING, READY, UNHEALTHY = "starting", "ready", "unhealthy"
_MAX_HEAD = 65_536


@dataclass(frozen=True)
class HealthPolicy:
    interval_seconds: float = 5.0  # between continuous checks (and between start-up attempts / 5)
    timeout_seconds: float = 5.0  # one check
    retries: int = 3  # failures in a row a continuous check may have before the service is unhealthy
    startup_seconds: float = 300.0  # how long a service may take to pass its checks the first time


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str


async def _exchange(
    host: str, port: int, request: bytes, timeout: float
) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    """Send `request`, return the response head, the reader (after the head) and the writer (caller closes)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except BaseException:
        writer.close()
        raise
    return head[:_MAX_HEAD], reader, writer


def _status(head: bytes) -> int:
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {head[:60]!r}")
    return int(parts[1])


async def http_check(check: HttpCheck, host: str, port: int, timeout: float) -> Outcome:
    headers = {"Host": f"{host}:{port}", "User-Agent": "hostapp-health", "Connection": "close"}
    headers.update(dict(check.headers))
    body = check.body or b""
    if body or check.method in ("POST", "PUT"):
        headers["Content-Length"] = str(len(body))
    lines = [f"{check.method} {check.path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    try:
        head, _, writer = await _exchange(host, port, request, timeout)
        writer.close()
        status = _status(head)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        return Outcome(False, f"{check.method} {check.path}: {type(exc).__name__}: {exc}".rstrip(": "))
    if status != check.expected_status:
        return Outcome(False, f"{check.method} {check.path}: status {status}, expected {check.expected_status}")
    return Outcome(True, f"{check.method} {check.path}: {status}")


async def websocket_check(check: WebSocketCheck, host: str, port: int, timeout: float) -> Outcome:
    """Upgrade on `/`, read the first text frame the server sends, look for `expected_response` in it."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    try:
        head, reader, writer = await _exchange(host, port, request, timeout)
        try:
            if _status(head) != 101:
                return Outcome(False, f"websocket: no upgrade (status {_status(head)})")
            first, second = await asyncio.wait_for(reader.readexactly(2), timeout)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), timeout))
            elif length == 127:
                return Outcome(False, "websocket: first message is too long for a health check")
            payload = await asyncio.wait_for(reader.readexactly(length), timeout)
        finally:
            writer.close()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        return Outcome(False, f"websocket: {type(exc).__name__}: {exc}".rstrip(": "))
    text = payload.decode("utf-8", "replace")
    if first & 0x0F != 1 or check.expected_response not in text:
        return Outcome(False, f"websocket: first message {text[:80]!r} lacks {check.expected_response!r}")
    return Outcome(True, "websocket: expected response")


async def tcp_open(host: str, port: int, timeout: float) -> Outcome:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        return Outcome(False, f"port {port}: {type(exc).__name__}: {exc}".rstrip(": "))
    writer.close()
    return Outcome(True, f"port {port}: open")


async def run_check(check: Check, host: str, port: int, timeout: float) -> Outcome:
    if isinstance(check, HttpCheck):
        return await http_check(check, host, port, timeout)
    return await websocket_check(check, host, port, timeout)


@dataclass
class HealthMonitor:
    """The health of one service op (all its ports) at `host`; `on_change(state, detail)` on every change."""

    host: str
    ports: Sequence[ServicePort]
    policy: HealthPolicy = field(default_factory=HealthPolicy)
    on_change: Callable[[str, str], None] | None = None
    state: str = STARTING
    history: list[tuple[float, str, str]] = field(default_factory=list)

    def _set(self, state: str, detail: str) -> None:
        if state == self.state and self.history:
            return
        self.state = state
        self.history.append((time.time(), state, detail))
        if self.on_change is not None:
            self.on_change(state, detail)

    async def _all_pass(self, continuous_only: bool) -> Outcome:
        for port in self.ports:
            checks = [c for c in port.checks if c.continuous or not continuous_only]
            if not port.checks and not continuous_only:
                outcome = await tcp_open(self.host, port.port, self.policy.timeout_seconds)
                if not outcome.ok:
                    return outcome
            for check in checks:
                outcome = await run_check(check, self.host, port.port, self.policy.timeout_seconds)
                if not outcome.ok:
                    return Outcome(False, f"port {port.port}: {outcome.detail}")
        return Outcome(True, "all checks pass")

    async def wait_ready(self) -> bool:
        """Until every check passes once (ready, True) or `startup_seconds` pass (unhealthy, False)."""
        self._set(STARTING, "waiting for the service's checks")
        deadline = time.monotonic() + self.policy.startup_seconds
        pause = min(0.1, self.policy.interval_seconds)
        while True:
            outcome = await self._all_pass(continuous_only=False)
            if outcome.ok:
                self._set(READY, outcome.detail)
                return True
            if time.monotonic() >= deadline:
                self._set(UNHEALTHY, f"not ready after {self.policy.startup_seconds:g} s: {outcome.detail}")
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, max(self.policy.interval_seconds / 5, 0.1))

    async def watch(self) -> None:
        """Continuous checks, forever (cancel to stop); does nothing when no check is continuous."""
        if not any(port.continuous for port in self.ports):
            return
        failures = 0
        while True:
            await asyncio.sleep(self.policy.interval_seconds)
            outcome = await self._all_pass(continuous_only=True)
            if outcome.ok:
                failures = 0
                self._set(READY, outcome.detail)
                continue
            failures += 1
            if failures > self.policy.retries:
                self._set(UNHEALTHY, f"{failures} failures in a row: {outcome.detail}")

    async def run(self) -> None:
        """wait_ready, then watch (if ready); cancel to stop."""
        if await self.wait_ready():
            with contextlib.suppress(asyncio.CancelledError):
                await self.watch()

    def record(self) -> dict[str, object]:
        """What the op's result records: the state now and every change."""
        return {
            "state": self.state,
            "history": [{"at": round(at, 3), "state": state, "detail": detail} for at, state, detail in self.history],
        }
