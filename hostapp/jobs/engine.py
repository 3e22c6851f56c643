"""The Docker engine connection, shared by the runner and doctor, with errors a user can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker


class EngineUnavailable(Exception):
    """The Docker engine does not answer; the message says how to start it."""


START_HINT = (
    "start the Docker engine (Linux: `sudo systemctl start docker`, or `sudo dockerd &` without "
    "systemd; Windows: start Docker Desktop) and check DOCKER_HOST"
)


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


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
