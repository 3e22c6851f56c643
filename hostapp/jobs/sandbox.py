"""The container sandbox: the one place that decides how a job's container is created.

Every setting here is fixed by hostapp (docs/sandbox.md); a job definition only supplies image, command,
entrypoint, env and working directory, and the models in definition.py reject anything else. So a
job cannot loosen these defaults: no privileged mode, no capabilities, no new privileges, read-only
root, bounded /tmp, one per-job writable volume, limits from settings, no host paths, no host
namespaces, no network unless granted, only the assigned GPU.

The one host path a container gets: a model resource from the node's model cache, bind-mounted
READ-ONLY (hostapp/resources/cache.py). The source must be an entry inside the cache folder, checked
here with symlinks resolved, never a path from the job; `allowWrite` resources get a per-job volume.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from hostapp.config.settings import JobLimits

LABEL_JOB = "hostapp.job_id"
LABEL_ATTEMPT = "hostapp.attempt"
LABEL_OP = "hostapp.op_id"
LABEL_INSTANCE = "hostapp.instance"
LABEL_KIND = "hostapp.kind"  # container / work-volume / volume / network
LABEL_OWNER = "hostapp.owner"  # the process running the job (hostapp/jobs/ownership.py)

DEFAULT_WORK_MOUNT = "/work"
# Bridge interfaces of job networks all start with this, so static firewall rules installed once
# (`iptables -I INPUT -i hostapp+ -j DROP`, see docs/sandbox.md) cover every job without the app
# needing root at run time.
BRIDGE_PREFIX = "hostapp"


# Installed once by the installer (root), they cover every job bridge by its interface prefix:
# no packets from a job to the host itself, nor to private/LAN/link-local ranges; the internet stays open.
FIREWALL_RULES: tuple[tuple[str, ...], ...] = (
    ("INPUT", "-i", f"{BRIDGE_PREFIX}+", "-j", "DROP"),
    # Inserted after (so above) the DROP: replies to connections the host opened to a job, which is how the
    # node reaches a service container (docs/services.md); a job still cannot open one to the host.
    ("INPUT", "-i", f"{BRIDGE_PREFIX}+", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"),
    *(
        ("DOCKER-USER", "-i", f"{BRIDGE_PREFIX}+", "-d", cidr, "-j", "DROP")
        for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10")
    ),
)


def resource_name(job_id: str, attempt: int, suffix: str) -> str:
    """Docker object names for a job attempt; job ids are plain ASCII ids (definition.ID_PATTERN)."""
    return f"hostapp-{job_id}-{attempt}-{suffix}"


def bridge_interface(job_id: str, attempt: int) -> str:
    digest = hashlib.sha256(f"{job_id}/{attempt}".encode()).hexdigest()[:8]
    return f"{BRIDGE_PREFIX}{digest}"  # 15 characters: the Linux limit for interface names


def job_labels(
    instance_id: str, job_id: str, attempt: int, kind: str, op_id: str | None = None, owner: str | None = None
) -> dict[str, str]:
    labels = {LABEL_INSTANCE: instance_id, LABEL_JOB: job_id, LABEL_ATTEMPT: str(attempt), LABEL_KIND: kind}
    if op_id is not None:
        labels[LABEL_OP] = op_id
    if owner is not None:
        labels[LABEL_OWNER] = owner
    return labels


@dataclass(frozen=True)
class OpSandbox:
    """What one container/run op gets; built by the runner from the resolved op arguments."""

    image: str
    command: list[str] | None
    entrypoint: list[str] | None
    env: dict[str, str]
    work_dir: str | None
    work_volume: str  # the per-job writable Docker volume
    work_mount: str  # where it appears in the container (the op's `output`, or /work)
    job_volumes: dict[str, str] = field(default_factory=dict)  # job-created volume name -> dest
    network: str | None = None  # the job's own bridge network; None: no network at all
    gpu_uuid: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    model_mounts: dict[str, str] = field(default_factory=dict)  # container target -> model cache entry
    model_root: str | None = None  # the model cache's entries folder: the only host folder mounted
    model_volumes: dict[str, str] = field(default_factory=dict)  # allowWrite: per-job volume -> target


class SandboxError(ValueError):
    """A mount the sandbox refuses (a programming error, never a job's choice)."""


def model_mount_source(source: str, root: str | None) -> str:
    """`source` with symlinks resolved, if it is a folder directly inside the model cache's `root`."""
    if root is None:
        raise SandboxError("model mounts need the model cache folder")
    real_root = os.path.realpath(root)
    real = os.path.realpath(source)
    if os.path.dirname(real) != real_root or not os.path.isdir(real):
        raise SandboxError(f"refusing to mount {source}: not an entry of the model cache {root}")
    return real


def host_config_kwargs(sandbox: OpSandbox, limits: JobLimits) -> dict[str, Any]:
    """Keyword arguments for docker's `APIClient.create_host_config`: the defences, all fixed."""
    from docker.types import DeviceRequest, LogConfig, Mount

    mounts = [Mount(target=sandbox.work_mount, source=sandbox.work_volume, type="volume")]
    mounts += [Mount(target=dest, source=name, type="volume") for name, dest in sandbox.job_volumes.items()]
    mounts += [Mount(target=dest, source=name, type="volume") for name, dest in sandbox.model_volumes.items()]
    mounts += [
        Mount(target=target, source=model_mount_source(source, sandbox.model_root), type="bind", read_only=True)
        for target, source in sandbox.model_mounts.items()
    ]
    device_requests = []
    if sandbox.gpu_uuid is not None:
        device_requests.append(DeviceRequest(driver="nvidia", device_ids=[sandbox.gpu_uuid], capabilities=[["gpu"]]))
    return {
        "privileged": False,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={limits.tmpfs_mb}m"},
        "mounts": mounts,
        "binds": None,
        "network_mode": sandbox.network or "none",
        "ipc_mode": "private",
        "pids_limit": limits.pids,
        "mem_limit": limits.memory_mb * 1024 * 1024,
        "memswap_limit": limits.memory_mb * 1024 * 1024,  # equal to mem_limit: no swap on top
        "nano_cpus": int(limits.cpus * 1_000_000_000),
        "device_requests": device_requests,
        # The engine's own copy of the logs is capped too, so a flood cannot fill the disk.
        "log_config": LogConfig(
            type="json-file", config={"max-size": str(max(limits.log_bytes, 65_536)), "max-file": "1"}
        ),
        "init": False,
        "oom_kill_disable": False,
        "restart_policy": {"Name": "no"},
    }


def create_container_kwargs(api: Any, sandbox: OpSandbox, limits: JobLimits, name: str) -> dict[str, Any]:
    """Keyword arguments for `APIClient.create_container` (the low-level call: no extra inspect)."""
    return {
        "image": sandbox.image,
        "command": sandbox.command,
        "entrypoint": sandbox.entrypoint,
        "environment": dict(sandbox.env),
        "working_dir": sandbox.work_dir,
        "labels": dict(sandbox.labels),
        "name": name,
        "detach": True,
        "stdin_open": False,
        "tty": False,
        "network_disabled": sandbox.network is None,
        "stop_signal": "SIGTERM",
        "stop_timeout": limits.stop_grace_seconds,
        "host_config": api.create_host_config(**host_config_kwargs(sandbox, limits)),
    }


def network_create_kwargs(job_id: str, attempt: int, instance_id: str, owner: str | None = None) -> dict[str, Any]:
    """The job's own bridge: no inter-container traffic, a recognisable interface name for the firewall."""
    return {
        "name": resource_name(job_id, attempt, "net"),
        "driver": "bridge",
        "internal": False,
        "check_duplicate": True,
        "options": {
            "com.docker.network.bridge.name": bridge_interface(job_id, attempt),
            "com.docker.network.bridge.enable_icc": "false",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
        },
        "labels": job_labels(instance_id, job_id, attempt, "network", owner=owner),
    }
