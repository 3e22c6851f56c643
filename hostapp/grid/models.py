"""Request and response bodies of the grid protocol (the OpenAPI document is generated from these).

Money and durations are integers (token base units, whole seconds); unknown fields are refused
so a typo in a client is an error, not a silently ignored setting.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hostapp.resources.identity import MAX_HELD_RESOURCES, RESOURCE_ID_PATTERN

MAX_PRICE_PER_SECOND = 10**15
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_LOG_CHARS = 64 * 1024
MAX_LEASE_WAIT_SECONDS = 60

Name = Annotated[str, StringConstraints(max_length=256)]
JobId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
ResourceId = Annotated[str, StringConstraints(pattern=RESOURCE_ID_PATTERN)]
Address = Annotated[str, StringConstraints(pattern=r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
JobState = Literal["queued", "leased", "succeeded", "failed"]
ResultStatus = Literal["succeeded", "failed", "stopped"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class TokenPrice(BaseModel):
    """What the grid says one whole token is worth: integer minor units (cents) of `currency`."""

    minor_units_per_token: int
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    as_of: int  # unix time the price was set
    sol_minor_units_per_sol: int | None = None  # SOL in the same currency (what withdrawal fees cost)


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    time: int
    jobs_queued: int
    token_price: TokenPrice | None = None  # None: the grid declares no rate
    offered_price_per_second: int | None = None  # token base units/s the grid offers now (its demo job)


# ---------------------------------------------------------------- node calls


class GpuInfo(_Body):
    uuid: Name
    name: Name = ""
    vram_mb: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    compute_capability: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,2}\.[0-9]{1,2}$")] | None = None


class NodeRegistration(_Body):
    gpus: Annotated[list[GpuInfo], Field(max_length=64)] = []
    driver_version: Name | None = None
    cuda_version: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}\.[0-9]{1,3}$")] | None = None
    app_version: Name | None = None
    payout_address: Address | None = None


class NodeInfo(BaseModel):
    node: str
    payout_address: str
    gpus: list[GpuInfo]
    driver_version: str | None
    cuda_version: str | None
    app_version: str | None
    registered_at: int
    updated_at: int


class LeaseRequest(_Body):
    free_gpus: Annotated[list[Name], Field(max_length=64)] = []
    accept_cpu_jobs: bool = True
    wait_seconds: Annotated[float, Field(ge=0, le=MAX_LEASE_WAIT_SECONDS)] = 20
    # Ids (hostapp/resources/identity.py) of the model resources this node's cache holds: the grid
    # prefers a queued job that names them (docs/grid-protocol.md, "Locality").
    held_resources: Annotated[list[ResourceId], Field(max_length=MAX_HELD_RESOURCES)] = []


class LeaseResponse(BaseModel):
    job_id: str
    attempt: int
    price_per_second: int
    timeout_seconds: int
    definition: dict[str, Any]
    gpu_uuid: str | None
    lease_seconds: int
    heartbeat_seconds: int
    lease_expires_at: int


class Heartbeat(_Body):
    progress: Annotated[float, Field(ge=0, le=1)] | None = None
    state: Annotated[str, StringConstraints(max_length=64)] | None = None
    telemetry: Annotated[dict[Name, int | float | str | None], Field(max_length=64)] | None = None


class HeartbeatResponse(BaseModel):
    lease_expires_at: int
    lease_seconds: int


class Release(_Body):
    reason: Annotated[str, StringConstraints(max_length=512)] = ""


class Released(BaseModel):
    job_id: str
    attempt: int
    job_state: JobState


class JobResult(_Body):
    status: ResultStatus
    run_seconds: Annotated[int, Field(ge=0, le=MAX_TIMEOUT_SECONDS)]
    exit_codes: Annotated[dict[Name, int | None], Field(max_length=64)] = {}
    results: Annotated[dict[Name, Any], Field(max_length=256)] = {}
    logs: Annotated[str, StringConstraints(max_length=MAX_LOG_CHARS)] = ""
    output_files: Annotated[list[Annotated[str, StringConstraints(max_length=1024)]], Field(max_length=1000)] = []
    reason: Annotated[str, StringConstraints(max_length=1024)] | None = None


class ResultAccepted(BaseModel):
    job_id: str
    attempt: int
    duplicate: bool
    seconds_billed: int
    amount: int


class CreditEntry(BaseModel):
    job_id: str
    attempt: int
    seconds_billed: int
    price_per_second: int
    amount: int
    status: Literal["credited", "paid"]
    payout_address: str
    payout_signature: str | None
    credited_at: int
    next_payout_at: int | None = None  # unix time of the next payout try while unpaid


class Credits(BaseModel):
    node: str
    credited: int
    paid: int
    unpaid: int
    next_payout_at: int | None = None  # the earliest next payout try of this node's unpaid credits
    entries: list[CreditEntry]


# ---------------------------------------------------------------- owner calls


class JobSubmission(_Body):
    definition: dict[str, Any]
    price_per_second: Annotated[int, Field(ge=0, le=MAX_PRICE_PER_SECOND)]
    timeout_seconds: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_SECONDS)]


class JobStatus(BaseModel):
    job_id: str
    state: JobState
    attempts: int
    price_per_second: int
    timeout_seconds: int
    gpu: bool
    node: str | None
    created_at: int
    updated_at: int
    result: dict[str, Any] | None
    seconds_billed: int | None
    amount: int | None
    payout_signature: str | None


class JobList(BaseModel):
    jobs: list[JobStatus]


# ---------------------------------------------------------------- service jobs (docs/services.md)


class TunnelEndpoint(BaseModel):
    """GET /v1/node/tunnel: where a node's service tunnels connect, and the edge's host key to pin."""

    host: str
    port: Annotated[int, Field(ge=1, le=65_535)]
    host_key: str  # one OpenSSH public key line ("ssh-ed25519 AAAA…")


class ServiceUrl(BaseModel):
    job_id: str
    attempt: int
    port: int  # the container port
    url: str  # where the poster reaches it
    connections: int
    bytes_in: int
    bytes_out: int
    refused: int  # connections over the per-port cap


class ServiceList(BaseModel):
    services: list[ServiceUrl]


class ServiceStopping(BaseModel):
    job_id: str
    stopping: bool
