"""The grid's SSH edge: nodes connect out to it, and it gives the poster one URL per exposed port.

A node authenticates with its Ed25519 node key (user name = its base58 id; only registered nodes get in)
and asks for one reverse forward per exposed port, named `<attempt>-<hex of the job id>` and the container
port. The edge grants it only when that node holds a live lease of that job and the job's definition
exposes that port, then opens a loopback listener for it: that listener's address is the service's URL.
Each TCP connection to it becomes one `forwarded-tcpip` channel to the node, which connects it to the
container (never anywhere else: the node picks the destination, see hostapp/services/tunnel.py). HTTP,
chunked streaming and WebSocket upgrades pass through untouched: the edge relays bytes.

The edge refuses everything else SSH offers: no shell, no exec, no `direct-tcpip` (a node cannot use the
edge to reach the grid's own network), no agent or X11 forwarding. Caps (EdgeLimits): ports per job,
connections per port, bytes per second per port. Every `recheck_seconds` each route's lease is checked
again; a finished, released or re-offered lease closes the route and its connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncssh

from hostapp.services.expose import ExposeError, service_plans
from hostapp.services.settings import DEFAULT_MAX_PORTS
from hostapp.services.sshkey import node_of
from hostapp.services.tunnel import CHANNEL_PACKET, CHANNEL_WINDOW, ENCRYPTION_ALGS, POSTER_STOP

log = logging.getLogger(__name__)

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 28\r\nConnection: close\r\n\r\ntoo many connections to port"
)
_RELAY_CHUNK = 256 * 1024


def parse_forward_name(name: str) -> tuple[str, int] | None:
    """(job id, attempt) of a listen host made by tunnel.forward_name; None when it is not one."""
    attempt, _, hexed = name.partition("-")
    try:
        return bytes.fromhex(hexed).decode("ascii"), int(attempt)
    except ValueError:
        return None


@dataclass(frozen=True)
class EdgeLimits:
    max_ports_per_job: int = DEFAULT_MAX_PORTS
    max_connections_per_port: int = 64
    bytes_per_second: int = 0  # per port, both directions together; 0: no cap
    keepalive_seconds: float = 5.0  # a node that answers no keepalive for 3 rounds is gone
    recheck_seconds: float = 1.0


class LeaseBook(Protocol):
    """What the edge asks the grid: is this a registered node, and which ports its live lease exposes."""

    def node_registered(self, node: str) -> bool: ...

    def lease_ports(self, node: str, job_id: str, attempt: int) -> frozenset[int] | None:
        """The exposed ports of the job while `node` holds a live lease of this attempt; None otherwise."""
        ...


class GridStoreLeases:
    """LeaseBook over the embedded grid's SQLite store (hostapp/localgrid/store.py)."""

    def __init__(self, store: Any, max_ports: int = DEFAULT_MAX_PORTS) -> None:
        self._store = store
        self._max_ports = max_ports

    def node_registered(self, node: str) -> bool:
        return self._store.node(node) is not None

    def lease_ports(self, node: str, job_id: str, attempt: int) -> frozenset[int] | None:
        from hostapp.jobs.definition import JobDefinitionError, parse_job_definition

        rows = self._store._query(  # one read; the store has no query for "live lease of this node"
            """SELECT j.definition FROM leases l JOIN jobs j USING (job_id)
               WHERE l.job_id = ? AND l.attempt = ? AND l.node = ? AND l.state = 'active' AND l.expires_at >= ?
                 AND j.state = 'leased' AND j.attempts = l.attempt""",
            (job_id, attempt, node, time.time()),
        )
        if not rows:
            return None
        try:
            plans = service_plans(parse_job_definition(json.loads(rows[0]["definition"])), self._max_ports)
        except (JobDefinitionError, ExposeError, ValueError):
            return frozenset()
        # Ports from literals are known only at run time: a plan with pending literals allows any port
        # up to the cap (the node still connects only to its own container).
        if any(plan.pending for plan in plans):
            return frozenset(range(1, 65_536))
        return frozenset(port.port for plan in plans for port in plan.ports)


@dataclass
class RouteStats:
    connections: int = 0
    bytes_in: int = 0  # poster -> service
    bytes_out: int = 0  # service -> poster
    refused: int = 0


@dataclass
class Route:
    node: str
    job_id: str
    attempt: int
    port: int
    url: str
    server: asyncio.Server
    conn: asyncssh.SSHServerConnection
    listen_host: str
    stats: RouteStats = field(default_factory=RouteStats)
    active: set[asyncio.Task[None]] = field(default_factory=set)
    bucket: _Bucket | None = None


class _Bucket:
    """A token bucket of bytes per second (one second of burst)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.tokens = float(rate)
        self.stamp = time.monotonic()

    async def take(self, amount: int) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(float(self.rate), self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= amount or self.tokens >= self.rate:
                self.tokens -= amount
                return
            await asyncio.sleep((min(amount, self.rate) - self.tokens) / self.rate)


class _RouteListener(asyncssh.SSHListener):
    """What asyncssh keeps for a granted forward: closing it (node cancels, connection ends) closes the route."""

    def __init__(self, edge: TunnelEdge, route: Route) -> None:
        super().__init__()
        self._edge = edge
        self._route = route

    def get_port(self) -> int:
        return self._route.port

    def close(self) -> None:
        self._edge._drop(self._route, "the node closed the forward")

    async def wait_closed(self) -> None:
        await self._route.server.wait_closed()


class _EdgeServer(asyncssh.SSHServer):
    def __init__(self, edge: TunnelEdge) -> None:
        self._edge = edge
        self._conn: asyncssh.SSHServerConnection | None = None
        self._node: str | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._edge._conns.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._edge._conns.discard(self._conn)
            self._edge._drop_connection(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        node = node_of(key)
        if node is None or node != username or not self._edge.leases.node_registered(node):
            return False
        self._node = node
        return True

    def session_requested(self) -> bool:
        return False  # no shell, no exec, no subsystem

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        return False  # no direct-tcpip: the edge is not a way into the grid's network

    def unix_connection_requested(self, dest_path: str) -> bool:
        return False

    def unix_server_requested(self, listen_path: str) -> bool:
        return False

    async def server_requested(self, listen_host: str, listen_port: int) -> bool | asyncssh.SSHListener:
        if self._conn is None or self._node is None:
            return False
        return await self._edge._grant(self._conn, self._node, listen_host, listen_port)


class TunnelEdge:
    """The SSH edge on `ssh_host` (loopback by default); URLs on `public_host`. Runs on its own loop thread."""

    def __init__(
        self,
        leases: LeaseBook,
        host_key: asyncssh.SSHKey | None = None,
        limits: EdgeLimits | None = None,
        ssh_host: str = "127.0.0.1",
        public_host: str = "127.0.0.1",
        on_route: Callable[[Route, bool], None] | None = None,
    ) -> None:
        self.leases = leases
        self.host_key = host_key or asyncssh.generate_private_key("ssh-ed25519")
        self.limits = limits or EdgeLimits()
        self.ssh_host = ssh_host
        self.public_host = public_host
        self.ssh_port = 0
        self._on_route = on_route
        self._routes: dict[tuple[str, int, int], Route] = {}
        self._lock = threading.Lock()
        self._server: asyncssh.SSHAcceptor | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: set[str] = set()  # jobs the poster stopped: no new forwards for them
        self._conns: set[asyncssh.SSHServerConnection] = set()  # nodes connected now

    # ------------------------------------------------------------ what the grid reads (any thread)

    @property
    def host_key_line(self) -> str:
        """The edge's public host key as one OpenSSH line: what a node pins (the grid API returns it)."""
        return str(self.host_key.export_public_key("openssh").decode().strip())

    def urls(self, job_id: str, attempt: int | None = None) -> dict[int, str]:
        with self._lock:
            return {
                port: route.url
                for (job, att, port), route in self._routes.items()
                if job == job_id and (attempt is None or att == attempt)
            }

    def stats(self, job_id: str) -> dict[int, RouteStats]:
        with self._lock:
            return {port: route.stats for (job, _, port), route in self._routes.items() if job == job_id}

    def revoke(self, job_id: str) -> None:
        """Close every route of `job_id` now (lease completed, released or stopped by the poster)."""
        if self._loop is None:
            return
        with self._lock:
            routes = [route for key, route in self._routes.items() if key[0] == job_id]
        for route in routes:
            self._loop.call_soon_threadsafe(self._drop, route, "revoked by the grid")

    def stop_service(self, job_id: str) -> bool:
        """The poster stops the service: its node is told (SSH disconnect, POSTER_STOP) and its URLs close.

        False when no node serves the job through this edge now."""
        if self._loop is None:
            return False
        with self._lock:
            self._stopped.add(job_id)
            conns = {id(route.conn): route.conn for key, route in self._routes.items() if key[0] == job_id}
        for conn in conns.values():
            # Not DISC_BY_APPLICATION: asyncssh reports that one as a clean close and drops the reason.
            self._loop.call_soon_threadsafe(conn.disconnect, asyncssh.DISC_SERVICE_NOT_AVAILABLE, POSTER_STOP)
        self.revoke(job_id)
        return bool(conns)

    def stopped(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._stopped

    # ------------------------------------------------------------ lifecycle (on the edge's loop)

    async def start(self, port: int = 0) -> int:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncssh.create_server(
            lambda: _EdgeServer(self),
            self.ssh_host,
            port,
            server_host_keys=[self.host_key],
            keepalive_interval=self.limits.keepalive_seconds,
            keepalive_count_max=3,
            agent_forwarding=False,
            allow_pty=False,
            x11_forwarding=False,
            login_timeout=15,
            encryption_algs=ENCRYPTION_ALGS,
            compression_algs=None,
        )
        self.ssh_port = int(self._server.sockets[0].getsockname()[1])
        self._sweeper = asyncio.create_task(self._sweep())
        return self.ssh_port

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        with self._lock:
            routes = list(self._routes.values())
        for route in routes:
            self._drop(route, "edge closing")
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for conn in list(self._conns):  # closing the listener leaves connected nodes connected
            conn.close()
            await conn.wait_closed()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.limits.recheck_seconds)
            with self._lock:
                routes = list(self._routes.values())
            for route in routes:
                try:
                    ports = await asyncio.to_thread(self.leases.lease_ports, route.node, route.job_id, route.attempt)
                except Exception as exc:  # a store hiccup: keep the route, check again next round
                    log.info("lease check for %s failed: %s", route.job_id, exc)
                    continue
                if ports is None or route.port not in ports:
                    self._drop(route, "the lease is no longer live")

    # ------------------------------------------------------------ forwards

    async def _grant(
        self, conn: asyncssh.SSHServerConnection, node: str, listen_host: str, listen_port: int
    ) -> bool | asyncssh.SSHListener:
        parsed = parse_forward_name(listen_host)
        if parsed is None:
            log.info("node %s asked for a forward with a bad name %r", node, listen_host)
            return False
        job_id, attempt = parsed
        if self.stopped(job_id):
            return False
        ports = await asyncio.to_thread(self.leases.lease_ports, node, job_id, attempt)
        if ports is None or listen_port not in ports:
            log.info("node %s: no live lease exposing port %s of %s/%s", node, listen_port, job_id, attempt)
            return False
        with self._lock:
            held = sum(1 for key in self._routes if key[:2] == (job_id, attempt))
            if (job_id, attempt, listen_port) in self._routes or held >= self.limits.max_ports_per_job:
                return False
        route_box: list[Route] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(route_box[0], reader, writer)

        server = await asyncio.start_server(serve, self.public_host, 0, limit=_RELAY_CHUNK)
        bound = server.sockets[0].getsockname()
        route = Route(
            node=node,
            job_id=job_id,
            attempt=attempt,
            port=listen_port,
            url=f"http://{bound[0]}:{bound[1]}/",
            server=server,
            conn=conn,
            listen_host=listen_host,
            bucket=_Bucket(self.limits.bytes_per_second) if self.limits.bytes_per_second else None,
        )
        route_box.append(route)
        with self._lock:
            self._routes[(job_id, attempt, listen_port)] = route
        log.info("route %s/%s port %s -> %s", job_id, attempt, listen_port, route.url)
        if self._on_route is not None:
            self._on_route(route, True)
        return _RouteListener(self, route)

    def _drop(self, route: Route, why: str) -> None:
        with self._lock:
            if self._routes.get((route.job_id, route.attempt, route.port)) is not route:
                return
            del self._routes[(route.job_id, route.attempt, route.port)]
        log.info("route %s/%s port %s closed: %s", route.job_id, route.attempt, route.port, why)
        route.server.close()
        for task in list(route.active):
            task.cancel()
        if self._on_route is not None:
            self._on_route(route, False)

    def _drop_connection(self, conn: asyncssh.SSHServerConnection) -> None:
        with self._lock:
            routes = [route for route in self._routes.values() if route.conn is conn]
        for route in routes:
            self._drop(route, "the node's connection ended")

    async def _serve(self, route: Route, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(route.active) >= self.limits.max_connections_per_port:
            route.stats.refused += 1
            writer.write(_BUSY)
            with contextlib.suppress(OSError):
                await writer.drain()
            writer.close()
            return
        route.active.add(task)
        route.stats.connections += 1
        chan_writer: asyncssh.SSHWriter[bytes] | None = None
        try:
            peer = writer.get_extra_info("peername") or ("", 0)
            chan_reader, chan_writer = await route.conn.open_connection(
                route.listen_host,
                route.port,
                str(peer[0]),
                int(peer[1]),
                window=CHANNEL_WINDOW,
                max_pktsize=CHANNEL_PACKET,
            )
            await asyncio.gather(
                self._relay(reader, chan_writer, route, inbound=True),
                self._relay(chan_reader, writer, route, inbound=False),
            )
        except (OSError, asyncssh.Error, asyncio.IncompleteReadError) as exc:
            log.debug("connection to %s port %s ended: %s", route.job_id, route.port, exc)
        except asyncio.CancelledError:
            pass
        finally:
            route.active.discard(task)
            if chan_writer is not None:
                chan_writer.close()
            writer.close()

    async def _relay(self, source: Any, sink: Any, route: Route, inbound: bool) -> None:
        try:
            while True:
                data = await source.read(_RELAY_CHUNK)
                if not data:
                    break
                if route.bucket is not None:
                    await route.bucket.take(len(data))
                if inbound:
                    route.stats.bytes_in += len(data)
                else:
                    route.stats.bytes_out += len(data)
                sink.write(data)
                await sink.drain()
        finally:
            with contextlib.suppress(OSError, asyncssh.Error):
                if sink.can_write_eof():
                    sink.write_eof()


class EdgeRunner:
    """A TunnelEdge on its own loop thread, for the (threaded) grid server: start, stop, and sync reads."""

    def __init__(self, leases: LeaseBook, limits: EdgeLimits | None = None, host: str = "127.0.0.1") -> None:
        from hostapp.services.loop import LoopThread

        self.edge = TunnelEdge(leases, limits=limits, ssh_host=host, public_host=host)
        self._loop = LoopThread("grid-tunnel-edge")

    def start(self, port: int = 0) -> int:
        return self._loop.run(self.edge.start(port), 15)

    def stop(self) -> None:
        try:
            self._loop.run(self.edge.close(), 15)
        finally:
            self._loop.close()

    def endpoint(self) -> dict[str, Any]:
        """What a node needs to connect: the edge's address and its pinned host key (GET /v1/node/tunnel)."""
        return {"host": self.edge.ssh_host, "port": self.edge.ssh_port, "host_key": self.edge.host_key_line}

    def services(self, job_id: str | None = None) -> list[dict[str, Any]]:
        """Every live route (or those of `job_id`): URL and counters, for GET /v1/services."""
        with self.edge._lock:
            routes = [r for r in self.edge._routes.values() if job_id is None or r.job_id == job_id]
        return [
            {
                "job_id": r.job_id,
                "attempt": r.attempt,
                "port": r.port,
                "url": r.url,
                "connections": r.stats.connections,
                "bytes_in": r.stats.bytes_in,
                "bytes_out": r.stats.bytes_out,
                "refused": r.stats.refused,
            }
            for r in sorted(routes, key=lambda r: (r.job_id, r.port))
        ]
