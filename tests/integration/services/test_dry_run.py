"""`hostapp run-job --dry-run` on service definitions: runnable, with each port and its checks printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.docker

NGINX = {
    "version": "0.1",
    "type": "container",
    "ops": [
        {
            "type": "container/run",
            "id": "nginx",
            "args": {
                "image": "nginx",
                "expose": [
                    {
                        "port": 80,
                        "type": "web",
                        "health_checks": [
                            {"type": "http", "path": "/", "method": "GET", "expected_status": 200, "continuous": True}
                        ],
                    },
                    9000,
                    "9100-9101",
                ],
            },
        }
    ],
}


def dry_run(home: Path, definition: dict[str, object], *flags: str) -> subprocess.CompletedProcess[str]:
    path = home.parent / "service.json"
    path.write_text(json.dumps(definition))
    return subprocess.run(
        [sys.executable, "-m", "hostapp", "run-job", "--dry-run", "--standalone", *flags, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "HOSTAPP_HOME": str(home)},
        cwd=ROOT,
        timeout=120,
    )


def test_dry_run_prints_ports_and_checks(hostapp_home: Path) -> None:
    proc = dry_run(hostapp_home, NGINX)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "plan:   port 80 (web): http GET / -> 200, continuous" in lines
    assert "plan:   port 9000: no health checks" in lines
    assert "plan:   port 9101: no health checks" in lines
    assert "runnable on this machine" in lines
    as_json = json.loads(dry_run(hostapp_home, NGINX, "--json").stdout)
    assert as_json["runnable"] and [p["port"] for p in as_json["plan"][0]["expose"]] == [80, 9000, 9100, 9101]


def test_dry_run_refuses_too_many_ports_with_the_setting_named(hostapp_home: Path) -> None:
    too_many = json.loads(json.dumps(NGINX))
    too_many["ops"][0]["args"]["expose"] = "8000-8100"
    proc = dry_run(hostapp_home, too_many)
    assert proc.returncode == 3
    assert "unsupported: op nginx: args.expose: 101 ports; this host serves at most 8 per job" in proc.stdout
