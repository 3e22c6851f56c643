"""The embedded grid's demo job: real inference-style compute on the CPU, so any machine completes the loop.

The image is built locally (scripts/build-images.sh) from hostapp/grid/demo_job.py; it needs no
registry. The feeder keeps exactly one demo job queued, so a node always has something to run.
"""

from __future__ import annotations

from typing import Any

DEMO_IMAGE = "hostapp/demo-inference:1"
DEMO_PRICE_PER_SECOND = 1_000  # test-token base units
DEMO_TIMEOUT_SECONDS = 300


def demo_definition() -> dict[str, Any]:
    return {
        "version": "0.1",
        "type": "container",
        "meta": {"trigger": "hostapp-local-grid", "description": "demo inference (CPU)"},
        "ops": [
            {
                "type": "container/run",
                "id": "demo-inference",
                "args": {
                    "image": DEMO_IMAGE,
                    "env": {"DEMO_BATCH": "256", "DEMO_WIDTH": "128"},  # a few seconds of CPU work
                },
                "results": {"checksum": r"checksum (-?[0-9.]+)"},
            }
        ],
    }
