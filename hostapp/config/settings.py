"""Typed settings with defaults, validated on load; a broken file is set aside, never fatal."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hostapp.config.atomic import write_private
from hostapp.services.settings import ServiceSettings
from hostapp.shapes import Field, Shape, ShapeError

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1


class _Section(Shape, validate_assignment=True):
    pass


class GridSettings(_Section):
    # None means the embedded local grid (docs/architecture.md): a fresh install works with no account.
    url: str | None = None
    token_mint: str | None = None
    heartbeat_seconds: int = Field(default=10, ge=1, le=600)
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # "nosana" (beta, docs/nosana.md) is off unless chosen; the node does not act on it yet: the
    # GridBackend seam that routes work to Nosana comes with the daemon split.
    backend: Literal["embedded", "nosana"] = "embedded"


class SolanaSettings(_Section):
    cluster: Literal["localnet", "devnet", "mainnet-beta", "custom"] = "localnet"
    rpc_url: str | None = None


class JobLimits(_Section):
    memory_mb: int = Field(default=4096, ge=64, le=1_048_576)
    cpus: float = Field(default=2.0, gt=0, le=512)
    pids: int = Field(default=512, ge=16, le=65_536)
    tmpfs_mb: int = Field(default=256, ge=16, le=65_536)
    work_dir_mb: int = Field(default=2048, ge=16, le=1_048_576)
    log_bytes: int = Field(default=1_048_576, ge=4096, le=256 * 1_048_576)
    output_bytes: int = Field(default=64 * 1_048_576, ge=0, le=16 * 1024 * 1_048_576)
    stop_grace_seconds: int = Field(default=10, ge=0, le=600)


class ImageCacheSettings(_Section):
    budget_mb: int = Field(default=40_960, ge=512)
    prepull: list[str] = Field(default_factory=list)
    # Registry hosts (host[:port]) grid jobs may pull from although they resolve to a loopback, LAN or
    # link-local address (a registry or mirror the user runs); every other such host is refused.
    trusted_registries: list[str] = Field(default_factory=list)


class ModelSettings(_Section):
    """The model cache (hostapp/resources/): S3 and HF resources fetched once, mounted read-only."""

    budget_mb: int = Field(default=102_400, ge=1)  # every cached model together (LRU beyond it)
    max_resource_mb: int = Field(default=102_400, ge=1)  # one resource
    max_job_mb: int = Field(default=204_800, ge=1)  # every resource of one job
    hf_endpoint: str | None = None  # None: $HF_ENDPOINT, else https://huggingface.co
    hf_token: str | None = Field(default=None, repr=False)  # for gated/private HF repos (a job's own wins)
    s3_endpoint_url: str | None = None  # where s3:// URLs go; None: AWS
    # Hosts (host or host:port) grid jobs may fetch from although they resolve to a loopback, LAN or
    # link-local address (a mirror the user runs); every other such host is refused.
    trusted_hosts: list[str] = Field(default_factory=list)
    # Resources (as in a job definition: {"type": "HF", "repo": ..., "target": ...}) fetched at node start.
    prefetch: list[dict[str, object]] = Field(default_factory=list)
    concurrency: int = Field(default=4, ge=1, le=32)  # parallel downloads (files, or parts of one file)
    timeout_seconds: float = Field(default=60.0, gt=0, le=3600)  # connect/read timeout of one request
    # A cached resource is checked against its source (one listing) before a job mounts it, unless the
    # same source was listed with the same credentials this recently (0: every job lists).
    revalidate_seconds: int = Field(default=60, ge=0, le=86_400)


class OutputSettings(_Section):
    """What job outputs (data/jobs) may take on this machine, and how long they are kept."""

    max_entries_per_op: int = Field(default=10_000, ge=1, le=1_000_000)  # files + folders
    max_bytes_per_job: int = Field(default=256 * 1_048_576, ge=0, le=64 * 1024 * 1_048_576)
    budget_mb: int = Field(default=2048, ge=1, le=16 * 1_048_576)  # every kept output together
    # Grid jobs' outputs: 0 deletes them as soon as the job's result is delivered (the grid gets names only).
    keep_days: int = Field(default=0, ge=0, le=3650)
    local_keep_days: int = Field(default=7, ge=0, le=3650)  # outputs of `hostapp run-job`


class NotificationSettings(_Section):
    job_started: bool = False
    job_finished: bool = True
    payout_received: bool = True
    paused_for_game: bool = True
    error_needs_action: bool = True


class PricingSettings(_Section):
    """Where the tokens' value in money comes from (hostapp/earnings/pricing.py, docs/wallet.md)."""

    # "grid": the rate the grid declares (the embedded grid: its demo rate); "fixed": the price below;
    # "off": tokens only.
    source: Literal["grid", "fixed", "off"] = "grid"
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")  # None: from the locale, else USD
    minor_units_per_token: int = Field(default=0, ge=0, le=10**12)  # "fixed": cents (minor units) per token
    sol_minor_units_per_sol: int = Field(default=0, ge=0, le=10**12)  # "fixed": SOL's price, for fees (0: unknown)
    # Estimates before the first job assume the card has work this share of the day.
    utilisation_percent: int = Field(default=50, ge=1, le=100)


class GpuSettings(_Section):
    enabled_uuids: list[str] | None = None  # None: every detected GPU
    telemetry_interval_seconds: float = Field(default=1.0, ge=0.1, le=60)
    # Which GPU processes pause work (allow/deny lists) is a schedule rule: config/schedule.json.


class Settings(_Section):
    version: int = SETTINGS_VERSION
    grid: GridSettings = Field(default_factory=GridSettings)
    solana: SolanaSettings = Field(default_factory=SolanaSettings)
    jobs: JobLimits = Field(default_factory=JobLimits)
    image_cache: ImageCacheSettings = Field(default_factory=ImageCacheSettings)
    outputs: OutputSettings = Field(default_factory=OutputSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    gpus: GpuSettings = Field(default_factory=GpuSettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    services: ServiceSettings = Field(default_factory=ServiceSettings)  # jobs that expose ports (docs/services.md)
    autostart: bool = False
    # Thousandths of the user's currency per kWh: integers, like every amount in hostapp.
    electricity_milli_per_kwh: int = Field(default=0, ge=0, le=10_000_000)
    electricity_currency: str = Field(default="EUR", min_length=1, max_length=8)
    # What one whole grid token is worth to the user, in thousandths of electricity_currency
    # (0: unknown, and earnings are shown in tokens beside the electricity cost, not netted).
    token_price_milli: int = Field(default=0, ge=0, le=10**15)
    payout_address: str | None = None


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    problem: str | None = None  # set when the file was broken and defaults are in use


def load_settings(path: Path) -> LoadedSettings:
    if not path.exists():
        return LoadedSettings(Settings())
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return LoadedSettings(Settings.model_validate(raw))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ShapeError) as exc:
        backup = path.with_name(path.name + ".bak")
        os.replace(path, backup)
        problem = (
            f"settings file {path} is broken ({_first_line(exc)}); it was kept as {backup.name} "
            "and defaults are in use: fix or delete it, then restart"
        )
        log.warning(problem)
        return LoadedSettings(Settings(), problem)


def save_settings(path: Path, settings: Settings) -> None:
    write_private(path, (settings.model_dump_json(indent=2) + "\n").encode("utf-8"))


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ShapeError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "<root>"
        return f"{where}: {err['msg']}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
