"""The GUI's slice of the composition root: fills the view-model interfaces from the core.

The schedule and pause/resume go through the process's one `PolicyOwner` (Services.policy_owner,
hostapp/schedule/owner.py), never straight to schedule.json: an in-process node re-evaluates on its
`schedule.changed`, and a node in another process (`hostapp node`) notices the file within 1 s.
Until the app has started its own node, the tray steers `ScheduleBackedNode`: pausing and resuming
write the snooze into the policy, and the state shown is the real policy evaluation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hostapp.config.paths import AppPaths
from hostapp.config.settings import Settings, save_settings
from hostapp.earnings.pricing import PriceSource
from hostapp.events import EventBus
from hostapp.gui.viewmodels import (
    NodeControl,
    NodeState,
    NodeStatus,
    PauseChoice,
    ScheduleNow,
    ScheduleService,
    WalletActions,
)
from hostapp.schedule import policy as policy_rules
from hostapp.schedule.grid import WeeklyGrid
from hostapp.schedule.owner import PolicyChange, PolicyOwner
from hostapp.schedule.policy import AvailabilityPolicy, Inputs, ReasonKind, Rules

if TYPE_CHECKING:
    from hostapp.app import Services
    from hostapp.autostart import Autostart
    from hostapp.control.status import NodeSnapshot
    from hostapp.earnings import EarningsQueries
    from hostapp.health.doctor import DoctorReport
    from hostapp.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def local_now() -> dt.datetime:
    return dt.datetime.now().astimezone()


class PolicySchedule:
    """ScheduleService over the process's policy owner (which alone writes config/schedule.json)."""

    def __init__(self, owner: PolicyOwner, clock: Clock = local_now) -> None:
        self._owner = owner
        self._clock = clock

    def policy(self) -> AvailabilityPolicy:
        return self._owner.current()

    def change(self, change: PolicyChange) -> None:
        # Applied to the newest policy under the owner's lock: a pause made meanwhile (tray, control
        # socket, another process) is kept, and this edit is never undone by a stale copy.
        self._owner.update(change, "gui")

    def load(self) -> WeeklyGrid:
        return self.policy().grid

    def save(self, grid: WeeklyGrid) -> None:
        self.change(lambda policy: dataclasses.replace(policy, grid=grid))

    def rules(self) -> Rules:
        return self.policy().rules

    def save_rules(self, rules: Rules) -> None:
        self.change(lambda policy: dataclasses.replace(policy, rules=rules))

    def now(self) -> ScheduleNow:
        now = self._clock()
        decision = policy_rules.evaluate(self.policy(), Inputs(), now)
        schedule_blocks = ReasonKind.OUTSIDE_SCHEDULE in decision.blocking_kinds()
        next_change = decision.next_change.timestamp() if decision.next_change else None
        return ScheduleNow(not schedule_blocks and decision.available, decision.headline, next_change)


class ScheduleBackedNode:
    """NodeControl until the node state machine exists: the snooze lives in the policy file."""

    def __init__(self, schedule: PolicySchedule, bus: EventBus, clock: Clock = local_now) -> None:
        self._schedule = schedule
        self._bus = bus
        self._clock = clock
        self.shown: Callable[[], NodeStatus] = self.status  # what a change announces (CoreNode's view)

    def status(self) -> NodeStatus:
        now = self._clock()
        decision = policy_rules.evaluate(self._schedule.policy(), Inputs(), now)
        next_change = decision.shown_next_change.timestamp() if decision.shown_next_change else None
        if decision.available:
            return NodeStatus(NodeState.WAITING, "", next_change)
        kinds = decision.blocking_kinds()
        state = NodeState.SNOOZED if ReasonKind.SNOOZED in kinds else NodeState.PAUSED
        return NodeStatus(state, decision.headline, next_change)

    def _apply(self, change: PolicyChange) -> None:
        self._schedule.change(change)
        self.announce()

    def announce(self) -> None:
        """Tell every page and the tray (a node.state event) what the status is now."""
        status = self.shown()
        self._bus.publish(
            "node.state",
            state=status.state.value,
            reason=status.reason,
            headline=status.headline,
            next_change=status.next_change,
            problem={"reason": status.reason, "fix": status.fix} if status.fix else None,
        )

    def start(self) -> str | None:
        self.resume()
        return None

    def resume(self) -> None:
        self._apply(policy_rules.resume)

    def pause(self, choice: PauseChoice) -> None:
        now = self._clock()
        if choice is PauseChoice.ONE_HOUR:
            self._apply(lambda p: policy_rules.snooze_for(p, now, dt.timedelta(hours=1)))
        elif choice is PauseChoice.UNTIL_TOMORROW:
            self._apply(lambda p: policy_rules.snooze_until_tomorrow(p, now))
        else:
            self._apply(policy_rules.snooze_indefinitely)


class CoreNode:
    """NodeControl over hostapp.node.slots.Node once the app has started it; until then (no wallet yet,
    Docker down) pause/resume go to the schedule file through `fallback`, which the node reads."""

    def __init__(self, fallback: ScheduleBackedNode, start_node: Callable[[], Any]) -> None:
        self._fallback = fallback
        self._start_node = start_node
        # Set by the app's start (hostapp/gui/app.py) once it found no wallet with a confirmed backup.
        self.needs_wallet = False
        fallback.shown = self.status  # a pause before the node runs must not announce "Waiting for work"
        self.node: Any = None
        self.problem: str | None = None
        self._starting = threading.Lock()

    def start_blocking(self) -> None:
        """Builds and starts the core node (Docker, grid, wallet key): call on a worker thread."""
        with self._starting:  # the tray's Start and the wizard's end may both ask
            if self.node is not None:
                return
            self._start_locked()

    def _start_locked(self) -> None:
        try:
            self.node = self._start_node()
            self.problem, self.needs_wallet = None, False
        except Exception as exc:
            self.problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("the node did not start: %s", self.problem)
            raise

    def wait_for_wallet(self, why: str) -> None:
        """No wallet with a confirmed backup yet: say "Create a wallet to start" everywhere."""
        self.problem, self.needs_wallet = why, True
        if self.node is None:
            self._fallback.announce()

    def status(self) -> NodeStatus:
        if self.node is None:
            if self.needs_wallet:
                # Not "Waiting for work": no work comes before there is a key to sign it with.
                fix = self.problem or NEEDS_WALLET_FIX
                return NodeStatus(NodeState.STOPPED, NEEDS_WALLET, text=NEEDS_WALLET, fix=fix)
            if self.problem:
                return NodeStatus(NodeState.STOPPED, self.problem)
            return self._fallback.status()
        return NodeStatus.from_snapshot(self.node.status())

    def start(self) -> str | None:
        """Starts the core node if it is not running. A running node in Error cannot be "started"
        out of it: the answer is its reason and fix (it retries on its own once that is fixed)."""
        if self.node is None:
            from hostapp.gui.workers import run_in_background

            run_in_background(self.start_blocking, lambda _n: None, lambda _e: None)
            return None
        snapshot: NodeSnapshot = self.node.status()
        if snapshot.problem is not None:
            return f"hostapp is running but cannot work: {snapshot.problem.reason}. Fix: {snapshot.problem.fix}"
        return None

    def resume(self) -> None:
        if self.node is None:
            self._fallback.resume()
        else:
            self.node.resume("gui")

    def pause(self, choice: PauseChoice) -> None:
        if self.node is None:
            self._fallback.pause(choice)
            return
        now = local_now()
        if choice is PauseChoice.ONE_HOUR:
            self.node.update_policy(lambda p: policy_rules.snooze_for(p, now, dt.timedelta(hours=1)), "gui")
        elif choice is PauseChoice.UNTIL_TOMORROW:
            self.node.update_policy(lambda p: policy_rules.snooze_until_tomorrow(p, now), "gui")
        else:
            self.node.update_policy(policy_rules.snooze_indefinitely, "gui")


def _platform_autostart() -> Autostart:
    from hostapp.autostart import for_this_platform

    return for_this_platform()


@dataclass
class GuiServices:
    """Everything the pages talk to. Tests build one over a temporary HOSTAPP_HOME."""

    bus: EventBus
    paths: AppPaths
    settings: Settings
    save_settings: Callable[[Settings], None]
    store: Store
    node: NodeControl
    schedule: ScheduleService
    wallet: WalletActions | None
    earnings: Callable[[], EarningsQueries]  # a fresh reader: call from the thread that uses it
    run_doctor: Callable[[], DoctorReport]
    autostart: Callable[[], Autostart] = field(default_factory=lambda: _platform_autostart)
    token_decimals: int = 6
    unit_symbol: str = "GRID"
    explorer_url: Callable[[str], str | None] = lambda _signature: None  # None: no public explorer (localnet)
    # The token's value in money (hostapp/earnings/pricing.py); pages call current(), refresh() off the GUI thread.
    prices: PriceSource | None = None


def build_gui_services(services: Services) -> GuiServices:
    from hostapp.earnings import EarningsQueries
    from hostapp.health.doctor import run_checks

    schedule = PolicySchedule(services.policy_owner)
    # Never touch services.node here: building it needs the wallet key, Docker and the grid. The
    # app starts it on a worker thread after the tray icon is up (hostapp/gui/app.py).
    node = CoreNode(ScheduleBackedNode(schedule, services.bus), services.start_node)
    from hostapp.gui.wallet_adapter import CoreWallet

    # The same WalletService the grid client signs with (built on first use, off the tray's path).
    wallet: WalletActions | None = getattr(services, "gui_wallet", None) or CoreWallet(lambda: services.wallet)

    def save(settings: Settings) -> None:
        # Update the one shared Settings object in place: the wallet service, the node and the
        # pages all hold it, so none of them can later save a stale copy over this change.
        save_settings(services.paths.settings_file, settings)  # first: a failed write changes nothing
        current = services.context.settings
        for name in type(settings).model_fields:
            setattr(current, name, getattr(settings, name))

    return GuiServices(
        bus=services.bus,
        paths=services.paths,
        settings=services.settings,
        save_settings=save,
        store=services.store,
        node=node,
        schedule=schedule,
        wallet=wallet,
        earnings=lambda: EarningsQueries(services.store.reader()),
        run_doctor=lambda: run_checks(services.paths, services.settings),
        explorer_url=lambda sig: explorer_url(services.settings.solana.cluster, sig),
        prices=PriceSource(services.settings, lambda: _running_grid_url(services)),
    )


NEEDS_WALLET = "Create a wallet to start"
NEEDS_WALLET_FIX = "create or import a wallet on the Wallet page"


def _running_grid_url(services: Services) -> str | None:
    """The grid's URL for reading its rate, without starting the embedded grid (the node starts it)."""
    if services.settings.grid.url is not None:
        return services.settings.grid.url
    grid = services.__dict__.get("local_grid")  # built (cached_property) only once the node asked for it
    return grid.url if grid is not None and grid.service is not None else None


EXPLORER_CLUSTERS = {"mainnet-beta": "", "devnet": "?cluster=devnet"}


def explorer_url(cluster: str, signature: str) -> str | None:
    """The Solana Explorer page of a transaction, or None where no public explorer sees it
    (localnet, a custom RPC)."""
    suffix = EXPLORER_CLUSTERS.get(cluster)
    return None if suffix is None else f"https://explorer.solana.com/tx/{signature}{suffix}"
