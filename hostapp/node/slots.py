"""The node: ties the availability decision, the grid, the runner and the ledger together.

One slot per GPU (or one CPU slot on a machine without a usable GPU). Each slot has a worker thread
that leases a job when its GPU may work, runs it through the runner, delivers the result (or keeps
it in the outbox) and writes the ledger. A supervisor thread applies availability changes to
running jobs and keeps the outbox and the ledger in step with the grid.

How a running job reacts when its slot stops being available (docs/node.md):
- *preempt* for reasons that protect the user's use of the machine — a game or other foreign
  process on that GPU, a snooze, temperature, power, battery: the job is frozen at once (docker
  pause; it keeps its memory, uses no GPU time). If the slot is still blocked after
  `preempt_after_seconds`, the job is stopped and the lease released, so the grid re-offers it.
  A job frozen by a short game session simply thaws.
- *drain* for schedule reasons — outside the weekly grid, not idle, idle unknown: no new leases,
  and the running job may finish for up to `drain_seconds` past the edge; then it is stopped and
  the lease released.
A released or stopped attempt earns nothing: the grid meters only results it accepted.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hostapp.control.status import NodeSnapshot, NodeState, Problem, ReasonSnapshot, SlotSnapshot, duration_words
from hostapp.control.transport import Emit
from hostapp.events import EventBus
from hostapp.grid.client import GridRejected, GridUnavailable, Lease, LeaseLost
from hostapp.grid.models import MAX_TIMEOUT_SECONDS, GpuInfo, NodeRegistration, ResultAccepted, ResultStatus
from hostapp.grid.models import JobResult as WireResult
from hostapp.jobs.definition import JobDefinitionError, MachineCaps, unsupported
from hostapp.jobs.local import LocalJobRequest, run_local_job
from hostapp.jobs.runner import JobResult, JobRunner
from hostapp.node.backend import DescribesWaiting, FollowsAvailability, GridBackend, SettlesOnChain
from hostapp.node.energy import EnergyMeter
from hostapp.node.ledger import Ledger
from hostapp.node.outbox import Outbox
from hostapp.node.settlement import PayoutCheck, Settlement
from hostapp.schedule import policy as pol
from hostapp.schedule.clock import system_now
from hostapp.schedule.driver import ScheduleDriver
from hostapp.schedule.owner import CHANGED_TOPIC, ChangeSource, PolicyOwner
from hostapp.services.expose import is_service
from hostapp.store import Store

log = logging.getLogger(__name__)

STATE_TOPIC = "node.state"
LOCAL_JOB_HEADLINE = "Running a local job (hostapp run-job)"
CPU_SLOT = "cpu"

PREEMPT_KINDS = frozenset(
    {
        pol.ReasonKind.FOREIGN_PROCESS,
        pol.ReasonKind.SNOOZED,
        pol.ReasonKind.OVER_TEMPERATURE,
        pol.ReasonKind.OVER_POWER,
        pol.ReasonKind.ON_BATTERY,
    }
)


@dataclass
class SlotStatus:
    key: str  # GPU UUID, or "cpu"
    name: str | None = None  # the GPU's model, for people (from the registration's GPU details)
    state: NodeState = NodeState.STARTING
    headline: str = "Starting"
    reason: str = ""  # what explains the state, without the state's word (hostapp/control/status.py)
    problem: Problem | None = None  # in Error: the reason and its fix
    job_id: str | None = None
    attempt: int | None = None
    job_started_at: float | None = None
    timeout_seconds: int | None = None
    price_per_second: int | None = None
    frozen: bool = False

    def snapshot(self) -> SlotSnapshot:
        return SlotSnapshot(
            gpu=None if self.key == CPU_SLOT else self.key,
            gpu_name=self.name,
            state=self.state,
            headline=self.headline,
            reason=self.reason,
            problem=self.problem,
            job_id=self.job_id,
            attempt=self.attempt,
            job_started_at=self.job_started_at,
            timeout_seconds=self.timeout_seconds,
            price_per_second=self.price_per_second,
            frozen=self.frozen,
        )

    def to_json(self) -> dict[str, Any]:
        return self.snapshot().model_dump(mode="json")


@dataclass
class _Running:
    lease: Lease
    blocked_since: float | None = None  # monotonic time the slot stopped being available
    preempting: bool = False
    released: bool = False
    lost: bool = False
    stop_reason: str | None = None
    heartbeat_stop: threading.Event = field(default_factory=threading.Event)
    service: bool = False  # exposes ports: cannot be frozen, gets `service_grace_seconds` instead


@dataclass
class NodeConfig:
    lease_wait_seconds: float = 20.0
    preempt_after_seconds: float = 120.0
    drain_seconds: float = 600.0
    offline_retry_seconds: float = 5.0
    credits_sync_seconds: float = 30.0
    supervisor_seconds: float = 1.0  # deadlines (preempt, drain) need no finer grain
    app_version: str | None = None
    payout_address: str | None = None
    gpu_details: list[GpuInfo] = field(default_factory=list)  # the shared GPUs, as registered (grid/registration.py)
    driver_version: str | None = None
    cuda_version: str | None = None
    token_decimals: int | None = None  # the grid token's decimals, for status readers (None: unknown)
    machine: MachineCaps = field(default_factory=MachineCaps)  # what jobs may use here (GPU runtime, network)
    prepull: list[str] = field(default_factory=list)  # images to have ready before a job asks (settings)
    service_grace_seconds: float = 60.0  # a preempted service keeps serving this long (services.preempt_grace_seconds)

    def registration(self, payout_address: str | None) -> NodeRegistration:
        """The PUT /v1/node body: the shared wire model, never a hand-built dict."""
        return NodeRegistration(
            gpus=self.gpu_details,
            driver_version=self.driver_version,
            cuda_version=self.cuda_version,
            app_version=self.app_version,
            payout_address=payout_address,
        )


class Node:
    def __init__(
        self,
        *,
        bus: EventBus,
        store: Store,
        grid: GridBackend,
        runner: JobRunner,
        policy_path: Path,
        inputs: Callable[[datetime], pol.Inputs],
        gpus: list[str],
        config: NodeConfig | None = None,
        now: Callable[[], datetime] = system_now,
        driver_tick_seconds: float = 15.0,
        power: Callable[[str], float | None] | None = None,
        policy_owner: PolicyOwner | None = None,
        payouts: PayoutCheck | None = None,  # confirms payouts on chain; None: rows stay credited
    ) -> None:
        self.bus = bus
        self.store = store
        self.grid = grid
        self.outbox = Outbox(store, grid)  # results owed to the grid, kept until it answers
        self.runner = runner
        self.ledger = Ledger(store, bus)  # the one writer of the ledger; publishes ledger.changed
        self.settlement = Settlement(self.ledger, payouts)  # what the grid may write into it
        self.config = config or NodeConfig()
        self.policy_path = policy_path
        # The process's one policy owner (Services.policy_owner); a node built alone makes its own.
        self.policy_owner = policy_owner or PolicyOwner(policy_path, bus)
        self._unwatch_policy: Callable[[], None] | None = None
        self._now = now
        self._inputs = inputs
        self._power = power  # watts a GPU draws now (telemetry), to meter each job's energy
        names = {gpu.uuid: gpu.name for gpu in self.config.gpu_details if gpu.name}
        self.slots = {key: SlotStatus(key, names.get(key)) for key in (gpus or [CPU_SLOT])}
        self._running: dict[str, _Running] = {}
        self._local_gpus: set[str] = set()  # GPUs a `hostapp run-job` job holds: no grid job leases them
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._registered = False
        self._grid_problem: str | None = None
        self._last_credits_sync = 0.0
        self.driver = ScheduleDriver(
            lambda at, previous: pol.evaluate(self.policy, inputs(at), at, previous),
            self._on_decision,
            bus=bus,
            now=now,
            tick_seconds=driver_tick_seconds,
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._recover()
        self.bus.subscribe("wallet.payout_address", self._payout_address_changed)
        self.driver.subscribe(
            self.bus, ("gpu.foreign_use_started", "gpu.foreign_use_stopped", "gpu.foreign_use_changed")
        )
        # Every policy change, from this process (owner.update) or the file (another process, a hand
        # edit, noticed by the owner's watch), re-evaluates at once. The owner publishes on this bus.
        self.driver.subscribe(self.bus, (CHANGED_TOPIC,))
        self._unwatch_policy = self.policy_owner.watch()
        self.driver.start()
        for key in self.slots:
            thread = threading.Thread(target=self._slot_loop, args=(key,), name=f"node-slot-{key[:12]}", daemon=True)
            thread.start()
            self._threads.append(thread)
        supervisor = threading.Thread(target=self._supervise, name="node-supervisor", daemon=True)
        supervisor.start()
        self._threads.append(supervisor)
        if self.config.prepull:
            threading.Thread(target=self._prepull, name="node-prepull", daemon=True).start()
        models = getattr(self.runner, "models", None)  # the model cache's pre-fetch list (settings)
        if models is not None and models.settings().prefetch:
            threading.Thread(target=models.prefetch, name="node-model-prefetch", daemon=True).start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stops leasing; running jobs are stopped and their leases released (the grid re-offers them)."""
        self._stopping.set()
        with self._lock:
            running = dict(self._running)
            self._wake.notify_all()
        for running_job in running.values():
            running_job.stop_reason = "hostapp is shutting down"
            running_job.preempting = True
        for job_id in self.runner.running_job_ids():  # grid jobs and local ones (hostapp run-job)
            self.runner.stop(job_id)
        if self._unwatch_policy is not None:
            self._unwatch_policy()
        self.driver.stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        for slot in self.slots.values():
            self._set(slot, NodeState.STOPPED, "Stopped")

    def _prepull(self) -> None:
        """Pull the pre-pull list in the background (each pull keeps the cache within its budget)."""
        refs = self.config.prepull
        try:
            problems = self.runner.images.prepull(refs)
        except Exception as exc:  # the engine may be down: jobs will say so; the node runs on
            problems = {ref: str(exc) for ref in refs}
        for ref, problem in problems.items():
            log.warning("pre-pull of %s failed: %s", ref, problem)
        self.bus.publish("node.prepull", images=refs, problems=problems)

    def _payout_address_changed(self, event: Any) -> None:
        """A new payout address reaches the grid with the next registration (before the next lease)."""
        with self._lock:
            self.config.payout_address = event.data.get("address") or None
            self._registered = False

    # ------------------------------------------------------------------ policy and control

    @property
    def policy(self) -> pol.AvailabilityPolicy:
        return self.policy_owner.current()

    def update_policy(
        self, change: Callable[[pol.AvailabilityPolicy], pol.AvailabilityPolicy], source: ChangeSource = "node"
    ) -> pol.Decision:
        """Change the newest policy through the owner (never a stale copy); the decision after it."""
        self.policy_owner.update(change, source)
        return self.driver.request("policy changed")

    def pause(self, until: datetime | None, source: ChangeSource = "node") -> pol.Decision:
        now = self._now()
        if until is None:
            return self.update_policy(pol.snooze_indefinitely, source)
        return self.update_policy(lambda p: pol.snooze_for(p, now, until - now), source)

    def resume(self, source: ChangeSource = "node") -> pol.Decision:
        return self.update_policy(pol.resume, source)

    def now(self) -> datetime:
        """The node's clock (aware, local): what pause and schedule commands count from."""
        return self._now()

    def run_now(self, duration: timedelta, source: ChangeSource = "node") -> pol.Decision:
        now = self._now()
        return self.update_policy(lambda p: pol.run_now_for(p, now, duration), source)

    def status(self) -> NodeSnapshot:
        decision = self.driver.decision
        with self._lock:
            slots = [s.snapshot() for s in self.slots.values()]
            state = self.overall_state()
        lead = next(s for s in slots if s.state is state)
        return NodeSnapshot(
            state=state,
            headline=lead.headline,
            reason=lead.reason,
            problem=lead.problem,
            slots=slots,
            available=decision.available if decision else None,
            reasons=[ReasonSnapshot(kind=r.kind.value, text=r.text, gpu=r.gpu) for r in decision.reasons]
            if decision
            else [],
            next_change=decision.shown_next_change.isoformat() if decision and decision.shown_next_change else None,
            grid_problem=self._grid_problem,
            outbox=self.outbox.size(),
            **self._money(),
        )

    def _money(self) -> dict[str, Any]:
        """Earned = pending (credited) + paid (confirmed on chain), integers in token base units."""
        pending, paid = self.ledger.total(("credited",)), self.ledger.total(("paid",))
        next_at = self.ledger.next_payout() if pending else None
        return {
            "earned": pending + paid,
            "pending": pending,
            "paid": paid,
            "next_payout_at": None if next_at is None else int(next_at),
            "token_decimals": self.config.token_decimals,
            "grid_url": self.grid.base_url,  # where `hostapp status` reads the rate (earnings/pricing.py)
        }

    def run_local(self, request: LocalJobRequest, emit: Emit) -> dict[str, Any]:
        """`hostapp run-job` through the running node: the job runs here, whatever the schedule says
        (the user asked for it), and its GPU takes no grid job until it ends (hostapp/jobs/local.py)."""
        claimed: list[str] = []

        def claim_gpu(gpu: str) -> str | None:
            with self._lock:
                running = self._running.get(gpu)
                if running is not None:
                    return (
                        f"GPU {gpu} is running grid job {running.lease.job_id}: run it again when that job "
                        "ends, or pause hostapp first (`hostapp pause`) and wait until the job has stopped"
                    )
                if gpu in self._local_gpus:
                    return f"GPU {gpu} is running another local job: run it again when that one ends"
                if not request.dry_run:
                    self._local_gpus.add(gpu)
                    claimed.append(gpu)
                    if gpu in self.slots:
                        self._show_unavailable(self.slots[gpu], self.driver.decision, "Unavailable")
            return None

        try:
            return run_local_job(
                request, lambda _definition: self.config.machine, lambda: self.runner, emit, claim_gpu=claim_gpu
            )
        finally:
            with self._lock:
                self._local_gpus.difference_update(claimed)
                self._wake.notify_all()

    def handle_control(self, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
        """The control socket's commands (hostapp/node/commands.py)."""
        from hostapp.node.commands import node_command

        return node_command(self, command, args, emit)

    # ------------------------------------------------------------------ state

    def overall_state(self) -> NodeState:
        order = [
            NodeState.ERROR,
            NodeState.WORKING,
            NodeState.PAUSING,
            NodeState.OFFLINE,
            NodeState.WAITING,
            NodeState.PAUSED,
            NodeState.UNAVAILABLE,
            NodeState.STARTING,
            NodeState.STOPPED,
        ]
        states = {s.state for s in self.slots.values()}
        return next(state for state in order if state in states)

    def _headline(self) -> str:
        overall = self.overall_state()
        slot = next(s for s in self.slots.values() if s.state is overall)
        return slot.headline

    def _set(
        self,
        slot: SlotStatus,
        state: NodeState,
        headline: str,
        *,
        reason: str | None = None,
        problem: Problem | None = None,
    ) -> None:
        """`reason`: the headline's explaining part when the headline adds words to it (default: the
        headline itself); `problem`: the reason and fix of an Error."""
        with self._lock:
            if slot.state is state and slot.headline == headline and slot.problem == problem:
                return
            previous = slot.state
            slot.state = state
            slot.headline = headline
            slot.problem = problem
            slot.reason = problem.reason if problem else (headline if reason is None else reason)
            data = slot.to_json()
        log.info("slot %s: %s -> %s (%s)", slot.key, previous.value, state.value, headline)
        self.bus.publish(STATE_TOPIC, previous=previous.value, overall=self.overall_state().value, **data)
        self._persist()

    def _persist(self) -> None:
        import json

        with self._lock:
            snapshot = {key: s.to_json() for key, s in self.slots.items()}
        self.store.set_kv("node.slots", json.dumps(snapshot))

    def _slot_available(self, key: str) -> tuple[bool, pol.Decision | None]:
        """Whether the slot may take grid work: the schedule allows it and no local job holds its GPU."""
        decision = self.driver.decision
        if decision is None or key in self._local_gpus:
            return False, decision
        if key == CPU_SLOT:
            return decision.available, decision
        return decision.gpu_available(key), decision

    def _slot_reasons(self, key: str, decision: pol.Decision) -> list[pol.Reason]:
        return [r for r in decision.reasons if r.blocking and (r.gpu is None or r.gpu == key)]

    def _show_unavailable(self, slot: SlotStatus, decision: pol.Decision | None, fallback: str) -> None:
        """An idle slot that may not take grid work says why: a local job, or the first blocking reason."""
        if slot.key in self._local_gpus:
            self._set(slot, NodeState.UNAVAILABLE, LOCAL_JOB_HEADLINE)
            return
        reasons = self._slot_reasons(slot.key, decision) if decision else []
        state = NodeState.PAUSED if any(r.kind in PREEMPT_KINDS for r in reasons) else NodeState.UNAVAILABLE
        self._set(slot, state, reasons[0].text if reasons else fallback)

    # ------------------------------------------------------------------ decisions

    def _on_decision(self, decision: pol.Decision) -> None:
        with self._lock:
            for key, slot in self.slots.items():
                available, _ = self._slot_available(key)
                running = self._running.get(key)
                if running is None:
                    # An idle slot (maybe inside a long-poll) shows the new answer at once; its worker
                    # gives back any lease that arrives meanwhile.
                    if not available:
                        self._show_unavailable(slot, decision, "Unavailable")
                    elif slot.state in (NodeState.PAUSED, NodeState.UNAVAILABLE, NodeState.STARTING):
                        self._set(slot, NodeState.WAITING, "Waiting for work")
                    continue
                if available:
                    running.blocked_since = None
                    if slot.frozen and self.runner.thaw(running.lease.job_id):
                        slot.frozen = False
                        self._show_working(slot)
                    continue
                reasons = self._slot_reasons(key, decision)
                if running.blocked_since is None:
                    running.blocked_since = time.monotonic()
                if any(r.kind in PREEMPT_KINDS for r in reasons) and not slot.frozen:
                    self._set(slot, NodeState.PAUSING, "Pausing — " + reasons[0].text, reason=reasons[0].text)
                    if self.runner.freeze(running.lease.job_id):
                        slot.frozen = True
                    self._set(slot, NodeState.PAUSED, reasons[0].text + " (job frozen)", reason=reasons[0].text)
            self._wake.notify_all()

    def _supervise(self) -> None:
        while not self._stopping.wait(self.config.supervisor_seconds):
            try:
                self._enforce_deadlines()
                self._sync_with_grid()
            except Exception:
                log.exception("node supervisor step failed")

    def _enforce_deadlines(self) -> None:
        decision = self.driver.decision
        if decision is None:
            return
        with self._lock:
            for key, running in self._running.items():
                if running.blocked_since is None or running.preempting:
                    continue
                reasons = self._slot_reasons(key, decision)
                preempt = any(r.kind in PREEMPT_KINDS for r in reasons)
                limit = self.config.preempt_after_seconds if preempt else self.config.drain_seconds
                if preempt and running.service:  # a service is never frozen: its grace, then stopped and released
                    limit = self.config.service_grace_seconds
                if time.monotonic() - running.blocked_since >= limit:
                    running.preempting = True
                    running.stop_reason = reasons[0].text if reasons else "no longer available"
                    self._set(
                        self.slots[key],
                        NodeState.PAUSING,
                        "Stopping job — " + running.stop_reason,
                        reason=running.stop_reason,
                    )
                    threading.Thread(
                        target=self.runner.stop, args=(running.lease.job_id,), name="node-stop", daemon=True
                    ).start()

    def _sync_with_grid(self) -> None:
        if self.grid.online is False or time.monotonic() - self._last_credits_sync < self.config.credits_sync_seconds:
            return
        self._last_credits_sync = time.monotonic()
        try:
            if self.outbox.size():
                self.outbox.flush()
            self.sync_credits()
        except (GridUnavailable, GridRejected) as exc:
            log.info("grid sync postponed: %s", exc)

    def sync_credits(self) -> None:
        """The grid's credits, within what this node can check (hostapp/node/settlement.py): credits for
        attempts it ran, bounded by their lease; "paid" only when the chain shows the transfer."""
        if isinstance(self.grid, SettlesOnChain):
            self.grid.sync_earnings(self.settlement)
        report = self.settlement.apply_credits(self.grid.credits().model_dump())
        for job_id, _attempt, amount, signature in report.paid:
            self.bus.publish("node.payout", job_id=job_id, amount=amount, signature=signature)

    # ------------------------------------------------------------------ recovery

    def _recover(self) -> None:
        """After a crash or restart: collect what the runner left, deliver it, close stale ledger rows."""
        try:
            collected = {(r.job_id, r.attempt): r for r in self.runner.reconcile()}
        except Exception as exc:  # the engine may be down: the node still starts and says so
            log.warning("could not reconcile job containers: %s", exc)
            collected = {}
        in_outbox = {(r["job_id"], int(r["attempt"])) for r in self.store.query("SELECT job_id, attempt FROM outbox")}
        for row in self.ledger.running():
            key = (row.job_id, row.attempt)
            if key in in_outbox:
                continue  # the result exists and will be delivered by the outbox
            result = collected.get(key)
            if result is not None and result.status == "succeeded":
                self._deliver(row.job_id, row.attempt, result)
            else:
                reason = "hostapp stopped while the job ran; the grid re-offers it"
                self.ledger.fail(row.job_id, row.attempt, reason)
        try:
            self.outbox.flush()
            self.sync_credits()
        except (GridUnavailable, GridRejected) as exc:
            log.info("grid not reachable at start: %s", exc)

    # ------------------------------------------------------------------ slot workers

    def _slot_loop(self, key: str) -> None:
        slot = self.slots[key]
        while not self._stopping.is_set():
            try:
                self._slot_step(key, slot)
            except Exception as exc:
                log.exception("slot %s failed", key)
                problem = Problem(
                    reason=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    fix="see the log (Diagnostics ▸ Open logs folder); hostapp retries on its own",
                )
                self._set(slot, NodeState.ERROR, f"Error — {problem.reason}", problem=problem)
                self._stopping.wait(self.config.offline_retry_seconds)

    def _slot_step(self, key: str, slot: SlotStatus) -> None:
        available, decision = self._slot_available(key)
        if not available:
            if isinstance(self.grid, FollowsAvailability):
                self.grid.on_unavailable()  # e.g. leave Nosana's market queue between jobs
            self._show_unavailable(slot, decision, "Starting")
            with self._lock:
                self._wake.wait(timeout=1.0)
            return
        if not self._registered and not self._register(slot):
            return
        try:
            lease = self.grid.lease(
                wait_seconds=self.config.lease_wait_seconds,
                free_gpus=[] if key == CPU_SLOT else [key],
                accept_cpu_jobs=True,
                held_resources=self._held_resources(),
            )
        except GridUnavailable as exc:
            self._offline(slot, exc)
            return
        except GridRejected as exc:
            problem = Problem(reason=f"grid refused this node: {exc.message}", fix=exc.fix)
            self._set(slot, NodeState.ERROR, f"Error — {problem.reason}", problem=problem)
            self._stopping.wait(self.config.offline_retry_seconds * 4)
            return
        if self._grid_problem is not None:
            self._grid_problem = None
        if lease is None:
            if isinstance(self.grid, DescribesWaiting):  # e.g. "Working — a Nosana job, run by the official node"
                working, headline = self.grid.describe_wait()
                self._set(slot, NodeState.WORKING if working else NodeState.WAITING, headline)
            else:
                self._set(slot, NodeState.WAITING, "Waiting for work")
            return
        next_lease: Lease | None = lease
        while next_lease is not None:  # a lease fetched while the last result was delivered runs at once
            if not self._slot_available(key)[0] or self._stopping.is_set():
                self._safe_release(next_lease, "node became unavailable while leasing")
                return
            next_lease = self._work(key, slot, next_lease)

    def _held_resources(self) -> list[str]:
        """The model cache's resource ids for the lease request: the grid prefers jobs naming them."""
        models = getattr(self.runner, "models", None)
        try:
            return list(models.held_resource_ids()) if models is not None else []
        except OSError:  # an unreadable cache folder costs the preference, never the lease
            return []

    def _register(self, slot: SlotStatus) -> bool:
        """True once the grid knows this node with its current payout address."""
        address = self.config.payout_address
        try:
            self.grid.register(self.config.registration(address))
        except ValidationError as exc:
            # Only the payout address comes from the user; the rest is fitted to the model when built.
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            problem = Problem(
                reason=f"this node's registration is invalid: {where}: {first.get('msg', '')}",
                fix="set a valid Solana payout address in Settings ▸ Wallet (or leave it empty)",
            )
            self._set(slot, NodeState.ERROR, f"Error — {problem.reason}", problem=problem)
            self._stopping.wait(self.config.offline_retry_seconds * 4)
            return False
        except GridUnavailable as exc:
            self._offline(slot, exc)
            return False
        except GridRejected as exc:
            problem = Problem(reason=f"grid refused registration: {exc.message}", fix=exc.fix)
            self._set(slot, NodeState.ERROR, f"Error — {problem.reason}", problem=problem)
            self._stopping.wait(self.config.offline_retry_seconds * 4)
            return False
        with self._lock:
            # An address that changed while the call was in flight goes out at once, on the next step.
            self._registered = self.config.payout_address == address
            return self._registered

    def _offline(self, slot: SlotStatus, exc: Exception) -> None:
        self._grid_problem = str(exc)
        self._set(slot, NodeState.OFFLINE, "Offline — grid unreachable", reason="grid unreachable")
        self._stopping.wait(self.config.offline_retry_seconds)

    def _work(self, key: str, slot: SlotStatus, lease: Lease) -> Lease | None:
        """Run one leased job and deliver its result; returns the next lease when one came meanwhile."""
        gpu = None if key == CPU_SLOT else key
        try:
            job = lease.grid_job()
            refused = unsupported(job.definition, self.config.machine)
        except JobDefinitionError as exc:
            refused = [f"invalid job definition: {exc}"]
        if refused:
            # Never run a job with a feature silently dropped: fail it with every reason, visibly.
            reason = "; ".join(refused)[:1000]
            self.ledger.start(lease.job_id, lease.attempt, gpu, lease.price_per_second, None, lease.timeout_seconds)
            self.ledger.fail(lease.job_id, lease.attempt, reason)
            self._submit(lease.job_id, lease.attempt, WireResult(status="failed", run_seconds=0, reason=reason))
            return None
        running = _Running(lease, service=is_service(job.definition))
        with self._lock:
            self._running[key] = running
            slot.job_id, slot.attempt = job.job_id, job.attempt
            slot.job_started_at, slot.timeout_seconds = time.time(), job.timeout_seconds
            slot.price_per_second, slot.frozen = job.price_per_second, False
        self.ledger.start(job.job_id, job.attempt, gpu, job.price_per_second, None, job.timeout_seconds)
        self._show_working(slot)
        self.bus.publish("node.job_started", job_id=job.job_id, attempt=job.attempt, gpu=gpu)
        beat = threading.Thread(target=self._heartbeats, args=(running,), name="node-heartbeat", daemon=True)
        beat.start()
        meter = EnergyMeter(self._power, gpu) if gpu and self._power else None
        try:
            # The finished containers are removed while the result is delivered and the next job starts.
            result = self.runner.run(job, gpu_uuid=gpu, remove_in_background=True)
        finally:
            running.heartbeat_stop.set()
            beat.join(timeout=5)
            if meter is not None:
                self.ledger.set_energy(job.job_id, job.attempt, meter.stop())
            with self._lock:
                self._running.pop(key, None)
                slot.job_id = slot.attempt = slot.job_started_at = slot.timeout_seconds = None
                slot.price_per_second, slot.frozen = None, False
        self.bus.publish("node.job_finished", job_id=job.job_id, attempt=job.attempt, status=result.status)
        if running.lost:
            self.ledger.fail(job.job_id, job.attempt, "the grid gave the job to another node (lease lost)")
        elif running.preempting:
            self.ledger.fail(job.job_id, job.attempt, f"stopped: {running.stop_reason}")
            self._safe_release(lease, running.stop_reason or "preempted")
        else:
            return self._deliver_and_lease(key, job.job_id, job.attempt, result)
        return None

    def _show_working(self, slot: SlotStatus) -> None:
        # The timeout is a limit, not a forecast: a 1 s job with a 4 min limit is not "4 min left".
        limit = f" (time limit {duration_words(slot.timeout_seconds)})" if slot.timeout_seconds else ""
        reason = f"job {slot.job_id}{limit}"
        self._set(slot, NodeState.WORKING, f"Working — {reason}", reason=reason)

    def _heartbeats(self, running: _Running) -> None:
        lease = running.lease
        while not running.heartbeat_stop.wait(max(1.0, float(lease.heartbeat_seconds))):
            try:
                self.grid.heartbeat(lease, state="frozen" if running.blocked_since else "running")
            except LeaseLost:
                running.lost = True
                self.runner.stop(lease.job_id)
                return
            except (GridUnavailable, GridRejected) as exc:
                log.info("heartbeat for %s failed: %s", lease.job_id, exc)

    def _deliver(self, job_id: str, attempt: int, result: JobResult) -> None:
        payload = result_payload(result)
        accepted = self._submit(job_id, attempt, payload)
        if accepted is None:
            return  # in the outbox: the ledger row stays 'running' until the grid credits it
        if result.status == "succeeded":
            refused = self.settlement.credit(job_id, attempt, accepted.seconds_billed, accepted.amount)
            if refused is not None:
                log.warning("grid credit for job %s attempt %d refused: %s", job_id, attempt, refused)
        else:
            self.ledger.fail(job_id, attempt, result.reason or result.status)

    def _deliver_and_lease(self, key: str, job_id: str, attempt: int, result: JobResult) -> Lease | None:
        """Deliver the result while asking the grid, without waiting, for the slot's next job: the two
        round trips overlap, so the next job starts sooner (the job-to-job gap, docs/benchmarks.md)."""
        prefetched: list[Lease | None] = []
        prefetch = None
        if self._slot_available(key)[0] and not self._stopping.is_set():
            prefetch = threading.Thread(
                target=self._prefetch_lease, args=(key, prefetched), name=f"node-prefetch-{key}", daemon=True
            )
            prefetch.start()
        delivered = False
        try:
            self._deliver(job_id, attempt, result)
            delivered = True
        finally:
            if prefetch is not None:
                prefetch.join()
            if not delivered and prefetched and prefetched[0] is not None:  # the slot loop reports the error
                self._safe_release(prefetched[0], "node error while delivering the last result")
        return prefetched[0] if prefetched else None

    def _prefetch_lease(self, key: str, out: list[Lease | None]) -> None:
        """One lease request that does not wait (no long-poll): a job already queued, or None. A failure is
        left to the slot loop's own lease call, which reports it."""
        try:
            out.append(
                self.grid.lease(
                    wait_seconds=0,
                    free_gpus=[] if key == CPU_SLOT else [key],
                    accept_cpu_jobs=True,
                    held_resources=self._held_resources(),
                )
            )
        except Exception as exc:
            log.info("next lease not fetched early: %s", exc)

    def _submit(self, job_id: str, attempt: int, payload: WireResult) -> ResultAccepted | None:
        try:
            outcome = self.outbox.submit(job_id, attempt, payload)
        except GridRejected as exc:
            self.ledger.fail(job_id, attempt, f"grid refused the result: {exc.message}")
            return None
        return outcome.accepted if outcome.delivered else None

    def _safe_release(self, lease: Lease, reason: str) -> None:
        try:
            self.grid.release(lease, reason)
        except (GridUnavailable, GridRejected) as exc:
            log.info("release of %s failed (%s); the lease expires on its own", lease.job_id, exc)


def result_payload(result: JobResult, max_log_chars: int = 60_000) -> WireResult:
    """The grid's JobResult body from the runner's result: bounded, JSON-able, integer seconds.

    A result the wire model refuses (a job that printed 300 result keys, a 2 KiB output path) is
    delivered as a failure that says why, never dropped or retried forever."""
    logs = "\n".join(f"[{op.op_id}]\n{op.log_tail}" for op in result.ops if op.log_tail)
    results: dict[str, Any] = {}
    for op in result.ops:
        for name, value in (op.results or {}).items():
            results[f"{op.op_id}.{name}" if len(result.ops) > 1 else name] = value
    # Started seconds count, like per-second cloud billing: a 0.4 s job is billed 1 s.
    run_seconds = max(0, math.ceil(result.duration_seconds))
    status: ResultStatus = (
        "succeeded" if result.status == "succeeded" else "stopped" if result.status == "stopped" else "failed"
    )
    try:
        return WireResult(
            status=status,
            run_seconds=run_seconds,
            exit_codes={op.op_id: op.exit_code for op in result.ops},
            results=results,
            logs=logs[-max_log_chars:],
            output_files=[f for op in result.ops for f in op.output_files][:1000],
            reason=result.reason[:1000] if result.reason else None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return WireResult(
            status="failed",
            run_seconds=min(run_seconds, MAX_TIMEOUT_SECONDS),
            logs=logs[-max_log_chars:],
            reason=f"the job's result cannot be sent to the grid: {where}: {first.get('msg', '')}"[:1000],
        )
