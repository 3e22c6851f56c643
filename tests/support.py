"""Helpers shared by the integration tests (no fixtures: those live in conftest.py)."""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from solders.keypair import Keypair

from hostapp.wallet.keystore import KeypairKeystore

# The project's own job definitions, one per feature of the format (README: "Test layout").
JOBS_DIR = Path(__file__).resolve().parent / "fixtures" / "jobs"


def job_file(name: str) -> Path:
    return JOBS_DIR / f"{name}.json"


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def busybox_job(seconds: float, text: str = "work") -> dict[str, Any]:
    """A one-op job definition that prints, sleeps `seconds` and prints again (local busybox image)."""
    command = f"echo start {text}; sleep {seconds}; echo done {text}"
    return {
        "version": "0.1",
        "type": "container",
        "ops": [
            {
                "type": "container/run",
                "id": "run",
                "args": {"image": "hostapp-test/busybox:latest", "cmd": ["sh", "-c", command]},
            }
        ],
    }


class FreshKeystore(KeypairKeystore):
    """The wallet's own Keystore over a new random key: a node identity for tests."""

    def __init__(self) -> None:
        super().__init__(Keypair())


def push_fresh_image(docker_client: Any, source: str, ref: str) -> str:
    """Build a fresh image (a random layer on top of `source`), push it, and delete it locally."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (
            ("Dockerfile", f"FROM {source}\nCOPY payload /payload\n".encode()),
            ("payload", os.urandom(256 * 1024)),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=ref, rm=True)
    for _ in docker_client.api.push(ref, stream=True, decode=True):
        pass
    digest = next(d for d in docker_client.images.get(ref).attrs["RepoDigests"] if d.startswith(ref.split(":")[0]))
    docker_client.images.remove(ref)  # only the registry has it now
    return digest


def gpu_sample(temperature_c: int = 60, power_w: float = 212.5) -> Any:
    """One telemetry reading of a busy card, as the sampler publishes it (hostapp.gpu.probe.GpuSample)."""
    from hostapp.gpu.probe import GpuSample

    return GpuSample(
        uuid="GPU-abc",
        index=0,
        at=time.time(),
        temperature_c=temperature_c,
        power_w=power_w,
        fan_percent=40,
        utilization_gpu_percent=97,
        utilization_memory_percent=50,
        memory_used_bytes=6 * 2**30,
        memory_free_bytes=2 * 2**30,
        clock_graphics_mhz=1800,
        clock_sm_mhz=1800,
        clock_memory_mhz=9000,
        throttle_reasons=(),
    )


def in_process_node(services: Any) -> Any:
    """The node's control side (hostapp/node/daemon.py) over `services`, serving its real control
    socket in this process and starting the node once a wallet with a confirmed backup exists, as
    `hostapp node --wait-for-wallet` does. Stop it with `.stop()`."""
    from hostapp.node.daemon import NodeDaemon

    daemon = NodeDaemon(services)
    daemon.serve()
    daemon.start()
    return daemon


def tray_services(paths: Any) -> tuple[Any, Any]:
    """The tray's services and link to the node serving `paths`' control socket (in this process or
    another), over that socket only, as the tray app builds them, once the node gave its first
    answer. Returns (GuiServices, NodeLink)."""
    from hostapp.config.settings import load_settings
    from hostapp.control.client import NodeClient, NodeSupervisor
    from hostapp.events import EventBus
    from hostapp.gui.remote import NodeLink
    from hostapp.gui.wiring import build_gui_services

    client = NodeClient(paths.control_socket)
    # A supervisor that never spawns: the node under test is the one already serving.
    link = NodeLink(client, NodeSupervisor(client, paths.logs / "node-console.log", argv=["false"]), EventBus())
    link.start()
    wait_for(lambda: link.refresh().state.value != "starting", timeout=10, what="the node's first status")
    return build_gui_services(paths, load_settings(paths.settings_file).settings, link), link


# A tray process with no node answering (its supervisor never spawns one): the start of the scripts
# that tests run in a fresh interpreter to see what the tray alone loads. `tray_app` is built, its
# window not yet.
TRAY_WITHOUT_NODE = """
import sys
from hostapp.config.paths import default_paths
from hostapp.config.settings import load_settings
from hostapp.control.client import NodeClient, NodeSupervisor
from hostapp.events import EventBus
from hostapp.gui.app import build_tray_app, ensure_application
from hostapp.gui.remote import NodeLink
from hostapp.gui.wiring import build_gui_services
app = ensure_application()
paths = default_paths().ensure()
client = NodeClient(paths.control_socket)
link = NodeLink(client, NodeSupervisor(client, paths.logs / "node.log", argv=["false"]), EventBus())
tray_app = build_tray_app(build_gui_services(paths, load_settings(paths.settings_file).settings, link))
"""


def run_tray_probe(script: str, home: Path) -> list[str]:
    """Runs TRAY_WITHOUT_NODE + `script` in a fresh interpreter over `home`; returns its stdout lines."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOSTAPP_HOME=str(home))
    done = subprocess.run(
        [sys.executable, "-c", TRAY_WITHOUT_NODE + script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=root,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()
