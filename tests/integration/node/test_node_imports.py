"""What `hostapp node` holds in memory while it works (the node's RSS budget, docs/benchmarks.md).

Real parts: `hostapp node`'s own entry (hostapp.cli.run) in its own process on the embedded grid,
demo jobs in the real Docker engine, the wallet in the real Secret Service. A thread in that process
reports its sys.modules once `hostapp status` (another process) says it is working."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.node.test_embedded import hostapp

pytestmark = [pytest.mark.docker, pytest.mark.keyring, pytest.mark.slow]

# Loaded by `import httpx` for httpx's command line whenever they are installed; the node never uses them.
HTTPX_CLI_ONLY = ("click", "rich", "pygments")

NODE_REPORTING_ITS_MODULES = textwrap.dedent(
    """
    import json, os, signal, subprocess, sys, threading, time

    from hostapp.cli import run


    def report_when_working() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ran = subprocess.run([sys.executable, "-m", "hostapp", "status", "--json"], capture_output=True, text=True)
            if ran.returncode == 0 and json.loads(ran.stdout).get("state") == "working":
                loaded = sorted(name for name, module in list(sys.modules.items()) if module is not None)
                print("MODULES " + json.dumps(loaded), flush=True)
                break
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # the node's own stop: jobs stopped, the grid released


    threading.Thread(target=report_when_working, daemon=True).start()
    sys.exit(run(["node"]))
    """
)


def test_working_node_has_not_loaded_httpx_command_line(hostapp_home: Path, local_images: None) -> None:
    missing = [name for name in HTTPX_CLI_ONLY if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed here: `import httpx` cannot load its command line anyway")
    hostapp("wallet", "create", "--yes-i-wrote-it-down")
    ran = subprocess.run(
        [sys.executable, "-c", NODE_REPORTING_ITS_MODULES],
        capture_output=True,
        text=True,
        timeout=240,
        env=dict(os.environ),
    )
    reports = [line for line in ran.stdout.splitlines() if line.startswith("MODULES ")]
    assert reports, f"the node never reported working:\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
    assert ran.returncode == 0, ran.stderr[-3000:]
    loaded = set(json.loads(reports[0].removeprefix("MODULES ")))
    assert "httpx" in loaded and "hostapp.node.slots" in loaded  # it talks to the grid over httpx
    top_level = {name.split(".")[0] for name in loaded}
    assert top_level.isdisjoint(HTTPX_CLI_ONLY), sorted(top_level & set(HTTPX_CLI_ONLY))
