"""What the pages show and the service calls they make: small typed interfaces, no Qt.

The composition root (hostapp/gui/wiring.py) fills these from the core. Pages depend only on
these shapes, so a page is built the same way whether the node, wallet or schedule service it
talks to is the real one or the stand-in used until that part of the core lands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from hostapp.wallet.actions import Balances as Balances
from hostapp.wallet.actions import CreatedWallet as CreatedWallet
from hostapp.wallet.actions import WalletSummary as WalletSummary
from hostapp.wallet.actions import WithdrawalPlan as WithdrawalPlan

if TYPE_CHECKING:
    # Types only: the schedule package costs ~300 ms to import, and this module is on the way to
    # the tray icon (the labels that need the enums live in hostapp/gui/schedule_labels.py).
    from hostapp.control.status import NodeSnapshot
    from hostapp.schedule.grid import WeeklyGrid
    from hostapp.schedule.policy import Rules


class NodeState(StrEnum):
    """hostapp.node.slots.NodeState's values, plus "snoozed" for the stand-in node."""

    STARTING = "starting"
    UNAVAILABLE = "unavailable"
    PAUSING = "pausing"
    WORKING = "working"
    WAITING = "waiting"
    PAUSED = "paused"
    SNOOZED = "snoozed"
    OFFLINE = "offline"
    ERROR = "error"
    STOPPED = "stopped"


STATE_LABELS: dict[NodeState, str] = {
    NodeState.STARTING: "Starting",
    NodeState.UNAVAILABLE: "Paused",
    NodeState.PAUSING: "Pausing",
    NodeState.WORKING: "Working",
    NodeState.WAITING: "Waiting for work",
    NodeState.PAUSED: "Paused",
    NodeState.SNOOZED: "Snoozed",
    NodeState.OFFLINE: "Offline",
    NodeState.ERROR: "Error",
    NodeState.STOPPED: "Stopped",
}

# Which tray icon (resources/tray-<name>.svg) each state shows.
STATE_ICONS: dict[NodeState, str] = {
    NodeState.STARTING: "waiting",
    NodeState.UNAVAILABLE: "paused",
    NodeState.PAUSING: "paused",
    NodeState.WORKING: "working",
    NodeState.WAITING: "waiting",
    NodeState.PAUSED: "paused",
    NodeState.SNOOZED: "paused",
    NodeState.OFFLINE: "offline",
    NodeState.ERROR: "error",
    NodeState.STOPPED: "offline",
}


def _state(value: object) -> NodeState:
    try:
        return NodeState(str(value).lower())
    except ValueError:
        return NodeState.ERROR


def _float(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class JobProgress:
    job_id: str
    started_at: float | None = None
    timeout_seconds: int | None = None
    rate_per_second: int | None = None  # token base units per second

    def fraction(self, now: float) -> float | None:
        if self.started_at is None or not self.timeout_seconds:
            return None
        return max(0.0, min(1.0, (now - self.started_at) / self.timeout_seconds))

    def seconds_left(self, now: float) -> int | None:
        if self.started_at is None or not self.timeout_seconds:
            return None
        return max(0, int(self.started_at + self.timeout_seconds - now))

    def running_text(self, now: float) -> str:
        """ "running 12 s (time limit 4 min)": the timeout is a limit the job rarely reaches, so it
        is no progress bar and no "4 min left" for a job that takes a second."""
        from hostapp.control.status import duration_words

        parts = []
        if self.started_at is not None:
            parts.append(f"running {duration_words(int(now - self.started_at))}")
        if self.timeout_seconds:
            parts.append(f"(time limit {duration_words(self.timeout_seconds)})")
        return " ".join(parts) or "running"


@dataclass(frozen=True)
class NodeStatus:
    state: NodeState
    reason: str = ""
    next_change: float | None = None  # epoch seconds of the next planned change
    job: JobProgress | None = None
    text: str | None = None  # the node's own one-line headline, when it sent one
    fix: str | None = None  # in Error: what the user does about `reason`

    @classmethod
    def from_snapshot(cls, snapshot: NodeSnapshot) -> NodeStatus:
        """The running node's typed status (hostapp/control/status.py): reason and fix come as fields."""
        state = _state(snapshot.state.value)
        lead = snapshot.slot
        job = None
        if lead is not None and lead.job_id:
            job = JobProgress(lead.job_id, lead.job_started_at, lead.timeout_seconds, lead.price_per_second)
        reason = "" if snapshot.reason == STATE_LABELS[state] else snapshot.reason
        fix = snapshot.problem.fix if snapshot.problem else None
        return cls(state, reason, _float(snapshot.next_change), job, snapshot.headline, fix)

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def headline(self) -> str:
        """ "Paused — game running: eldenring.exe": the tray tooltip and the dashboard title."""
        if self.text and (not self.reason or self.reason in self.text):
            return self.text  # the node's own words ("Snoozed until 21:30 (job frozen)")
        if not self.reason:
            return self.label
        if self.reason.lower().startswith(self.label.lower()):
            return self.reason  # "Snoozed until 21:30", not "Snoozed — Snoozed until 21:30"
        return f"{self.label} — {self.reason}"

    @classmethod
    def from_event(cls, data: Mapping[str, Any]) -> NodeStatus:
        """A "node.state" payload (hostapp.node.slots: overall/state/headline/job_* of one slot, or the
        stand-in's state/reason/job); unknown or missing fields degrade, never raise."""
        overall = data.get("overall") or data.get("state", "error")
        state = _state(overall)
        headline = data.get("headline")
        # A slot's headline describes the whole node only when that slot sets the overall state.
        leads = data.get("state", overall) == overall
        text = str(headline) if headline and leads else None
        problem = data.get("problem") if leads else None
        fix = str(problem["fix"]) if isinstance(problem, Mapping) and problem.get("fix") else None
        reason = str(data.get("reason") or "") if leads else ""
        if not reason and text and text != STATE_LABELS[state]:
            reason = text  # an event without a reason field (every node.state carries one)
        job = None
        job_data = data.get("job")
        if not isinstance(job_data, Mapping):
            job_data = {
                "job_id": data.get("job_id"),
                "started_at": data.get("job_started_at"),
                "timeout_seconds": data.get("timeout_seconds"),
                "rate_per_second": data.get("price_per_second"),
            }
        if job_data.get("job_id"):
            timeout = job_data.get("timeout_seconds")
            rate = job_data.get("rate_per_second")
            job = JobProgress(
                str(job_data["job_id"]),
                _float(job_data.get("started_at")),
                int(timeout) if isinstance(timeout, int) else None,
                int(rate) if isinstance(rate, int) else None,
            )
        if reason == STATE_LABELS[state]:
            reason = ""
        return cls(state, reason, _float(data.get("next_change")), job, text, fix)


class PauseChoice(StrEnum):
    ONE_HOUR = "1 hour"
    UNTIL_TOMORROW = "until tomorrow"
    INDEFINITELY = "indefinitely"

    @property
    def label(self) -> str:
        return self.value[:1].upper() + self.value[1:]


class NodeControl(Protocol):
    """The node the tray and dashboard steer (hostapp/node/slots.py when it lands)."""

    def status(self) -> NodeStatus: ...

    def start(self) -> str | None:
        """Start taking jobs. None: started (or starting); otherwise why it cannot, with the fix."""
        ...

    def resume(self) -> None: ...

    def pause(self, choice: PauseChoice) -> None:
        """Snooze; what "until tomorrow" means is the schedule's rule, not the GUI's."""
        ...


@dataclass(frozen=True)
class GpuSample:
    """One GPU's telemetry as the gauges show it; missing values stay None."""

    uuid: str
    name: str = "GPU"
    temperature_c: float | None = None
    utilization_percent: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> GpuSample:
        def num(*keys: str, scale: float = 1.0) -> float | None:
            for key in keys:
                value = data.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return float(value) * scale
            return None

        used = num("memory_used_bytes", "memory_used")
        total = num("memory_total_bytes", "memory_total")
        return cls(
            uuid=str(data.get("uuid") or data.get("index") or "gpu"),
            name=str(data.get("name") or "GPU"),
            temperature_c=num("temperature_c", "temperature"),
            utilization_percent=num("utilization_percent", "utilization_gpu_percent", "utilization_gpu", "utilization"),
            power_w=num("power_w") or num("power_mw", "power_milliwatts", scale=0.001),
            power_limit_w=num("power_limit_w") or num("power_limit_mw", scale=0.001),
            memory_used_bytes=int(used) if used is not None else None,
            memory_total_bytes=int(total) if total is not None else None,
        )


def gpu_samples(data: Mapping[str, Any]) -> list[GpuSample]:
    """A "gpu.telemetry" payload: {"uuid", "index", "sample": hostapp.gpu.probe.GpuSample} (one GPU
    per event), or {"gpus": [...]}, or one GPU's fields at the top level."""
    sample = data.get("sample")
    if sample is not None:
        fields = sample.to_json() if hasattr(sample, "to_json") else sample
        if isinstance(fields, Mapping):
            merged = {**data, **fields}
            used, free = merged.get("memory_used_bytes"), merged.get("memory_free_bytes")
            if isinstance(used, int) and isinstance(free, int) and "memory_total_bytes" not in merged:
                merged["memory_total_bytes"] = used + free
            return [GpuSample.from_mapping(merged)]
    gpus = data.get("gpus") or data.get("samples")
    if isinstance(gpus, Sequence) and not isinstance(gpus, str):
        return [GpuSample.from_mapping(g) for g in gpus if isinstance(g, Mapping)]
    if "uuid" in data or "index" in data:
        return [GpuSample.from_mapping(data)]
    return []


DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ScheduleNow:
    """What the schedule says right now and when that changes (shown under the grid)."""

    allowed: bool
    summary: str
    next_change: float | None = None


class ScheduleService(Protocol):
    def load(self) -> WeeklyGrid: ...

    def save(self, grid: WeeklyGrid) -> None:
        """Persist and apply; ValueError with a one-line reason if it cannot be saved."""
        ...

    def rules(self) -> Rules: ...

    def save_rules(self, rules: Rules) -> None: ...

    def now(self) -> ScheduleNow: ...


class WalletActions(Protocol):
    """The wallet as the pages and the wizard use it (hostapp.wallet.service.WalletService underneath).

    Every method may block (keyring, RPC): call from a worker thread, except `summary`, which reads
    a small local record. Errors are ValueError with a one-line message for the user.
    """

    def summary(self) -> WalletSummary | None: ...

    def create(self, replace: bool = False) -> CreatedWallet: ...

    def confirm_backup(self, answers: Mapping[int, str]) -> str: ...

    def import_secret(self, text: str, replace: bool = False) -> str:
        """A seed phrase, base58 key or solana-keygen JSON; returns the address."""
        ...

    def export_secret(self) -> str:
        """The seed phrase (or keygen JSON for an imported key): only after the user confirmed."""
        ...

    def balances(self) -> Balances:
        """Never raises: a problem (RPC down, no wallet) comes back in `Balances.problem`."""
        ...

    def set_payout_address(self, text: str | None) -> str:
        """Validates and saves; None or "" sends payouts to the wallet itself. Returns the payout address."""
        ...

    def plan_withdrawal(self, asset: str, to_address: str, amount_text: str) -> WithdrawalPlan: ...

    def send_withdrawal(self, plan: WithdrawalPlan) -> str:
        """Sends a planned withdrawal; returns the transaction signature."""
        ...

    def validate_address(self, text: str) -> str: ...


def one_line(exc: BaseException) -> str:
    """The first line of an error's message: what dialogs and status lines show."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def format_amount(base_units: int | None, decimals: int, symbol: str = "") -> str:
    """Integer base units as a decimal string, without ever going through float."""
    if base_units is None:
        return "—"
    sign = "-" if base_units < 0 else ""
    whole, frac = divmod(abs(base_units), 10**decimals)
    text = f"{sign}{whole:,}"
    if decimals:
        digits = f"{frac:0{decimals}d}".rstrip("0")
        text += "." + (digits if len(digits) >= 2 else digits.ljust(2, "0"))
    return f"{text} {symbol}".strip()


def parse_amount(text: str, decimals: int) -> int:
    """ "12.5" → base units; ValueError with a one-line reason for anything else."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned:
        raise ValueError("enter an amount")
    whole, _, frac = cleaned.partition(".")
    if not (whole or frac) or not (whole or "0").isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"{text!r} is not a number: use digits and one '.'")
    if len(frac) > decimals:
        raise ValueError(f"at most {decimals} decimal places")
    value: int = int(whole or "0") * 10**decimals + int((frac or "0").ljust(decimals, "0"))
    if value <= 0:
        raise ValueError("the amount must be more than 0")
    return value
