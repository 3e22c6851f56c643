"""The runner fixtures of the job tests, reused here (same engine, own instance label per test)."""

from __future__ import annotations

from tests.integration.jobs.conftest import make_runner, store

__all__ = ["make_runner", "store"]
