"""The network a service container sits on, and the one address the node's tunnel may connect to.

A service job gets its own bridge like a job with network does (docs/sandbox.md), but *internal* unless
the market also granted outbound network: the node (on the host) reaches the container on the bridge,
the container reaches nothing outside it, and no port is published on the host. The tunnel's targets are
checked here: an address on the job's own bridge subnet that is the container's own (not the gateway,
which is the host, and not another network's container).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hostapp.jobs import sandbox


class DestinationRefused(ValueError):
    """The tunnel was asked to connect somewhere other than the job's container."""


def network_create_kwargs(
    job_id: str, attempt: int, instance_id: str, owner: str | None, outbound: bool
) -> dict[str, Any]:
    """The job's bridge as sandbox.network_create_kwargs makes it, internal unless `outbound`."""
    kwargs = sandbox.network_create_kwargs(job_id, attempt, instance_id, owner=owner)
    kwargs["internal"] = not outbound
    return kwargs


def container_address(api: Any, container_id: str, network: str) -> str:
    """The container's IPv4 address on `network` (the job's bridge)."""
    info = api.inspect_container(container_id)
    settings = (info.get("NetworkSettings") or {}).get("Networks") or {}
    address = (settings.get(network) or {}).get("IPAddress")
    if not address:
        raise DestinationRefused(f"container {container_id[:12]} has no address on {network}")
    return str(address)


def destination_problem(address: str, subnets: list[str], gateways: list[str]) -> str | None:
    """Why `address` is not a job container on a bridge with `subnets` and `gateways` (None: it is one)."""
    ip = ipaddress.ip_address(address)
    if not any(ip in ipaddress.ip_network(subnet) for subnet in subnets):
        return f"{address} is not on the job's bridge ({', '.join(subnets) or 'no subnet'})"
    if address in gateways or ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_link_local:
        return f"{address} is the host side of the bridge or not a container address"
    return None


def checked_destination(api: Any, container_id: str, network: str) -> str:
    """The container's address, after checking it is a plain host on the job's bridge subnet."""
    address = container_address(api, container_id, network)
    config = (api.inspect_network(network).get("IPAM") or {}).get("Config") or []
    problem = destination_problem(
        address, [c["Subnet"] for c in config if c.get("Subnet")], [c["Gateway"] for c in config if c.get("Gateway")]
    )
    if problem is not None:
        raise DestinationRefused(problem)
    published = (api.inspect_container(container_id).get("HostConfig") or {}).get("PortBindings") or {}
    if published:
        raise DestinationRefused(f"container {container_id[:12]} publishes ports on the host: refused")
    return address
