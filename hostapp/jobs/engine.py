"""The Docker engine connection, shared by the runner and doctor, with errors a user can act on.

This is the one module that touches docker-py's private API (`api._post`, `api._url`, ...): those
methods change without notice between docker-py releases, so every use of them lives here, behind a
function with a stable meaning (tests/unit/jobs/test_docker_private_api.py keeps it so).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker


class EngineUnavailable(Exception):
    """The Docker engine does not answer; the message says how to start it."""


LINUX_START_HINT = (
    "start the Docker engine (`sudo systemctl start docker`, or `sudo dockerd &` without systemd) and check DOCKER_HOST"
)
WINDOWS_START_HINT = (
    "start Docker Desktop (with the WSL 2 backend) and wait until it says it is running; "
    "if it is not installed, install Docker Desktop for Windows"
)


def start_hint(platform: str = sys.platform) -> str:
    """What the user does, for the platform they are on: a Windows user is not told about systemd."""
    return WINDOWS_START_HINT if platform == "win32" else LINUX_START_HINT


START_HINT = start_hint()


def connect(timeout: float = 30.0) -> docker.DockerClient:
    """The engine client. It reads the user's registry logins (~/.docker/config.json) and would send
    them with any pull given no `auth_config`: pulls for grid jobs therefore always pass one
    (`ImageCache.pull(user_credentials=False)`), never relying on this client's defaults."""
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(f"Docker engine not reachable ({_short(exc)}): {START_HINT}") from exc
    except Exception as exc:  # requests' connection errors surface un-wrapped from ping()
        raise EngineUnavailable(f"Docker engine not reachable ({_short(exc)}): {START_HINT}") from exc
    return client


def gpu_runtime(info: dict[str, Any]) -> tuple[bool, str]:
    """Whether the engine can hand a GPU to a container: the nvidia runtime or NVIDIA CDI devices."""
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    cdi = [d.get("ID", "") for d in (info.get("DiscoveredDevices") or []) if d.get("Source") == "cdi"]
    nvidia_cdi = [d for d in cdi if d.startswith("nvidia.com/gpu")]
    if "nvidia" in runtimes:
        return True, f"nvidia runtime registered (runtimes: {', '.join(runtimes)})"
    if nvidia_cdi:
        return True, f"NVIDIA CDI devices: {', '.join(nvidia_cdi[:4])}"
    return False, f"no nvidia runtime or NVIDIA CDI device in the engine (runtimes: {', '.join(runtimes)})"


GPU_RUNTIME_HINT = (
    "install nvidia-container-toolkit, then `sudo nvidia-ctk runtime configure --runtime=docker` and restart the engine"
)


# The multiplexed stream numbers of an attach: 0 is stdin, 1 stdout, 2 stderr.
STREAM_TYPES = {0: "stdin", 1: "stdout", 2: "stderr"}


def attach_output(api: Any, container_id: str) -> tuple[Any, Iterator[tuple[str, bytes]]]:
    """Attach to a created (not yet started) container's stdout and stderr: (response, frames).

    Attaching before start loses nothing, and the job waits for the reader rather than the engine's log
    file rotating under a follower (a flood is slowed down, never half-recorded). docker-py's public
    `attach()` cannot be used before start without a race, hence its private request helpers. Close
    `response` when done; `frames` yields ("stdout" | "stderr", bytes) until the container exits.
    """
    from docker.utils.socket import frames_iter

    response = api._post(
        api._url("/containers/{0}/attach", container_id),
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        params={"logs": 0, "stdout": 1, "stderr": 1, "stream": 1},
        stream=True,
    )
    api._raise_for_status(response)
    sock = api._get_raw_response_socket(response)
    api._disable_socket_timeout(sock)  # a job may be silent for longer than the client timeout
    frames = ((STREAM_TYPES.get(stream, "stdout"), data) for stream, data in frames_iter(sock, False))
    return response, frames


def volume_usage(api: Any) -> dict[str, int]:
    """Bytes used by each volume, from the engine's own accounting (`/system/df`)."""
    # type=volume keeps the engine from sizing images and build cache too (ignored before API 1.42);
    # docker-py's public df() cannot pass it.
    usage = api._result(api._get(api._url("/system/df"), params={"type": "volume"}), True)
    return {
        str(volume.get("Name")): int((volume.get("UsageData") or {}).get("Size") or 0)
        for volume in usage.get("Volumes") or []
    }


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0][:200] if text else type(exc).__name__
    if "CreateFile" in first and "not found" in first.lower():
        # pywin32's "(2, 'CreateFile', 'File not found.')": the named pipe Docker Desktop serves is absent.
        return "Docker Desktop's engine pipe is not there: Docker Desktop is not running"
    return first


def failure_reason(exc: BaseException) -> str:
    """A one-line, user-facing reason for an engine-side failure."""
    text = str(getattr(exc, "explanation", None) or exc).strip().splitlines()
    first = text[0][:300] if text else type(exc).__name__
    lowered = first.lower()
    if "no space left" in lowered:
        return f"disk full: {first}: free disk space (docker system df) and retry"
    name = type(exc).__name__
    if name in ("ConnectionError", "EngineUnavailable") or "connection refused" in lowered or "no such file" in lowered:
        return f"Docker engine not reachable ({first}): {START_HINT}"
    if isinstance(exc, OSError) and not name.startswith("Connection"):
        return f"{name}: {first}"
    return first
