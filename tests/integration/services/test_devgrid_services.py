"""`hostapp devgrid submit | jobs | stop` with a service job: the URLs printed, listed, and the stop obeyed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.cli import run
from hostapp.localgrid.server import LocalGrid
from tests.support import wait_for

from .node_harness import NodeHarness, service_job

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


def test_devgrid_prints_lists_and_stops_a_service(
    tmp_path: Path,
    grid: LocalGrid,
    docker_client: Any,
    service_image: str,
    hostapp_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    h = NodeHarness(tmp_path, grid, docker_client)
    h.node.start()
    try:
        job_file = tmp_path / "service.json"
        job_file.write_text(json.dumps(service_job()))
        owner = ["--url", grid.url, "--token", grid.owner_token]
        assert run(["devgrid", "submit", str(job_file), *owner]) == 0
        lines = capsys.readouterr().out.splitlines()
        job_id = lines[0]
        assert job_id.startswith("job-") and lines[1].startswith("url 8080 http://127.0.0.1:"), lines
        url = lines[1].split()[2]
        wait_for(lambda: answers(url), timeout=10, what="the printed URL answering")

        assert run(["devgrid", "jobs", *owner]) == 0
        assert f"  port 8080: {url}" in capsys.readouterr().out
        assert run(["devgrid", "jobs", "--json", *owner]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert listed[0]["services"][0]["url"] == url

        assert run(["devgrid", "stop", job_id, *owner]) == 0
        assert capsys.readouterr().out.strip() == f"stopping {job_id}"
        wait_for(lambda: not answers(url), timeout=15, what="the URL closing")
        wait_for(lambda: h.job(job_id)["state"] == "succeeded", timeout=30, what="the stopped service billed")
        assert run(["devgrid", "stop", job_id, *owner]) == 1  # nothing left to stop: one clear line
        assert "serves no URL now" in capsys.readouterr().err
    finally:
        h.close()
