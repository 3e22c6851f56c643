"""The tray's side of the node: the view-model interfaces (hostapp/gui/viewmodels.py) answered by the
node process over its control socket (hostapp/control/client.py). Qt-free; the one Qt crossing is
the EventBridge, which the node's events reach through the tray's own bus.

`NodeLink` ties the three moving parts together: the event stream (the node's events, delivered on
the tray's bus), the supervisor (starts the node, restarts it once if it dies) and the last status
the node reported (what `RemoteNode.status()` returns without a round trip on the GUI thread).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hostapp.control.client import (
    NODE_GONE,
    NODE_GONE_FIX,
    EventStream,
    NodeClient,
    NodeSupervisor,
    stopped_snapshot,
)
from hostapp.control.status import NodeSnapshot, NodeState
from hostapp.control.transport import ControlError
from hostapp.events import EventBus
from hostapp.gui.viewmodels import NodeStatus, PauseChoice, ScheduleNow
from hostapp.wallet.actions import (
    Balances,
    CreatedWallet,
    WalletSummary,
    WithdrawalPlan,
    created_from_json,
    summary_from_json,
)

if TYPE_CHECKING:
    from hostapp.schedule.grid import WeeklyGrid
    from hostapp.schedule.policy import AvailabilityPolicy, Rules

log = logging.getLogger(__name__)

LINK_TOPIC = "control.link"  # published on the tray's bus: the node answered (up) or went away

PAUSE_WIRE = {
    PauseChoice.ONE_HOUR: "one_hour",
    PauseChoice.UNTIL_TOMORROW: "until_tomorrow",
    PauseChoice.INDEFINITELY: "indefinitely",
}


class NodeLink:
    """The tray's connection to the node: events in, status cached, the node kept running."""

    def __init__(self, client: NodeClient, supervisor: NodeSupervisor, bus: EventBus) -> None:
        self.client = client
        self.supervisor = supervisor
        self.bus = bus
        self.snapshot: NodeSnapshot = NodeSnapshot(state=NodeState.STARTING, headline="Starting")
        self.up = False
        self.on_change: list[Callable[[], None]] = []  # called (on the stream's thread) after each status change
        self._stream = EventStream(client, self._deliver, self._linked)
        self._restarting = threading.Lock()

    def start(self) -> bool:
        """Starts (or finds) the node, then follows its events; whether a node answers. Call from a
        worker thread."""
        running = self.supervisor.ensure_running()
        if running:
            self.refresh()
        else:
            self._announce(stopped_snapshot(NODE_GONE, f"it did not start: see {self.supervisor.log_path}"))
        self._stream.start()  # once: later calls (the wizard's end, Start) find it following already
        return running

    def close(self, wait: float = 0.0) -> None:
        self.supervisor.hold()  # the tray is quitting: a node that ends now is not restarted by it
        self._stream.close(wait)

    def shutdown(self) -> None:
        """Stops the node on the user's word: not restarted until Start (or the next tray start)."""
        self.supervisor.hold()
        self.client.shutdown()

    def restart(self) -> bool:
        """The user asked for Start: start a node unless one answers."""
        with self._restarting:
            started = self.supervisor.ensure_running()
        if started:
            self.refresh()
        return started

    def refresh(self) -> NodeSnapshot:
        try:
            snapshot = self.client.status()
        except ControlError:
            snapshot = stopped_snapshot()
        self._set(snapshot)
        return snapshot

    def _set(self, snapshot: NodeSnapshot) -> None:
        self.snapshot = snapshot
        for listener in list(self.on_change):
            listener()

    def _deliver(self, topic: str, data: dict[str, Any]) -> None:
        if topic == "control.attached":  # (re)connected: what the node says now, for every page
            self._announce(NodeSnapshot.model_validate(data["status"]))
            return
        if topic == "node.state":
            self.refresh()  # before the event: a page that reads status() on it sees the new one
        self.bus.deliver(topic, data)

    def _linked(self, up: bool) -> None:
        self.up = up
        self.bus.deliver(LINK_TOPIC, {"up": up})
        if up:
            return
        self._announce(stopped_snapshot())
        if self._restarting.acquire(blocking=False):
            try:
                restarted = self.supervisor.node_lost()
            finally:
                self._restarting.release()
            if not restarted:
                log.warning("the node stopped and was not restarted on its own: the tray offers Start")

    def _announce(self, snapshot: NodeSnapshot) -> None:
        """A node.state on the tray's bus for a status the node did not send as an event: the one
        found on (re)connecting, or "not running" when it is gone."""
        self._set(snapshot)
        problem = snapshot.problem
        lead = snapshot.slot
        data: dict[str, Any] = {
            "state": snapshot.state.value,
            "overall": snapshot.state.value,
            "headline": snapshot.headline,
            "reason": snapshot.reason,
            "problem": {"reason": problem.reason, "fix": problem.fix} if problem else None,
            "next_change": snapshot.next_change,
        }
        if lead is not None and lead.job_id:
            data["job"] = {
                "job_id": lead.job_id,
                "started_at": lead.job_started_at,
                "timeout_seconds": lead.timeout_seconds,
                "rate_per_second": lead.price_per_second,
            }
        self.bus.deliver("node.state", data)


class RemoteNode:
    """NodeControl answered by the node process."""

    def __init__(self, link: NodeLink) -> None:
        self.link = link

    def status(self) -> NodeStatus:
        return NodeStatus.from_snapshot(self.link.snapshot)

    def start(self) -> str | None:
        """Starts the node when none runs; a running node in Error answers with its reason and fix."""
        if not self.link.up:
            from hostapp.gui.workers import run_in_background

            run_in_background(self.link.restart, lambda _ok: None, lambda _e: None)
            return None
        problem = self.link.snapshot.problem
        if problem is not None and self.link.snapshot.state is NodeState.ERROR:
            return f"hostapp is running but cannot work: {problem.reason}. Fix: {problem.fix}"
        if problem is not None:
            return f"{problem.reason}: {problem.fix}"
        return None

    def resume(self) -> None:
        self._ask(lambda: self.link.client.resume())

    def pause(self, choice: PauseChoice) -> None:
        self._ask(lambda: self.link.client.pause(PAUSE_WIRE[choice]))

    def _ask(self, request: Callable[[], object]) -> None:
        try:
            request()
        except ControlError as exc:
            log.warning("the node did not take the request: %s", exc)
            raise ValueError(f"{NODE_GONE}: {NODE_GONE_FIX}") from None
        self.link.refresh()


class RemoteSchedule:
    """ScheduleService answered by the node, which alone writes schedule.json (its policy owner)."""

    def __init__(self, client: NodeClient, saved: Path, clock: Callable[[], dt.datetime] | None = None) -> None:
        self._client = client
        self._saved = saved  # schedule.json: what is shown while no node answers (saving needs the node)
        self._clock = clock or (lambda: dt.datetime.now().astimezone())

    def policy(self) -> AvailabilityPolicy:
        import json

        from hostapp.schedule.policy_file import load_policy_or_default, policy_from_json

        try:
            return policy_from_json(json.dumps(self._client.schedule()), source="the node")
        except ControlError as exc:
            log.info("schedule read from %s: the node did not answer (%s)", self._saved, exc)
            return load_policy_or_default(self._saved)

    def _save(self, policy: AvailabilityPolicy, part: str) -> None:
        from hostapp.schedule.policy_file import policy_to_dict

        try:
            # Only this part: a pause or a rules edit made meanwhile (CLI, another window) is kept.
            self._client.set_schedule(policy_to_dict(policy), parts=[part])
        except ControlError as exc:
            raise ValueError(f"the schedule was not saved: {exc}") from None

    def load(self) -> WeeklyGrid:
        return self.policy().grid

    def save(self, grid: WeeklyGrid) -> None:
        self._save(dataclasses.replace(self.policy(), grid=grid), "grid")

    def rules(self) -> Rules:
        return self.policy().rules

    def save_rules(self, rules: Rules) -> None:
        self._save(dataclasses.replace(self.policy(), rules=rules), "rules")

    def now(self) -> ScheduleNow:
        from hostapp.schedule import policy as policy_rules
        from hostapp.schedule.policy import Inputs, ReasonKind

        decision = policy_rules.evaluate(self.policy(), Inputs(), self._clock())
        schedule_blocks = ReasonKind.OUTSIDE_SCHEDULE in decision.blocking_kinds()
        next_change = decision.next_change.timestamp() if decision.next_change else None
        return ScheduleNow(not schedule_blocks and decision.available, decision.headline, next_change)


class RemoteWallet:
    """WalletActions answered by the node: the key is created, kept and used there, never here."""

    def __init__(self, client: NodeClient, settings_changed: Callable[[], None] = lambda: None) -> None:
        self._client = client
        self._settings_changed = settings_changed  # the payout address is a setting: the tray re-reads them

    def summary(self) -> WalletSummary | None:
        return summary_from_json(self._client.wallet("summary"))

    def create(self, replace: bool = False) -> CreatedWallet:
        return created_from_json(self._client.wallet("create", replace=replace))

    def confirm_backup(self, answers: Mapping[int, str]) -> str:
        return str(self._client.wallet("confirm_backup", answers={str(k): v for k, v in answers.items()}))

    def import_secret(self, text: str, replace: bool = False) -> str:
        return str(self._client.wallet("import", text=text, replace=replace))

    def export_secret(self) -> str:
        return str(self._client.wallet("export"))

    def balances(self) -> Balances:
        try:
            return Balances(**self._client.wallet("balances"))
        except ValueError as exc:
            return Balances(None, None, problem=str(exc))

    def set_payout_address(self, text: str | None) -> str:
        address = str(self._client.wallet("set_payout_address", address=text or ""))
        self._settings_changed()
        return address

    def plan_withdrawal(self, asset: str, to_address: str, amount_text: str) -> WithdrawalPlan:
        return WithdrawalPlan(**self._client.wallet("plan_withdrawal", asset=asset, to=to_address, amount=amount_text))

    def send_withdrawal(self, plan: WithdrawalPlan) -> str:
        return str(self._client.wallet("send_withdrawal", plan=dataclasses.asdict(plan)))

    def validate_address(self, text: str) -> str:
        return str(self._client.wallet("validate_address", address=text))
