"""The `services` section of settings: caps and timings for service jobs (docs/services.md)."""

from __future__ import annotations

from hostapp.shapes import Field, Shape

DEFAULT_MAX_PORTS = 8


class ServiceSettings(Shape, validate_assignment=True):
    max_ports_per_job: int = Field(default=DEFAULT_MAX_PORTS, ge=1, le=64)
    # A game (or other preempting reason) cannot freeze a service transparently: it keeps serving this long,
    # then it is stopped and released and the grid re-offers it. 0: at once.
    preempt_grace_seconds: int = Field(default=60, ge=0, le=3600)
    health_interval_seconds: float = Field(default=5.0, gt=0, le=600)
    health_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    health_retries: int = Field(default=3, ge=0, le=100)
    startup_seconds: float = Field(default=300.0, gt=0, le=3600)  # to pass the checks the first time
