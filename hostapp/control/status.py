"""The node's status snapshot: one declared type for `Node.status()`, the control socket's `status`
reply, `hostapp status`, `hostapp doctor` and the tray.

Every reader gets the state, the headline and — separately — the reason and, in Error, the fix:
nobody recovers a reason by splitting a headline on " — ". The snapshot crosses the control socket
as JSON (`model_dump(mode="json")`) and is read back with `NodeSnapshot.model_validate`, so both
ends of the socket agree on one shape. Qt-free and pydantic-free (hostapp/shapes.py): the tray reads it.
"""

from __future__ import annotations

from enum import StrEnum

from hostapp.shapes import Field, FrozenShape


class NodeState(StrEnum):
    STARTING = "starting"
    OFFLINE = "offline"  # the grid does not answer
    UNAVAILABLE = "unavailable"  # the schedule says no (outside hours, not idle)
    WAITING = "waiting"  # available, waiting for a lease
    WORKING = "working"
    PAUSING = "pausing"  # a job is being frozen / stopped
    PAUSED = "paused"  # the user or the machine's protection rules say no
    ERROR = "error"  # needs the user (reason + fix)
    STOPPED = "stopped"


class _Snapshot(FrozenShape):
    pass


class Problem(_Snapshot):
    """Why the node cannot work, and what the user does about it (both one line)."""

    reason: str
    fix: str

    def line(self) -> str:
        return f"{self.reason} — fix: {self.fix}"


def duration_words(seconds: int) -> str:
    """A span for people: "45 s", "4 min", "4 min 30 s", "2 h 5 min"."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def short_gpu_name(name: str) -> str:
    """ "NVIDIA GeForce RTX 4090" → "RTX 4090": the model as a gamer calls it."""
    for prefix in ("NVIDIA ", "GeForce "):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


class SlotSnapshot(_Snapshot):
    gpu: str | None  # None: the CPU slot of a machine without a usable GPU
    gpu_name: str | None = None  # the GPU's model ("NVIDIA GeForce RTX 4090"); `gpu` is its UUID
    state: NodeState
    headline: str  # "Working — job abc (time limit 10 min)": what the tray and `hostapp status` print
    reason: str = ""  # the part of the headline that explains the state ("job abc (time limit 10 min)")
    problem: Problem | None = None  # set in Error
    job_id: str | None = None
    attempt: int | None = None
    job_started_at: float | None = None
    timeout_seconds: int | None = None
    price_per_second: int | None = None  # token base units per second
    frozen: bool = False

    @property
    def label(self) -> str:
        """What a person calls this slot: "RTX 4090" (its UUID only when the model is unknown), "CPU"."""
        if self.gpu is None:
            return "CPU"
        return short_gpu_name(self.gpu_name) if self.gpu_name else self.gpu


class ReasonSnapshot(_Snapshot):
    kind: str
    text: str
    gpu: str | None = None


class NodeSnapshot(_Snapshot):
    state: NodeState  # the slot states merged: Error wins, then Working, … (Node.overall_state)
    headline: str
    reason: str = ""
    problem: Problem | None = None  # set when `state` is Error
    slots: list[SlotSnapshot] = Field(default_factory=list)
    available: bool | None = None  # the schedule's answer; None before its first decision
    reasons: list[ReasonSnapshot] = Field(default_factory=list)
    next_change: str | None = None  # ISO 8601, when the schedule's answer changes next
    grid_problem: str | None = None  # the last transport failure while the grid is offline
    outbox: int = 0  # results kept until the grid takes them
    earned: int = 0  # token base units, credited and paid (= pending + paid)
    pending: int = 0  # token base units credited by the grid, transfer not yet confirmed on chain
    paid: int = 0  # token base units whose transfer the chain confirmed (the wallet's token balance)
    next_payout_at: int | None = None  # unix time of the grid's next payout try; None: nothing pending
    amount_unit: str = "token base units"  # what earned / pending / paid count
    token_decimals: int | None = None  # base units per token = 10**decimals; None: not known here
    grid_url: str | None = None  # the node's grid: its /v1/health declares the token's rate, if any
    pid: int | None = None  # the node process (hostapp/node/daemon.py): what a tray or script watches

    @property
    def slot(self) -> SlotSnapshot | None:
        """The slot that sets the overall state (its job, its reason)."""
        return next((s for s in self.slots if s.state is self.state), None)

    def summary(self) -> str:
        """One line: the headline, and in Error the reason and fix."""
        if self.state is NodeState.ERROR and self.problem is not None:
            return f"Error — {self.problem.line()}"
        return self.headline
