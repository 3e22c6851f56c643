"""The tunnel with real parts: asyncssh on both ends, the grid's SQLite store, the demo service in a hardened
container on its internal bridge. Requests, streaming and WebSocket through the URL; containment; caps; the
lease closes the tunnel."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import pytest

from hostapp.localgrid.tunnel_edge import EdgeLimits
from hostapp.services.network import DestinationRefused, checked_destination
from hostapp.services.tunnel import ServiceTunnel, TunnelError, forward_name

from .conftest import Container, Grid, NodeKey, make_grid, remove_service, start_service, wait_port
from .wsclient import WebSocket

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def http() -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=10)


def open_tunnel(grid: Grid, service: Container, ports: tuple[int, ...] = (8080, 9090)) -> ServiceTunnel:
    tunnel = grid.tunnel({port: service.address for port in ports})
    grid.loop.run(tunnel.open(), 20)
    return tunnel


def url_of(grid: Grid, port: int, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while not (urls := grid.edge.urls(grid.job_id)).get(port):
        assert time.monotonic() < deadline, f"no URL for port {port}: {urls}"
        time.sleep(0.02)
    return urls[port]


def refused(url: str) -> bool:
    try:
        with http() as client:
            client.get(url, timeout=3)
    except httpx.TransportError:
        return True
    return False


def test_requests_streaming_and_websocket_go_through(grid_edge: Grid, service: Container) -> None:
    tunnel = open_tunnel(grid_edge, service)
    url = url_of(grid_edge, 8080)
    assert url.startswith("http://127.0.0.1:")
    with http() as client:
        assert client.get(url).text == "hostapp demo service\n"
        assert client.get(url + "infer", params={"q": "a b c"}).json()["completion"] == "c b a"
        assert client.post(url + "echo", content=b"x" * 300_000).content == b"x" * 300_000
        # streaming: the lines arrive as the server writes them, not all at the end
        arrivals = []
        with client.stream("GET", url + "stream", params={"n": 4, "ms": 300}) as response:
            for line in response.iter_lines():
                arrivals.append(time.monotonic())
                assert line.startswith("line ")
        assert len(arrivals) == 4 and arrivals[-1] - arrivals[0] > 0.6
        assert client.get(url_of(grid_edge, 9090)).status_code == 200  # the second exposed port
    ws = WebSocket(url)
    assert ws.status == 101
    assert ws.recv() == "hostapp-demo ready"
    ws.send("ping through the grid")
    assert ws.recv() == "ping through the grid"
    ws.close()
    assert tunnel.stats.connections >= 3 and tunnel.stats.bytes_in >= 300_000
    grid_edge.loop.run(tunnel.close(), 10)


def test_losing_the_lease_closes_the_url(grid_edge: Grid, service: Container) -> None:
    tunnel = open_tunnel(grid_edge, service)
    url = url_of(grid_edge, 8080)
    with http() as client:
        assert client.get(url).status_code == 200
    grid_edge.release()  # released (or expired / re-offered): no live lease any more
    deadline = time.monotonic() + 5
    while grid_edge.edge.urls(grid_edge.job_id):
        assert time.monotonic() < deadline, "the route outlived the lease"
        time.sleep(0.05)
    assert refused(url)
    grid_edge.loop.run(tunnel.close(), 10)


def test_node_disconnect_closes_the_url(grid_edge: Grid, service: Container) -> None:
    tunnel = open_tunnel(grid_edge, service)
    url = url_of(grid_edge, 8080)
    grid_edge.loop.run(tunnel.close(), 10)
    deadline = time.monotonic() + 5
    while grid_edge.edge.urls(grid_edge.job_id):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert refused(url)


def test_edge_refuses_strangers_other_jobs_and_unexposed_ports(grid_edge: Grid, service: Container) -> None:
    stranger = grid_edge.tunnel({8080: service.address}, node=NodeKey())  # a key the grid never registered
    with pytest.raises(asyncssh.PermissionDenied):
        grid_edge.loop.run(stranger.open(), 20)
    other_job = grid_edge.tunnel({8080: service.address}, job_id="not-leased-to-this-node")
    with pytest.raises(TunnelError, match="refused to forward port 8080"):
        grid_edge.loop.run(other_job.open(), 20)
    unexposed = grid_edge.tunnel({22: service.address})  # the definition exposes 8080 and 9090 only
    with pytest.raises(TunnelError, match="refused to forward port 22"):
        grid_edge.loop.run(unexposed.open(), 20)
    assert grid_edge.edge.urls(grid_edge.job_id) == {}


def test_node_cannot_use_the_edge_to_reach_the_grid_host(grid_edge: Grid, service: Container) -> None:
    """direct-tcpip from the node through the edge (to the grid host's own SSH port) is refused."""
    tunnel = open_tunnel(grid_edge, service, (8080,))
    conn = tunnel._conn
    assert conn is not None

    async def reach() -> None:
        await conn.open_connection("127.0.0.1", grid_edge.edge.ssh_port)

    with pytest.raises(asyncssh.ChannelOpenError):
        grid_edge.loop.run(reach(), 10)
    grid_edge.loop.run(tunnel.close(), 10)


@pytest.mark.parametrize("where", ["host", "other-container", "lan"])
def test_edge_cannot_make_the_node_connect_elsewhere(
    grid_edge: Grid, service: Container, docker_client: Any, service_image: str, where: str
) -> None:
    """A hostile edge opens channels naming other destinations: the node refuses every one of them."""
    other = start_service(docker_client.api, service_image, "8080") if where == "other-container" else None
    try:
        if other is not None:
            wait_port(other.address, 8080)
        destination = {
            "host": ("127.0.0.1", 8080),  # a port on the node's own host
            "other-container": (other.address if other else "", 8080),
            "lan": ("192.0.2.2", 8080),  # this machine's LAN address
        }[where]
        tunnel = open_tunnel(grid_edge, service, (8080,))
        route_conn = next(iter(grid_edge.edge._routes.values())).conn

        async def attempt(host: str, port: int) -> None:
            await route_conn.open_connection(host, port)

        with pytest.raises(asyncssh.ChannelOpenError):
            grid_edge.loop.run(attempt(*destination), 10)
        # the job's own name with a port the node did not forward is refused too
        with pytest.raises(asyncssh.ChannelOpenError):
            grid_edge.loop.run(attempt(forward_name(grid_edge.job_id, grid_edge.attempt), 9090), 10)
        grid_edge.loop.run(tunnel.close(), 10)
    finally:
        if other is not None:
            remove_service(other)


def test_node_only_targets_its_containers_bridge_address(service: Container, docker_client: Any) -> None:
    api = docker_client.api
    assert checked_destination(api, service.id, service.network) == service.address
    inspect = api.inspect_container(service.id)
    assert not inspect["HostConfig"].get("PortBindings")  # nothing published on the host
    assert api.inspect_network(service.network)["Internal"] is True  # the container reaches nothing outside
    with pytest.raises(DestinationRefused):
        checked_destination(api, service.id, "bridge")  # not on the job's bridge
    for address in ("127.0.0.1", "0.0.0.0", "169.254.169.254"):
        with pytest.raises(DestinationRefused):
            ServiceTunnel(None, NodeKey(), "job", 1, {8080: address})  # type: ignore[arg-type]


def test_caps_on_connections_and_bytes_per_second(tmp_path: Path, service: Container) -> None:
    grid = make_grid(tmp_path, EdgeLimits(max_connections_per_port=2, bytes_per_second=1_000_000, recheck_seconds=0.2))
    try:
        tunnel = open_tunnel(grid, service, (8080,))
        url = url_of(grid, 8080)
        held = [socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1].strip("/")))) for _ in range(2)]
        time.sleep(0.3)
        with http() as client:
            busy = client.get(url)
        assert busy.status_code == 503 and b"too many connections" in busy.content
        for sock in held:
            sock.close()
        time.sleep(0.3)
        started = time.monotonic()
        with http() as client:
            body = client.get(url + "bytes", params={"n": 3_000_000}).content
        elapsed = time.monotonic() - started
        assert len(body) == 3_000_000
        assert elapsed >= 1.5, f"3 MB at a 1 MB/s cap took {elapsed:.2f} s"
        grid.loop.run(tunnel.close(), 10)
    finally:
        grid.loop.run(grid.edge.close(), 10)
        grid.loop.close()
        grid.store.close()


@pytest.fixture
def firewall() -> Any:
    """The installer's rules for job bridges (docs/sandbox.md); skipped where iptables cannot be managed."""
    import shutil
    import subprocess

    from hostapp.jobs.sandbox import FIREWALL_RULES

    if (
        shutil.which("iptables") is None
        or subprocess.run(["iptables", "-S", "DOCKER-USER"], capture_output=True).returncode
    ):
        pytest.skip("needs root and iptables with the DOCKER-USER chain (the installer's firewall rules)")
    for rule in FIREWALL_RULES:
        subprocess.run(["iptables", "-I", *rule], check=True)
    yield
    for rule in FIREWALL_RULES:
        subprocess.run(["iptables", "-D", *rule], check=False)


def test_the_tunnel_works_behind_the_installers_firewall(firewall: None, grid_edge: Grid, service: Container) -> None:
    """The rules drop what a job sends to the host; the node's own connections to the container still get replies."""
    tunnel = open_tunnel(grid_edge, service, (8080,))
    with http() as client:
        assert client.get(url_of(grid_edge, 8080)).text == "hostapp demo service\n"
    grid_edge.loop.run(tunnel.close(), 10)
