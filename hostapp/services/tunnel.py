"""The node's side of a service tunnel: one outbound SSH connection to the grid's edge per service job.

The node connects OUT (the user's router opens nothing), authenticates with its node key (sshkey.py),
pins the edge's host key that the grid API gave it, and asks for one reverse forward per exposed port
(tunnel_edge.forward_name). Every channel the edge opens for a forward is connected to that port of the
job's container, at the address network.checked_destination found; the destination is fixed here, by
the node, when the tunnel opens. The edge cannot name another host or port: a channel for anything
but a registered (name, port) is refused by asyncssh before any connection is made, and the node never
accepts `direct-tcpip`, sessions, agent or X11 requests from the edge.

`stats` counts connections and bytes for the tray's "Serving … — N requests, X MB".
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Mapping
from typing import Any

import asyncssh

from hostapp.services.network import DestinationRefused
from hostapp.services.sshkey import NodeKeyPair
from hostapp.services.tunnel_types import POSTER_STOP as POSTER_STOP
from hostapp.services.tunnel_types import EdgeAddress, Signer, TunnelError, TunnelStats

log = logging.getLogger(__name__)

_RELAY_CHUNK = 256 * 1024
# Measured in bench/bench_tunnel.py (docs/benchmarks.md): AES-GCM (OpenSSL, AES-NI) before asyncssh's
# default first choice, chacha20-poly1305; a channel window of 8 MiB so a sender is not held up waiting
# for window adjustments on a long response. Compression stays off: model output is mostly
# incompressible, and it would make the relay CPU-bound.
ENCRYPTION_ALGS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com")
CHANNEL_WINDOW = 8 * 1024 * 1024
CHANNEL_PACKET = 32 * 1024  # SSH's customary packet size: larger ones measured no faster here
# The edge disconnects a job's tunnel with this description when the poster stops the service: the node then
# stops the job and reports it served (billed), rather than reconnecting.


def forward_name(job_id: str, attempt: int) -> str:
    """The listen host of a job's forwards: `<attempt>-<hex of the job id>` (the edge reads the same)."""
    return f"{attempt}-{job_id.encode().hex()}"


class _Client(asyncssh.SSHClient):
    """Keeps why the edge ended the connection (a DisconnectError's reason)."""

    def __init__(self, tunnel: ServiceTunnel) -> None:
        self._tunnel = tunnel

    def connection_lost(self, exc: Exception | None) -> None:
        self._tunnel.closed_reason = getattr(exc, "reason", None) or (str(exc) if exc else "closed")


class ServiceTunnel:
    """Forwards `ports` (container port -> container address) of one job attempt through the edge."""

    def __init__(
        self,
        edge: EdgeAddress,
        signer: Signer,
        job_id: str,
        attempt: int,
        targets: Mapping[int, str],
        keepalive_seconds: float = 5.0,
    ) -> None:
        for port, address in targets.items():
            ip = ipaddress.ip_address(address)
            if ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_link_local:
                raise DestinationRefused(f"port {port}: {address} is not a container address")
            if not 1 <= port <= 65_535:
                raise DestinationRefused(f"port {port} is outside 1..65535")
        self.edge = edge
        self.job_id = job_id
        self.attempt = attempt
        self.targets = dict(targets)
        self.stats = TunnelStats()
        self._signer = signer
        self._keepalive = keepalive_seconds
        self._conn: asyncssh.SSHClientConnection | None = None
        self._active: set[asyncio.Task[None]] = set()
        self.closed_reason: str | None = None  # set when the connection ends (POSTER_STOP: the poster stopped it)

    @property
    def listen_host(self) -> str:
        return forward_name(self.job_id, self.attempt)

    async def open(self) -> None:
        """Connect and ask for every forward; raises TunnelError when the edge refuses any of them."""
        host_key = asyncssh.import_public_key(self.edge.host_key)
        self._conn = await asyncssh.connect(
            self.edge.host,
            self.edge.port,
            client_factory=lambda: _Client(self),
            username=self._signer.pubkey,
            client_keys=[NodeKeyPair(self._signer)],
            known_hosts=([host_key], [], []),
            agent_path=None,
            agent_forwarding=False,
            x11_forwarding=False,
            config=None,
            password=None,
            kbdint_auth=False,
            keepalive_interval=self._keepalive,
            keepalive_count_max=3,
            connect_timeout=15,
            encryption_algs=ENCRYPTION_ALGS,
            compression_algs=None,
        )
        try:
            for port in self.targets:
                try:
                    await self._conn.start_server(
                        self._handler_for(port),
                        self.listen_host,
                        port,
                        window=CHANNEL_WINDOW,
                        max_pktsize=CHANNEL_PACKET,
                    )
                except asyncssh.ChannelListenError as exc:
                    raise TunnelError(f"the grid refused to forward port {port}: {exc}") from None
        except BaseException:
            self._conn.close()
            raise

    def _handler_for(self, port: int) -> Any:
        address = self.targets[port]

        def factory(orig_host: str, orig_port: int) -> Any:
            async def handle(reader: asyncssh.SSHReader[bytes], writer: asyncssh.SSHWriter[bytes]) -> None:
                await self._relay_to(address, port, reader, writer)

            return handle

        return factory

    async def _relay_to(
        self, address: str, port: int, reader: asyncssh.SSHReader[bytes], writer: asyncssh.SSHWriter[bytes]
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._active.add(task)
        self.stats.connections += 1
        container_writer: asyncio.StreamWriter | None = None
        try:
            container_reader, container_writer = await asyncio.open_connection(address, port, limit=_RELAY_CHUNK)
            await asyncio.gather(
                self._pump(reader, container_writer, inbound=True),
                self._pump(container_reader, writer, inbound=False),
            )
        except (OSError, asyncssh.Error) as exc:
            log.debug("service connection to %s:%s ended: %s", address, port, exc)
        except asyncio.CancelledError:
            pass
        finally:
            self._active.discard(task)
            if container_writer is not None:
                container_writer.close()
            writer.close()

    async def _pump(self, source: object, sink: object, inbound: bool) -> None:
        read = source.read  # type: ignore[attr-defined]
        write, drain = sink.write, sink.drain  # type: ignore[attr-defined]
        try:
            while True:
                data = await read(_RELAY_CHUNK)
                if not data:
                    break
                if inbound:
                    self.stats.bytes_in += len(data)
                else:
                    self.stats.bytes_out += len(data)
                write(data)
                await drain()
        finally:
            with contextlib.suppress(OSError, asyncssh.Error):
                if sink.can_write_eof():  # type: ignore[attr-defined]
                    sink.write_eof()  # type: ignore[attr-defined]

    @property
    def is_open(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def wait_closed(self) -> None:
        if self._conn is not None:
            await self._conn.wait_closed()

    async def close(self) -> None:
        for task in list(self._active):
            task.cancel()
        if self._conn is not None:
            self._conn.close()
            with contextlib.suppress(Exception):
                await self._conn.wait_closed()
