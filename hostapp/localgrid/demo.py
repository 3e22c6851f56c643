"""The embedded grid's demo job: real inference-style compute on the CPU, so any machine completes the loop.

The image is built locally (scripts/build-images.sh) from hostapp/localgrid/demo_job.py; it needs no
registry. The feeder keeps exactly one demo job queued, so a node always has something to run.
"""

from __future__ import annotations

from typing import Any

DEMO_IMAGE = "hostapp/demo-inference:1"
DEMO_PRICE_PER_SECOND = 1_000  # test-token base units
DEMO_TIMEOUT_SECONDS = 300
DEMO_SERVICE_IMAGE = "hostapp/demo-service:1"  # a small HTTP server (hostapp/services/demo_server.py)
DEMO_SERVICE_EVERY = 8  # one demo job in this many is a service: a new user sees a URL answer
DEMO_SERVICE_SECONDS = 40  # a service runs until its timeout; billed per started second as any job
# The demo rate the embedded grid declares on /v1/health (hostapp/earnings/pricing.py): 1 test token = $0.05,
# so the demo job's 0.001 token/s is $4.32 a day of full work — the order of what a gaming GPU
# earns on consumer compute grids, so the figures look like what a real grid would pay.
DEMO_RATE_MINOR_UNITS = 5
DEMO_RATE_CURRENCY = "USD"
DEMO_SOL_PRICE_MINOR_UNITS = 15_000  # $150 per SOL: the order of its market price, for fee figures
# SOL the embedded grid gives a newly registered node for withdrawal fees (local chain airdrop,
# once per node): ~2000 transfers at 5000 lamports, or a few recipient token accounts (0.002 SOL each).
FEE_FUNDING_LAMPORTS = 10_000_000


def demo_token_price(now: int) -> dict[str, Any]:
    """The rate the embedded grid declares (models.TokenPrice fields): fixed, so always as of now."""
    return {
        "minor_units_per_token": DEMO_RATE_MINOR_UNITS,
        "currency": DEMO_RATE_CURRENCY,
        "as_of": now,
        "sol_minor_units_per_sol": DEMO_SOL_PRICE_MINOR_UNITS,
    }


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


def demo_service_definition() -> dict[str, Any]:
    """The demo's service job: serves HTTP on port 8080 through the grid's tunnel until its timeout;
    the demo grid's poster (hostapp/localgrid/demo_poster.py) calls its URL while it runs."""
    return {
        "version": "0.1",
        "type": "container",
        "meta": {"trigger": "hostapp-local-grid", "description": "demo inference service (HTTP)"},
        "ops": [
            {
                "type": "container/run",
                "id": "demo-service",
                "args": {
                    "image": DEMO_SERVICE_IMAGE,
                    "env": {"PORTS": "8080"},
                    "expose": [
                        {
                            "port": 8080,
                            "type": "api",
                            "health_checks": [
                                {"type": "http", "path": "/health", "method": "GET", "expected_status": 200}
                            ],
                        }
                    ],
                },
            }
        ],
    }
