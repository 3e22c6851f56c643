"""`NosanaBackend`: the node's `GridBackend` when `grid.backend = "nosana"`.

In Nosana mode the official node (a supervised container, hostapp/nosana/supervisor.py) claims,
runs and finishes the jobs; hostapp's slot loop runs none. So `lease()` never returns a job: while
the slot is available it keeps the official node running and in its market's queue, then waits.
When the slot stops being available the node calls `on_unavailable()` (one line in the slot
loop), and the backend leaves the queue *between jobs*:

1. `stop` if the node is in the queue (no new job can reach it from then on);
2. if it still holds a run (a job it claimed), the container keeps running until that job is
   finished and paid; the official node may re-enter the queue after it, which the next step
   undoes with another `stop`;
3. with no run left, the container is stopped.

A running job is given up (`quit`, forfeiting its pay) only by `force_quit()`, which the user
must ask for. The official node enters the queue itself when it starts; hostapp sends `work` only
when the node has been running, out of the queue and without a run for `requeue_after` seconds,
so the two do not race. Pay is read from the chain (hostapp/nosana/earnings.py) by
`sync_earnings`, which the node's credits sync calls; `credits()` has no grid to ask.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from hostapp.grid.client import GridRejected, GridUnavailable, Lease
from hostapp.grid.models import Credits, JobResult, NodeInfo, NodeRegistration, Released, ResultAccepted
from hostapp.node.settlement import Settlement, SettlementReport
from hostapp.nosana import instructions
from hostapp.nosana.config import NosanaConfigError, load_nosana_config
from hostapp.nosana.earnings import sync_chain_earnings
from hostapp.nosana.ids import NosanaCluster
from hostapp.nosana.reads import NosanaChainReader
from hostapp.nosana.sender import NosanaSender, QueueSender
from hostapp.nosana.supervisor import NodeSupervisor, SupervisorError
from hostapp.wallet.chain_client import ChainError, ChainOffline, resolve_rpc_url

log = logging.getLogger(__name__)
T = TypeVar("T")

NODE_KEY_MOUNT = "/root/.nosana"  # where the official node looks for nosana_key.json
NODE_QUEUE = 1  # MarketAccount.queue_type when nodes wait in `queue` (the kit's MarketQueueType.NODE_QUEUE)

QueueState = Literal["queued", "running-job", "leaving", "out", "stopped"]


@dataclass(frozen=True)
class NosanaState:
    """What the Jobs page and tray show for the Nosana node."""

    queue: QueueState
    node: str  # the supervisor's state: running, backing-off, failed, stopped
    detail: str
    runs: int  # jobs the node holds now


class NosanaBackend:
    def __init__(
        self,
        *,
        reader: NosanaChainReader,
        sender: QueueSender,
        supervisor: NodeSupervisor,
        node_key: Keypair,
        market: Pubkey,
        access_key_nft: Pubkey | None = None,
        requeue_after: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.sender = sender
        self.supervisor = supervisor
        self.market = market
        self.access_key_nft = access_key_nft
        self.requeue_after = requeue_after
        self._key = node_key
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._left = False  # out of the queue with the container stopped: nothing more to do
        self._out_since: float | None = None
        self._state = NosanaState("stopped", "stopped", "Nosana node not started", 0)

    @classmethod
    def from_services(cls, services: Any) -> NosanaBackend:
        """The backend from hostapp's settings (hostapp/nosana/config.py): the composition root's one line.
        Creates the dedicated node key on first use; never pulls the node image."""
        config = load_nosana_config(services.paths, services.settings)
        if config.market is None:
            raise NosanaConfigError(
                f'no Nosana market chosen: set "market" in {services.paths.config / "nosana.json"} '
                "(see `hostapp doctor`)"
            )
        rpc_url = resolve_rpc_url(services.settings.solana)
        network = "devnet" if config.cluster.name == "devnet" else "mainnet"
        supervisor = NodeSupervisor(
            services.docker,
            image=config.image,
            command=["nosana", "node", "start", "--network", network, "--rpc", rpc_url],
            volumes={str(config.node_dir): {"bind": NODE_KEY_MOUNT, "mode": "rw"}},
        )
        return cls(
            reader=NosanaChainReader(rpc_url, cluster=config.cluster),
            sender=NosanaSender(rpc_url),
            supervisor=supervisor,
            node_key=config.node_key(create=True),
            market=config.market,
            access_key_nft=config.access_key_nft,
        )

    @property
    def cluster(self) -> NosanaCluster:
        return self.reader.cluster

    @property
    def authority(self) -> Pubkey:
        return self._key.pubkey()

    # -- GridBackend -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"nosana:{self.cluster.name}/market/{self.market}"

    @property
    def online(self) -> bool | None:
        return None if self.reader.state == "unknown" else self.reader.state == "online"

    def register(self, registration: NodeRegistration | None = None) -> NodeInfo:
        """Nothing to tell a grid: onboarding goes through Nosana's own backend (not re-implemented).
        The node's identity is its key; `doctor` checks stake, SOL and market access."""
        registration = registration or NodeRegistration()
        now = int(time.time())
        return NodeInfo(
            node=str(self.authority),
            payout_address=str(self.authority),  # pay lands in the node key's NOS account (docs/nosana.md)
            gpus=registration.gpus,
            driver_version=registration.driver_version,
            cuda_version=registration.cuda_version,
            app_version=registration.app_version,
            registered_at=now,
            updated_at=now,
        )

    def lease(
        self,
        wait_seconds: float = 20.0,
        free_gpus: list[str] | None = None,
        accept_cpu_jobs: bool = True,
        held_resources: list[str] | None = None,
    ) -> Lease | None:
        """Keeps the official node running and queued while a GPU slot is available, then waits.
        Never a job: the official node runs Nosana's jobs itself."""
        if free_gpus:  # the CPU slot has no part in Nosana (its jobs are GPU jobs)
            self._wake.clear()
            with self._lock:
                self._left = False
                self._stay_in_queue()
        self._wake.wait(wait_seconds)
        return None

    def on_unavailable(self) -> None:
        """The slot stopped being available: leave the queue between jobs (module docstring). Cheap
        to call repeatedly (the slot loop does, about once a second): it stops once the node is out."""
        self._wake.set()
        with self._lock:
            if self._left:
                return
            self._leave_step()

    def force_quit(self) -> list[str]:
        """The user gave up the running job(s) knowing it forfeits their pay: `quit` each run, leave
        the queue, stop the node. Returns the signatures of the quit transactions."""
        with self._lock:
            signatures = []
            for address, run in self._chain(lambda: self.reader.runs_of(self.authority)).items():
                ix = instructions.quit(
                    run=address, run_account=run, authority=self.authority, program=self.cluster.jobs_program
                )
                signatures.append(self._send("giving up the Nosana job (quit)", ix))
            self._leave_step()
            return signatures

    def heartbeat(
        self,
        lease: Lease,
        *,
        progress: float | None = None,
        state: str | None = None,
        telemetry: dict[str, int | float | str | None] | None = None,
    ) -> Lease:
        raise self._no_leases()

    def release(self, lease: Lease, reason: str = "") -> Released:
        raise self._no_leases()

    def deliver_result(self, job_id: str, attempt: int, result: JobResult) -> ResultAccepted:
        raise self._no_leases()

    def credits(self) -> Credits:
        """No grid keeps this node's account: pay is read from the chain by `sync_earnings`."""
        return Credits(node=str(self.authority), credited=0, paid=0, unpaid=0, entries=[])

    def sync_earnings(self, settlement: Settlement) -> SettlementReport:
        """The node's finished jobs on chain → ledger rows (idempotent; the credits sync calls it)."""
        return self._chain(lambda: sync_chain_earnings(self.reader, self.authority, settlement))

    def close(self) -> None:
        """Closes the RPC clients. The node container is left as it is: if it holds a job, stopping
        it would abandon that job; the next start adopts the running container."""
        self._wake.set()
        self.reader.close()
        close = getattr(self.sender, "close", None)
        if callable(close):
            close()

    # -- status ------------------------------------------------------------------------------
    def state(self) -> NosanaState:
        return self._state

    def describe_wait(self) -> tuple[bool, str]:
        """The slot's headline between leases (hostapp/node/backend.py DescribesWaiting): what the
        official node is doing, in the tray and on the Dashboard."""
        state = self._state
        if state.queue == "running-job":
            runs = f"{state.runs} run" + ("" if state.runs == 1 else "s")
            return True, f"Working — a Nosana job, run by the official node ({runs})"
        return False, state.detail or "Starting the Nosana node"  # each detail names Nosana already

    # -- internals ---------------------------------------------------------------------------
    def _stay_in_queue(self) -> None:
        try:
            node = self.supervisor.ensure_running()
        except SupervisorError as exc:
            self._show("stopped", "failed", str(exc), 0)
            raise GridRejected(503, "nosana_node", str(exc)) from None
        if node.state != "running":
            self._show("out", node.state, node.detail or f"Nosana node {node.state}", 0)
            return
        runs = self._chain(lambda: self.reader.runs_of(self.authority))
        if runs:
            self._out_since = None
            self._show("running-job", node.state, "The Nosana node is running a job", len(runs))
            return
        if self._queued():
            self._out_since = None
            self._show("queued", node.state, "In the Nosana market queue", 0)
            return
        now = self._clock()
        if self._out_since is None:
            self._out_since = now
        if now - self._out_since < self.requeue_after:
            self._show("out", node.state, "Waiting for the Nosana node to enter the queue", 0)
            return
        run = Keypair()  # the run account `work` creates if a job is waiting
        ix = instructions.work(
            run=run.pubkey(),
            market=self.market,
            authority=self.authority,
            access_key_nft=self.access_key_nft,
            program=self.cluster.jobs_program,
            nos_mint=self.cluster.nos_mint,
            staking_program=self.cluster.staking_program,
        )
        self._send("entering the Nosana market queue (work)", ix, run)
        self._out_since = None
        self._show("queued", node.state, "In the Nosana market queue", 0)

    def _leave_step(self) -> None:
        if self._queued():
            ix = instructions.stop(market=self.market, authority=self.authority, program=self.cluster.jobs_program)
            self._send("leaving the Nosana market queue (stop)", ix)
        runs = self._chain(lambda: self.reader.runs_of(self.authority))
        if runs:
            detail = "Leaving the Nosana market after the current job (it finishes and is paid)"
            self._show("leaving", self.supervisor.status().state, detail, len(runs))
            return
        try:
            self.supervisor.stop()
        except SupervisorError as exc:
            self._show("leaving", "failed", str(exc), 0)
            return
        self._left = True
        self._show("stopped", "stopped", "Out of the Nosana market queue", 0)

    def _queued(self) -> bool:
        market = self._chain(lambda: self.reader.market(self.market))
        if market is None:
            raise GridRejected(
                404, "nosana_market", f"the Nosana market {self.market} does not exist on {self.cluster.name}"
            )
        return market.queue_type == NODE_QUEUE and self.authority in market.queue

    def _send(self, what: str, ix: Instruction, *extra: Keypair) -> str:
        signature = self._chain(lambda: self.sender.submit(what, [ix], [self._key, *extra]))
        log.info("%s: %s", what, signature)
        return signature

    @staticmethod
    def _chain(call: Callable[[], T]) -> T:
        """Chain failures in the seam's terms: unreachable → try later, refused → the reason."""
        try:
            return call()
        except ChainOffline as exc:
            raise GridUnavailable(str(exc)) from None
        except ChainError as exc:
            raise GridRejected(502, "nosana_chain", str(exc)) from None

    def _show(self, queue: QueueState, node: str, detail: str, runs: int) -> None:
        self._state = NosanaState(queue, node, detail, runs)

    @staticmethod
    def _no_leases() -> GridRejected:
        return GridRejected(409, "nosana_no_leases", "Nosana jobs are run by the official node, not by hostapp")
