"""Composition root: builds and wires the core services. GUI, CLI, node and tests all use it.

Nothing here decides anything: it only constructs the services with their settings and connects
them. Every service is created on first use, so a command pays only for what it touches.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hostapp import __version__
from hostapp.config.paths import AppPaths, default_paths
from hostapp.config.settings import Settings, load_settings, save_settings
from hostapp.events import EventBus

if TYPE_CHECKING:
    from hostapp.chain.payouts import PayoutVerifier
    from hostapp.gpu.probe import GpuDetection, NullProbe, NvmlProbe
    from hostapp.gpu.processes import ForeignUseWatcher
    from hostapp.gpu.telemetry import TelemetrySampler
    from hostapp.grid.client import GridClient
    from hostapp.jobs.definition import MachineCaps
    from hostapp.jobs.runner import JobRunner
    from hostapp.localgrid.process import EmbeddedGridProcess
    from hostapp.node.backend import GridBackend
    from hostapp.node.slots import Node, NodeConfig
    from hostapp.schedule.owner import PolicyOwner
    from hostapp.store import Store
    from hostapp.wallet.service import WalletService

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """Paths and settings: cheap, enough for commands that touch nothing else."""

    paths: AppPaths
    settings: Settings
    settings_problem: str | None = None

    def save_settings(self) -> None:
        save_settings(self.paths.settings_file, self.settings)


def load_context(paths: AppPaths | None = None) -> AppContext:
    paths = (paths or default_paths()).ensure()
    loaded = load_settings(paths.settings_file)
    return AppContext(paths, loaded.settings, loaded.problem)


@dataclass
class GpuStack:
    probe: NvmlProbe | NullProbe
    detection: GpuDetection
    sampler: TelemetrySampler
    watcher: ForeignUseWatcher

    def enabled_uuids(self, allowed: list[str] | None) -> list[str]:
        return [g.uuid for g in self.detection.gpus if allowed is None or g.uuid in allowed]

    def foreign_processes(self, uuid: str) -> list[tuple[int, str]]:
        return [(p.pid, p.name) for p in self.watcher.foreign(uuid)]


@dataclass
class Services:
    """The long-lived core: built once per process, shared by the GUI, node and CLI commands."""

    context: AppContext
    bus: EventBus = field(default_factory=EventBus)
    # Asked when the wallet key is in a passphrase-encrypted file (no secure keyring): a terminal
    # prompt for the CLI and node, a dialog for the GUI.
    passphrase: Callable[[bool], str | None] | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _started: list[Any] = field(default_factory=list, repr=False)
    _to_close: list[Any] = field(default_factory=list, repr=False)  # connection holders closed last

    @property
    def paths(self) -> AppPaths:
        return self.context.paths

    @property
    def settings(self) -> Settings:
        return self.context.settings

    @functools.cached_property
    def store(self) -> Store:
        from hostapp.store import Store

        with self._lock:
            return Store(self.paths.database)

    @functools.cached_property
    def instance_id(self) -> str:
        """Marks this installation's job containers, so a restart reconciles only its own."""
        existing = self.store.get_kv("instance_id")
        if existing:
            return existing
        new = uuid.uuid4().hex[:16]
        self.store.set_kv("instance_id", new)
        return new

    @functools.cached_property
    def docker(self) -> Any:
        from hostapp.jobs.engine import connect

        return connect()

    @functools.cached_property
    def runner(self) -> JobRunner:
        from hostapp.jobs.runner import JobRunner

        runner = JobRunner(
            self.docker,
            self.settings.jobs,
            self.paths,
            self.bus,
            self.store,
            self.instance_id,
            image_cache_budget_mb=self.settings.image_cache.budget_mb,
            outputs=lambda: self.settings.outputs,  # the current section: Settings edits apply to the next op
            models=lambda: self.settings.models,
        )
        runner.images.trusted_registries.update(self.settings.image_cache.trusted_registries)
        # Ops that expose ports: checks and, once the node works for a grid, its tunnel (hostapp/services/).
        from hostapp.services.host import ServiceHost

        runner.services = ServiceHost(self.docker.api, self.bus, runner.stop, settings=lambda: self.settings.services)
        # A grid job's outputs go once the grid answered its result (unless outputs.keep_days says otherwise).
        self.bus.subscribe("ledger.changed", runner.outputs.on_ledger_changed)
        return runner

    @functools.cached_property
    def wallet(self) -> WalletService:
        from hostapp.wallet.service import WalletService

        return WalletService(self.paths, self.settings, self.bus, passphrase=self.passphrase)

    @functools.cached_property
    def policy_owner(self) -> PolicyOwner:
        """The process's one owner of the availability policy: the node, the control socket and the
        GUI read and change it only through this (hostapp/schedule/owner.py)."""
        from hostapp.schedule.owner import PolicyOwner
        from hostapp.schedule.policy_file import policy_path

        with self._lock:
            return PolicyOwner(policy_path(self.paths), self.bus)

    @functools.cached_property
    def gpu(self) -> GpuStack:
        from hostapp.gpu.probe import open_probe
        from hostapp.gpu.processes import ForeignUseWatcher, JobContainers, ProcessClassifier
        from hostapp.gpu.telemetry import TelemetrySampler
        from hostapp.schedule.owner import CHANGED_TOPIC

        gpus = self.settings.gpus
        rules = self.policy_owner.current().rules  # allow/deny lists are schedule rules
        probe = open_probe()
        classifier = ProcessClassifier(probe, JobContainers(), rules.process_allow_list, rules.process_deny_list)

        def follow_rules(_event: Any) -> None:  # an edited allow/deny list applies to the next sample
            rules = self.policy_owner.current().rules
            classifier.allow, classifier.deny = list(rules.process_allow_list), list(rules.process_deny_list)

        self.bus.subscribe(CHANGED_TOPIC, follow_rules)
        watcher = ForeignUseWatcher(self.bus)
        sampler = TelemetrySampler(
            probe, self.bus, gpus.telemetry_interval_seconds, classifier=classifier, watcher=watcher
        )
        return GpuStack(probe, probe.detect(), sampler, watcher)

    # ------------------------------------------------------------------ the grid

    @property
    def uses_local_grid(self) -> bool:
        return self.settings.grid.url is None and self.settings.grid.backend == "embedded"

    @functools.cached_property
    def local_grid(self) -> EmbeddedGridProcess:
        """The embedded grid and its chain: a child process (`python -m hostapp.localgrid`), not started here."""
        from hostapp.localgrid.process import EmbeddedGridProcess

        return EmbeddedGridProcess(self.paths)

    def grid_url(self) -> str:
        """The grid to connect to; the embedded one (grid and chain) is started on first use, in its own process."""
        if self.settings.grid.url is not None:
            return self.settings.grid.url
        with self._lock:
            if not self.local_grid.running:
                self.local_grid.start()  # again after a crash: same data, same port (process.py)
                if self.local_grid not in self._started:
                    self._started.append(self.local_grid)
        return self.local_grid.url

    @functools.cached_property
    def grid_client(self) -> GridClient:
        from hostapp.grid.client import GridClient

        return GridClient(
            self.grid_url(),
            self.wallet.keystore(),
            bus=self.bus,
            timeout=self.settings.grid.request_timeout_seconds,
        )

    @functools.cached_property
    def grid_backend(self) -> GridBackend:
        """The grid the node works for, by `grid.backend` in the settings: one line per backend."""
        backends: dict[str, Callable[[], GridBackend]] = {
            "embedded": lambda: self.grid_client,  # hostapp's protocol: the embedded grid, or grid.url
            "nosana": lambda: _backend_module("hostapp.nosana.backend", "nosana").NosanaBackend.from_services(self),
        }
        return backends[self.settings.grid.backend]()

    # ------------------------------------------------------------------ the node

    @functools.cached_property
    def node(self) -> Node:
        from hostapp.node.inputs import InputAssembler
        from hostapp.node.slots import Node
        from hostapp.schedule.idle import pick_idle_backend

        gpu = self.gpu
        uuids = gpu.enabled_uuids(self.settings.gpus.enabled_uuids)
        inputs = InputAssembler(
            uuids,
            pick_idle_backend(),
            reading=gpu.sampler.latest,
            foreign=_ForeignAdapter(gpu),
        )
        config = self.node_config()
        if self.runner.services is not None:  # service jobs tunnel through the node's grid, signed by its key
            self.runner.services.use_grid(self.wallet.keystore(), self.grid_backend)
        return Node(
            bus=self.bus,
            store=self.store,
            grid=self.grid_backend,
            runner=self.runner,
            policy_path=self.policy_owner.path,
            policy_owner=self.policy_owner,
            inputs=inputs,
            gpus=uuids,
            config=config,
            power=lambda uuid: sample.power_w if (sample := gpu.sampler.latest(uuid)) else None,
            payouts=self._closing(self.payout_verifier()),
        )

    def payout_verifier(self) -> PayoutVerifier:
        """Confirms the grid's payouts on the wallet's chain before a ledger row is called paid. The
        wallet finds the embedded chain's RPC in its endpoint file, so it follows a chain restart."""
        from hostapp.chain.payouts import PayoutVerifier

        def paid_to() -> set[str]:
            # The node's grid key (what the grid pays without a payout address), read from the grid
            # client the node built: never built here, so another backend starts no embedded grid.
            client: GridClient | None = self.__dict__.get("grid_client")
            return {a for a in (self.settings.payout_address, client.signer.pubkey if client else None) if a}

        wallet = self.wallet
        return PayoutVerifier(
            wallet.rpc_url, wallet.token_mint, paid_to, timeout=self.settings.grid.request_timeout_seconds
        )

    def node_config(self) -> NodeConfig:
        """The node's settings, with what it registers at the grid (`NodeConfig.registration`): the
        shared GPUs as the probe detected them, as the wire's GpuInfo (hostapp/grid/registration.py)."""
        from hostapp.grid.registration import cuda_version, driver_version, grid_gpus
        from hostapp.node.slots import NodeConfig

        gpu = self.gpu
        detection = gpu.detection
        return NodeConfig(
            machine=self.machine_caps(),
            app_version=__version__,
            payout_address=self.settings.payout_address,
            gpu_details=grid_gpus(detection.gpus, gpu.enabled_uuids(self.settings.gpus.enabled_uuids)),
            driver_version=driver_version(detection.driver_version),
            cuda_version=cuda_version(detection.cuda_driver_version),
            lease_wait_seconds=20.0,
            prepull=list(self.settings.image_cache.prepull),
            service_grace_seconds=float(self.settings.services.preempt_grace_seconds),
            token_decimals=self._local_token_decimals(),
        )

    def _local_token_decimals(self) -> int | None:
        """The embedded chain's token decimals (from its ready line); None for another grid."""
        if not self.uses_local_grid:
            return None
        self.grid_url()  # starts the embedded grid if the node has not yet
        return self.local_grid.decimals

    def machine_caps(self) -> MachineCaps:
        """What jobs may use on this machine: the NVIDIA runtime (asked of the engine once) and the GPUs' VRAM."""
        from hostapp.jobs.definition import MachineCaps
        from hostapp.jobs.engine import gpu_runtime

        ok, detail = gpu_runtime(self.docker.info())
        vram = [g.memory_total_bytes // 2**20 for g in self.gpu.detection.gpus]
        return MachineCaps(nvidia_runtime=ok, runtime_detail=detail, gpu_vram_mb=min(vram) if vram else None)

    def start_node(self) -> Node:
        """Start telemetry and the node. The control socket is the daemon's (hostapp/node/daemon.py)."""
        node = self.node
        if self.gpu.detection.gpus:
            self.gpu.sampler.start()
            self._started.append(self.gpu.sampler)
        node.start()
        self._started.append(node)
        return node

    def _closing(self, holder: Any) -> Any:
        """`holder` (with a close()) is closed with the services."""
        self._to_close.append(holder)
        return holder

    def close(self) -> None:
        """Stop what was started, newest first, then release connections."""
        while self._started:
            service = self._started.pop()
            try:
                service.stop()
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)
        while self._to_close:
            self._to_close.pop().close()
        if "grid_client" in self.__dict__:
            self.grid_client.close()
        if "gpu" in self.__dict__:
            self.gpu.probe.close()
        if "store" in self.__dict__:
            self.store.close()


class _ForeignAdapter:
    def __init__(self, gpu: GpuStack) -> None:
        self._gpu = gpu

    def foreign_processes(self, uuid: str) -> list[tuple[int, str]]:
        return self._gpu.foreign_processes(uuid)


def _backend_module(module: str, name: str) -> Any:
    """A backend's module, or a one-line error saying what to set instead when this build lacks it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:  # the module is there but something it needs is not: that error says what
            raise
        raise RuntimeError(
            f"grid.backend is {name!r} but this build has no {module}: set grid.backend to 'embedded' "
            "in settings.json, or update hostapp"
        ) from None


def build_services(paths: AppPaths | None = None, setup_logs: bool = True) -> Services:
    context = load_context(paths)
    if setup_logs:
        from hostapp.logs import setup_logging

        setup_logging(context.paths.logs)
    return Services(context)
