"""Every event topic hostapp publishes, with one declared payload type each (docs/architecture.md).

`EventBus.publish(topic, **data)` checks `data` against `TOPICS[topic]`: an unknown topic, a
missing field, an extra field or a wrong type is a contract error. Publishers and subscribers
agree on these classes, not on dicts each side builds on its own — a page that waits for a topic
nothing publishes, or a publisher that renamed a field, shows up as an error in the tests.

Handlers still receive `Event.data` as the dict that was published; the types are the contract,
checked at the one place every event passes through.
"""

from __future__ import annotations

from typing import Any, Literal

from hostapp.control.status import Problem
from hostapp.shapes import FrozenShape, ShapeError, field_check


class Topic(FrozenShape):
    pass


# ---------------------------------------------------------------- node (hostapp/node/slots.py)


class NodeStateChanged(Topic):
    """A slot changed state (the node: every field of hostapp.control.status.SlotSnapshot plus `previous`
    and `overall`), or the tray's stand-in node before the core node runs (state/reason/next_change)."""

    state: str  # hostapp.control.status.NodeState values; the stand-in also says "snoozed"
    overall: str | None = None  # the node's merged state after this change
    previous: str | None = None
    gpu: str | None = None
    gpu_name: str | None = None  # the GPU's model ("NVIDIA GeForce RTX 4090"), for people
    headline: str = ""
    reason: str = ""
    problem: Problem | None = None
    job_id: str | None = None
    attempt: int | None = None
    job_started_at: float | None = None
    timeout_seconds: int | None = None
    price_per_second: int | None = None
    frozen: bool = False
    next_change: float | str | None = None


class NodeJobStarted(Topic):
    job_id: str
    attempt: int
    gpu: str | None


class NodeJobFinished(Topic):
    job_id: str
    attempt: int
    status: str


class NodePayout(Topic):
    job_id: str
    amount: int  # token base units
    signature: str


class NodePrepull(Topic):
    images: list[str]
    problems: dict[str, str]  # image → why its pull failed


# ---------------------------------------------------------------- ledger, schedule


class LedgerChanged(Topic):
    """A ledger row was written (hostapp/node/ledger.py): what the earnings views refresh on."""

    job_id: str
    attempt: int
    status: Literal["running", "credited", "paid", "failed"]
    amount: int | None  # token base units; None while running


class ScheduleChanged(Topic):
    """The availability policy changed (hostapp/schedule/owner.py)."""

    source: Literal["gui", "control", "node", "file"]  # who changed it
    revision: int


class ScheduleDecision(Topic):
    decision: Any  # a hostapp.schedule.policy.Decision (checked below; importing it here costs ~300 ms)
    cause: str

    @field_check("decision")
    @classmethod
    def _is_decision(cls, value: Any) -> Any:
        from hostapp.schedule.policy import Decision  # loaded already: the publisher uses it

        if not isinstance(value, Decision):
            raise ValueError(f"expected a Decision, got {type(value).__name__}")
        return value


class ScheduleClockJump(Topic):
    drift_seconds: float


# ---------------------------------------------------------------- jobs (hostapp/jobs/)


class JobStarted(Topic):
    job_id: str
    attempt: int
    gpu_uuid: str | None


class JobFinished(Topic):
    job_id: str
    attempt: int
    status: str  # succeeded / failed / stopped
    reason: str | None
    duration_seconds: float | None = None  # absent for a job collected after a restart


class JobOpRestarting(Topic):
    job_id: str
    op_id: str
    restarts: int


class JobLog(Topic):
    job_id: str
    op_id: str
    stream: str
    line: str


class JobFrozen(Topic):
    job_id: str


class JobThawed(Topic):
    job_id: str


class ServiceHealth(Topic):
    """A service op's health changed (hostapp/services/host.py): starting, ready or unhealthy."""

    job_id: str
    op_id: str
    state: Literal["starting", "ready", "unhealthy"]
    detail: str


class ServiceTunnel(Topic):
    """A service job's tunnel to the grid's edge opened or closed (with the reason)."""

    job_id: str
    state: Literal["open", "closed"]
    ports: list[int] | None = None
    reason: str | None = None


class ServiceTraffic(Topic):
    """What a serving job's tunnel carried so far (hostapp/services/host.py), every few seconds while it moves."""

    job_id: str
    image: str
    connections: int
    bytes_in: int
    bytes_out: int


class JobPullProgress(Topic):
    job_id: str | None  # None for a pre-pull
    image: str
    layers_total: int
    layers_done: int
    bytes_done: int
    bytes_total: int
    finished: bool


class ResourceProgress(Topic):
    """A model resource being fetched into the model cache (hostapp/resources/cache.py)."""

    job_id: str | None  # None for a pre-fetch at node start
    resource: str  # the URL or repo the job named (never its credentials)
    kind: Literal["S3", "HF"]
    bytes_done: int
    bytes_total: int
    finished: bool


# ---------------------------------------------------------------- GPU (hostapp/gpu/)


class GpuTelemetry(Topic):
    uuid: str
    index: int
    sample: Any  # a hostapp.gpu.probe.GpuSample
    name: str | None = None  # the card's model, e.g. "NVIDIA GeForce RTX 4090"
    power_limit_w: float | None = None  # the power gauge's end (NVML's management limit)

    @field_check("sample")
    @classmethod
    def _is_sample(cls, value: Any) -> Any:
        from hostapp.gpu.probe import GpuSample

        if not isinstance(value, GpuSample):
            raise ValueError(f"expected a GpuSample, got {type(value).__name__}")
        return value


class GpuReadFailed(Topic):
    uuid: str
    index: int
    kind: str
    message: str
    hint: str | None


class GpuReadRecovered(Topic):
    uuid: str
    index: int


class GpuForeignUse(Topic):
    gpu_uuid: str
    processes: list[str]
    pids: list[int]
    graphics: bool


# ---------------------------------------------------------------- grid client, wallet


class GridOnline(Topic):
    url: str


class GridOffline(Topic):
    url: str
    reason: str


class GridRejected(Topic):
    url: str
    status: int
    code: str
    message: str
    path: str


class WalletCreated(Topic):
    pubkey: str
    backup_confirmed: bool


class WalletChanged(Topic):
    pubkey: str


class WalletPayoutAddress(Topic):
    address: str | None  # None: payouts go to the wallet itself


class WalletWithdrawn(Topic):
    signature: str
    asset: str
    amount: int  # base units of `asset`
    to: str


class WalletChain(Topic):
    state: str
    rpc_url: str
    reason: str | None


class SettingsChanged(Topic):
    source: str  # who saved them ("control": the tray or a control client)


class ControlAttached(Topic):
    """The first line of the node's event stream (hostapp/node/daemon.py): its status now."""

    status: dict[str, Any]  # a NodeSnapshot (hostapp/control/status.py) as JSON


class ControlLink(Topic):
    """On the tray's bus only (hostapp/gui/remote.py): the link to the node came up or went down."""

    up: bool


TOPICS: dict[str, type[Topic]] = {
    "node.state": NodeStateChanged,
    "node.job_started": NodeJobStarted,
    "node.job_finished": NodeJobFinished,
    "node.payout": NodePayout,
    "node.prepull": NodePrepull,
    "ledger.changed": LedgerChanged,
    "schedule.changed": ScheduleChanged,
    "schedule.decision": ScheduleDecision,
    "schedule.clock_jump": ScheduleClockJump,
    "job.started": JobStarted,
    "job.finished": JobFinished,
    "job.op.restarting": JobOpRestarting,
    "job.log": JobLog,
    "job.frozen": JobFrozen,
    "job.thawed": JobThawed,
    "service.health": ServiceHealth,
    "service.tunnel": ServiceTunnel,
    "job.pull.progress": JobPullProgress,
    "resource.progress": ResourceProgress,
    "gpu.telemetry": GpuTelemetry,
    "gpu.read_failed": GpuReadFailed,
    "gpu.read_recovered": GpuReadRecovered,
    "gpu.foreign_use_started": GpuForeignUse,
    "gpu.foreign_use_changed": GpuForeignUse,
    "gpu.foreign_use_stopped": GpuForeignUse,
    "grid.online": GridOnline,
    "grid.offline": GridOffline,
    "grid.rejected": GridRejected,
    "wallet.created": WalletCreated,
    "wallet.changed": WalletChanged,
    "wallet.payout_address": WalletPayoutAddress,
    "wallet.withdrawn": WalletWithdrawn,
    "wallet.chain": WalletChain,
    "settings.changed": SettingsChanged,
    "service.traffic": ServiceTraffic,
    "control.attached": ControlAttached,
    "control.link": ControlLink,
}


class EventContractError(ValueError):
    """A publish that breaks the topic's declared type (or names no declared topic)."""


def check(topic: str, data: dict[str, Any]) -> None:
    """Raises EventContractError (one line: topic, field, problem) unless `data` fits `topic`'s type."""
    declared = TOPICS.get(topic)
    if declared is None:
        raise EventContractError(f"event topic {topic!r} is not declared in hostapp/events/topics.py")
    try:
        declared.model_validate(data)
    except ShapeError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
        raise EventContractError(
            f"event {topic!r} does not fit {declared.__name__}: {where}: {first.get('msg', '')}"
        ) from None
