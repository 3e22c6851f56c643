"""The embedded demo grid keeps a service job in its mix: a new user's node serves it through the
tunnel, the demo grid's poster calls its URL, and the tray's line says what it serves and what moved.
Real parts: the local grid (HTTP API, SSH edge, demo feed, its poster), a real node, Docker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hostapp.gui.tray import serving_text
from hostapp.localgrid import server
from hostapp.localgrid.demo import DEMO_SERVICE_IMAGE
from hostapp.localgrid.server import GridConfig, LocalGrid
from tests.support import wait_for

from .node_harness import NodeHarness

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_the_demo_feed_serves_a_service_that_its_poster_calls(
    tmp_path: Path, docker_client: Any, service_image: str, local_images: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "DEMO_SERVICE_EVERY", 1)  # every demo job a service: no waiting for the 8th
    monkeypatch.setattr(server, "DEMO_SERVICE_SECONDS", 20)
    grid = LocalGrid(tmp_path / "grid", config=GridConfig(demo_feed=True))
    grid.start()
    h = NodeHarness(tmp_path, grid, docker_client)
    h.node.start()
    try:
        assert grid.poster is not None
        wait_for(lambda: grid.poster.answered >= 2, timeout=90, what="the demo poster's requests answered")
        traffic = wait_for(
            lambda: [t for t in h.topics("service.traffic") if t["connections"] >= 1], timeout=30, what="traffic"
        )[-1]
        assert traffic["image"] == DEMO_SERVICE_IMAGE and traffic["bytes_out"] > 0
        line = serving_text(traffic)
        assert line.startswith(f"Serving {DEMO_SERVICE_IMAGE} — ") and "connection" in line
        finished = wait_for(
            lambda: [f for f in h.topics("node.job_finished") if f["status"] == "succeeded"], timeout=60, what="end"
        )
        assert finished  # served until its timeout: a served service succeeds and is billed
    finally:
        h.close()
        grid.stop()
