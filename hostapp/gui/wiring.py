"""The GUI's composition root: the view-model interfaces filled from the node process.

The tray is a thin client (docs/architecture.md): the node (slot loop, runner, grid, wallet key,
ledger) runs in its own process, `hostapp node`, and the pages reach it only through
hostapp/gui/remote.py over the control socket. The tray keeps nothing of the node but the last
status it reported and the events it streams, which arrive on the tray's own bus.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hostapp.config.paths import AppPaths
from hostapp.config.settings import Settings
from hostapp.earnings.pricing import PriceSource
from hostapp.events import EventBus
from hostapp.gui.viewmodels import NodeControl, ScheduleService, WalletActions

if TYPE_CHECKING:
    from hostapp.autostart import Autostart
    from hostapp.control.client import NodeClient
    from hostapp.earnings import EarningsReader
    from hostapp.gui.remote import NodeLink
    from hostapp.health.doctor import DoctorReport

log = logging.getLogger(__name__)


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
    client: NodeClient  # jobs history, storage usage: questions without a page interface of their own
    node: NodeControl
    schedule: ScheduleService
    wallet: WalletActions | None
    earnings: Callable[[], EarningsReader]  # the ledger's queries (in the tray: answered by the node)
    run_doctor: Callable[[], DoctorReport]
    autostart: Callable[[], Autostart] = field(default_factory=lambda: _platform_autostart)
    token_decimals: int = 6
    unit_symbol: str = "GRID"
    explorer_url: Callable[[str], str | None] = lambda _signature: None  # None: no public explorer (localnet)
    # The token's value in money (hostapp/earnings/pricing.py); pages call current(), refresh() off the GUI thread.
    prices: PriceSource | None = None


def build_gui_services(paths: AppPaths, settings: Settings, link: NodeLink) -> GuiServices:
    """The pages' services over a link to the node (hostapp/gui/remote.py)."""
    from hostapp.earnings.wire import RemoteEarnings
    from hostapp.gui.remote import RemoteNode, RemoteSchedule, RemoteWallet
    from hostapp.schedule.policy_file import policy_path

    client = link.client
    earnings = RemoteEarnings(client.earnings_call)

    def save(new: Settings) -> None:
        # The node validates, saves and applies it (it owns settings.json); the tray's copy is then
        # updated in place, so every page that holds it shows the saved values.
        try:
            saved = client.save_settings(new.model_dump(mode="json"))
        except Exception as exc:
            raise ValueError(f"settings not saved: {exc}") from None
        applied = Settings.model_validate(saved)
        for name in type(applied).model_fields:
            setattr(settings, name, getattr(applied, name))

    def follow_saved_settings(_event: object = None) -> None:
        # Saved in the node by someone else (the wallet's payout address, `hostapp` CLI, another
        # window): the tray's copy follows, so a page never shows or saves a stale value.
        try:
            applied = Settings.model_validate(client.settings())
        except Exception as exc:
            log.warning("settings not re-read from the node: %s", exc)
            return
        for name in type(applied).model_fields:
            setattr(settings, name, getattr(applied, name))

    for topic in ("settings.changed", "wallet.payout_address"):
        link.bus.subscribe(topic, follow_saved_settings)

    return GuiServices(
        bus=link.bus,
        paths=paths,
        settings=settings,
        save_settings=save,
        client=client,
        node=RemoteNode(link),
        schedule=RemoteSchedule(client, policy_path(paths)),
        wallet=RemoteWallet(client, settings_changed=follow_saved_settings),
        earnings=lambda: earnings,
        run_doctor=run_doctor_process,
        explorer_url=lambda sig: explorer_url(settings.solana.cluster, sig),
        prices=PriceSource(settings, client.grid_price),
    )


def run_doctor_process() -> DoctorReport:
    """`hostapp doctor --json` in its own process: the checks (Docker, NVML, keyring) stay out of the tray."""
    import json
    import subprocess

    from hostapp.control.client import hostapp_argv
    from hostapp.health.doctor import DoctorReport

    done = subprocess.run(
        hostapp_argv("doctor", "--json"), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    try:
        return DoctorReport.from_json(json.loads(done.stdout))
    except (ValueError, KeyError, TypeError) as exc:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ValueError(f"the checks did not run: {tail[0]}") from exc


NEEDS_WALLET = "Create a wallet to start"
NEEDS_WALLET_FIX = "create or import a wallet on the Wallet page"


EXPLORER_CLUSTERS = {"mainnet-beta": "", "devnet": "?cluster=devnet"}


def explorer_url(cluster: str, signature: str) -> str | None:
    """The Solana Explorer page of a transaction, or None where no public explorer sees it
    (localnet, a custom RPC)."""
    suffix = EXPLORER_CLUSTERS.get(cluster)
    return None if suffix is None else f"https://explorer.solana.com/tx/{signature}{suffix}"
