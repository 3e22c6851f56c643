"""NosanaBackend: the official node kept in its market's queue while available, out between jobs.

Real parts: LiteSVM behind the local chain's JSON-RPC holds the market and run accounts (Python
encoders, byte-identical to the JS coders per test_conformance.py); the supervisor runs the
STAND-IN node image in the real Docker engine. Not available offline: the nosana_jobs program. So
its effect on the queue is stood in by `ProgramStandIn`, which receives the backend's transactions
(signed with the real keys), checks program, accounts and signers, and applies what the program
would do (`work` adds the node to the node queue, `stop` removes it, `quit` closes the run).
The official node's own moves (entering the queue, claiming and finishing a job) are made by the
test on the chain state. The real sender against LiteSVM is checked separately: the transaction
is built, signed and submitted, and the chain's refusal (no program there) comes back as one line.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from hostapp.chain import LocalChain
from hostapp.grid.client import GridRejected, GridUnavailable
from hostapp.node.backend import DescribesWaiting, GridBackend
from hostapp.nosana.accounts import MarketAccount, RunAccount
from hostapp.nosana.backend import NODE_QUEUE, NosanaBackend
from hostapp.nosana.ids import MAINNET, SYSTEM_PROGRAM
from hostapp.nosana.instructions import instruction_discriminator
from hostapp.nosana.reads import NosanaChainReader
from hostapp.nosana.sender import NosanaSender
from hostapp.nosana.supervisor import NodeSupervisor
from hostapp.wallet.chain_client import ChainError

pytestmark = [pytest.mark.nosana, pytest.mark.docker]
RNG = random.Random(80)
JOBS = MAINNET.jobs_program
NAMES = {instruction_discriminator(n): n for n in ("work", "stop", "quit", "claim", "finish", "complete")}


def key() -> Pubkey:
    return Pubkey.from_bytes(RNG.randbytes(32))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ProgramStandIn:
    """Receives the backend's transactions in place of the nosana_jobs program (see the docstring)."""

    def __init__(self, chain: LocalChain) -> None:
        self.chain = chain
        self.sent: list[str] = []

    def submit(self, what: str, instructions: list[Instruction], signers: list[Keypair]) -> str:
        [ix] = instructions
        assert ix.program_id == JOBS
        message = Message(instructions, signers[0].pubkey())
        transaction = Transaction(signers, message, message.recent_blockhash)  # raises if a signer is missing
        assert transaction.verify_with_results() == [True] * len(signers)
        name = NAMES[bytes(ix.data)[:8]]
        self.sent.append(name)
        metas = ix.accounts
        if name in ("work", "stop"):
            market_key = metas[1].pubkey if name == "work" else metas[0].pubkey
            node = metas[6].pubkey if name == "work" else metas[1].pubkey
            market = read_market(self.chain, market_key)
            queue = [k for k in market.queue if k != node] + ([node] if name == "work" else [])
            put_market(self.chain, market_key, queue)
        elif name == "quit":
            close(self.chain, metas[1].pubkey)
        return f"stand-in-{name}-{len(self.sent)}"


def read_market(chain: LocalChain, address: Pubkey) -> MarketAccount:
    with NosanaChainReader(chain.rpc_url, timeout=5, attempts=1) as reader:
        market = reader.market(address)
    assert market is not None
    return market


def put_market(chain: LocalChain, address: Pubkey, queue: list[Pubkey]) -> None:
    market = MarketAccount(key(), 86400, 100, 3600, 0, key(), 255, SYSTEM_PROGRAM, 0, NODE_QUEUE, tuple(queue))
    chain.load_account(str(address), market.encode() + bytes(32 * 50), str(JOBS))


def put_run(chain: LocalChain, node: Pubkey) -> tuple[Pubkey, RunAccount]:
    address, run = key(), RunAccount(key(), node, key(), 0, 1_700_000_000)
    chain.load_account(str(address), run.encode(), str(JOBS))
    return address, run


def close(chain: LocalChain, address: Pubkey) -> None:
    chain.load_account(str(address), b"", str(SYSTEM_PROGRAM))  # what a closed account reads as


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalChain]:
    with LocalChain(Path(tmp_path_factory.mktemp("chain"))) as local:
        yield local


@pytest.fixture
def setup(chain: LocalChain, docker_client: Any, stand_in_image: str) -> Iterator[dict[str, Any]]:
    node_key, market, clock = Keypair(), key(), Clock()
    put_market(chain, market, [key()])  # another node already waits
    name = f"hostapp-test-nosana-{uuid.uuid4().hex[:8]}"
    program = ProgramStandIn(chain)

    def backend() -> NosanaBackend:
        return NosanaBackend(
            reader=NosanaChainReader(chain.rpc_url, timeout=5, attempts=1),
            sender=program,
            supervisor=NodeSupervisor(docker_client, image=stand_in_image, name=name, clock=clock),
            node_key=node_key,
            market=market,
            requeue_after=60.0,
            clock=clock,
        )

    made = backend()
    yield {"backend": made, "make": backend, "program": program, "clock": clock, "market": market, "name": name}
    made.close()
    for container in docker_client.containers.list(all=True, filters={"name": name}):
        container.remove(force=True)


def queue_of(chain: LocalChain, market: Pubkey) -> list[Pubkey]:
    return list(read_market(chain, market).queue)


def running(docker_client: Any, name: str) -> bool:
    found = docker_client.containers.list(all=True, filters={"name": name})
    return bool(found) and found[0].status == "running"


def test_available_keeps_the_node_in_the_queue_and_unavailable_leaves_between_jobs(
    setup: dict[str, Any], chain: LocalChain, docker_client: Any
) -> None:
    backend: NosanaBackend = setup["backend"]
    program, clock, market, name = setup["program"], setup["clock"], setup["market"], setup["name"]
    seam: GridBackend = backend  # satisfies the node's seam
    assert isinstance(seam, GridBackend)
    node = backend.authority

    assert backend.lease(wait_seconds=0.01, free_gpus=[]) is None  # the CPU slot: nothing happens
    assert not running(docker_client, name) and program.sent == []

    assert backend.lease(wait_seconds=0.01, free_gpus=["GPU-0"]) is None  # never a job for hostapp to run
    assert running(docker_client, name)  # the official node (stand-in) is up
    assert backend.state().queue == "out" and program.sent == []  # the node gets time to enter by itself
    clock.now += 59
    backend.lease(wait_seconds=0.01, free_gpus=["GPU-0"])
    assert program.sent == []
    clock.now += 1  # still out after requeue_after: hostapp sends `work`
    backend.lease(wait_seconds=0.01, free_gpus=["GPU-0"])
    assert program.sent == ["work"] and node in queue_of(chain, market)
    assert backend.state().queue == "queued"
    assert backend.describe_wait() == (False, "In the Nosana market queue")  # the slot's headline
    backend.lease(wait_seconds=0.01, free_gpus=["GPU-0"])
    assert program.sent == ["work"]  # already queued: nothing sent

    # The official node is matched with a job: out of the queue, holding a run.
    put_market(chain, market, [k for k in queue_of(chain, market) if k != node])
    run_address, _run = put_run(chain, node)
    backend.lease(wait_seconds=0.01, free_gpus=["GPU-0"])
    assert backend.state().queue == "running-job" and program.sent == ["work"]
    assert backend.describe_wait() == (True, "Working — a Nosana job, run by the official node (1 run)")
    assert isinstance(seam, DescribesWaiting)  # so the node shows Working while the official node works

    backend.on_unavailable()  # a game starts: the job runs on, no `stop` needed (not queued), no `quit`
    state = backend.state()
    assert (state.queue, state.runs) == ("leaving", 1) and "after the current job" in state.detail
    assert running(docker_client, name) and program.sent == ["work"]

    # The job finishes (run closed) and the official node re-enters the queue on its own.
    close(chain, run_address)
    put_market(chain, market, [*queue_of(chain, market), node])
    backend.on_unavailable()
    assert program.sent == ["work", "stop"] and node not in queue_of(chain, market)
    assert not running(docker_client, name) and backend.state().queue == "stopped"
    backend.on_unavailable()  # called every second while unavailable: nothing more once out
    assert program.sent == ["work", "stop"]

    backend.lease(wait_seconds=0.01, free_gpus=["GPU-0"])  # available again: the node comes back
    assert running(docker_client, name)
    assert "quit" not in program.sent


def test_a_restarted_hostapp_adopts_the_running_node_and_quit_only_when_forced(
    setup: dict[str, Any], chain: LocalChain, docker_client: Any
) -> None:
    backend: NosanaBackend = setup["backend"]
    program, market, name = setup["program"], setup["market"], setup["name"]
    node = backend.authority
    backend.lease(wait_seconds=0.01, free_gpus=["GPU-0"])
    first = docker_client.containers.get(name).id
    run_address, run = put_run(chain, node)

    again = setup["make"]()  # hostapp restarted while the node holds a job
    try:
        again.lease(wait_seconds=0.01, free_gpus=["GPU-0"])
        assert docker_client.containers.get(name).id == first  # adopted, not relaunched (the job survives)
        assert again.state().queue == "running-job"

        assert again.force_quit() == ["stand-in-quit-1"]  # the user chose to give the job up
        assert program.sent == ["quit"]
        assert not running(docker_client, name) and again.state().queue == "stopped"
        with NosanaChainReader(chain.rpc_url, timeout=5, attempts=1) as reader:
            assert reader.runs_of(node) == {}
        assert node not in queue_of(chain, market)
    finally:
        again.close()
    del run_address, run


def test_the_real_sender_signs_and_submits_and_the_chain_refusal_is_one_line(chain: LocalChain) -> None:
    from hostapp.nosana import instructions

    node = Keypair()
    chain.airdrop(str(node.pubkey()), 10**9)
    ix = instructions.stop(market=key(), authority=node.pubkey())
    with NosanaSender(chain.rpc_url, timeout=5, attempts=1) as sender:
        with pytest.raises(ChainError) as refused:
            sender.submit("leaving the Nosana market queue (stop)", [ix], [node])
    message = str(refused.value)
    assert message.startswith("leaving the Nosana market queue (stop): the RPC node refused it")
    assert "\n" not in message


def test_a_missing_market_and_an_unreachable_chain_are_seam_errors(
    setup: dict[str, Any], chain: LocalChain, docker_client: Any, stand_in_image: str
) -> None:
    backend: NosanaBackend = setup["backend"]
    backend.market = key()
    with pytest.raises(GridRejected, match=r"the Nosana market \S+ does not exist on mainnet-beta"):
        backend.lease(wait_seconds=0.01, free_gpus=["GPU-0"])
    offline = NosanaBackend(
        reader=NosanaChainReader("http://127.0.0.1:9", timeout=1, attempts=1),
        sender=setup["program"],
        supervisor=NodeSupervisor(docker_client, image=stand_in_image, name=setup["name"]),
        node_key=Keypair(),
        market=setup["market"],
    )
    try:
        with pytest.raises(GridUnavailable, match="unreachable"):
            offline.lease(wait_seconds=0.01, free_gpus=["GPU-0"])
        assert offline.online is False
    finally:
        offline.close()


def test_from_services_builds_the_backend_from_the_settings(
    chain: LocalChain, app_paths: Any, docker_client: Any, stand_in_image: str
) -> None:
    import json
    import stat
    from types import SimpleNamespace

    from hostapp.config.settings import GridSettings, Settings, SolanaSettings
    from hostapp.nosana.config import NosanaConfigError

    settings = Settings(
        grid=GridSettings(backend="nosana"), solana=SolanaSettings(cluster="devnet", rpc_url=chain.rpc_url)
    )
    services = SimpleNamespace(paths=app_paths, settings=settings, docker=docker_client)
    with pytest.raises(NosanaConfigError, match=r'no Nosana market chosen: set "market" in .*nosana\.json'):
        NosanaBackend.from_services(services)
    market = key()
    (app_paths.config / "nosana.json").write_text(
        json.dumps({"market": str(market), "image": stand_in_image}), encoding="utf-8"
    )
    backend = NosanaBackend.from_services(services)
    try:
        key_file = app_paths.data / "nosana" / "nosana_key.json"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert bytes(json.loads(key_file.read_text())) == bytes(backend._key)  # the file the node reads
        assert (backend.market, backend.cluster.name) == (market, "devnet")
        assert backend.supervisor.image == stand_in_image
        assert backend.supervisor.volumes == {str(key_file.parent): {"bind": "/root/.nosana", "mode": "rw"}}
        assert backend.supervisor.command == ["nosana", "node", "start", "--network", "devnet", "--rpc", chain.rpc_url]
        again = NosanaBackend.from_services(services)  # the same key on the next start
        assert again.authority == backend.authority
        again.close()
    finally:
        backend.close()
