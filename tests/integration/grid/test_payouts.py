"""Payouts through the real parts: LocalGrid over loopback HTTP paying on LocalChain (LiteSVM).

Every payout is its own transaction (a memo names the job attempt), so many payouts of the same
amount to the same wallet all land — also after the chain restarted, when LiteSVM would otherwise
hand out the first run's blockhashes again. A payout whose reply was lost is not paid twice.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from solders.keypair import Keypair

from hostapp.chain import LocalChain
from hostapp.chain.payouts import PreparedPayout, payout_memo
from hostapp.grid.client import GridClient
from hostapp.grid.models import Credits, JobResult, NodeRegistration
from hostapp.localgrid.payouts import PayoutWorker
from hostapp.localgrid.server import GridConfig, LocalGrid
from hostapp.localgrid.store import GridStore
from tests.support import FreshKeystore, wait_for

from .conftest import submit

PRICE = 1_234


def run_jobs(grid: LocalGrid, client: GridClient, count: int) -> None:
    """`count` one-second jobs at PRICE: every credit (and so every payout) is the same amount."""
    for _ in range(count):
        job_id = submit(grid, price=PRICE, timeout=60)
        lease = client.lease(wait_seconds=5)
        assert lease is not None and lease.job_id == job_id
        accepted = client.deliver_result(job_id, lease.attempt, JobResult(status="succeeded", run_seconds=1))
        assert accepted.amount == PRICE


def all_paid(client: GridClient, expected: int) -> Credits | None:
    credits = client.credits()
    return credits if credits.paid == credits.credited == expected else None


def test_payouts_of_equal_amounts_all_land_across_a_chain_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hostapp.localgrid.payouts")
    wallet = str(Keypair().pubkey())
    keystore = FreshKeystore()
    config = GridConfig(demo_feed=False)
    with LocalChain(tmp_path / "chain") as chain, LocalGrid(tmp_path / "grid", chain, config=config) as grid:
        port = grid.port
        client = GridClient(grid.url, keystore, timeout=5)
        client.register(NodeRegistration(payout_address=wallet))
        run_jobs(grid, client, 4)
        wait_for(lambda: all_paid(client, 4 * PRICE), timeout=30, what="the first run's payouts")
        client.close()
    # The app restarts: the same chain and grid state, back on the same port.
    with (
        LocalChain(tmp_path / "chain") as chain,
        LocalGrid(tmp_path / "grid", chain, config=config, port=port) as grid,
    ):
        client = GridClient(grid.url, keystore, timeout=5)
        run_jobs(grid, client, 6)
        credits = wait_for(lambda: all_paid(client, 10 * PRICE), timeout=30, what="every payout after the restart")
        signatures = [e.payout_signature for e in credits.entries]
        assert len(set(signatures)) == len(signatures) == 10
        assert chain.token_balance(wallet) == 10 * PRICE  # on chain, to the base unit
        client.close()
    assert not [r for r in caplog.records if "payout" in r.getMessage()], [r.getMessage() for r in caplog.records]


class ReplyLost:
    """The local chain behind a connection that drops the first reply: the transfer lands, the
    grid sees an error (a timeout to a real RPC node looks the same)."""

    def __init__(self, chain: LocalChain) -> None:
        self.chain = chain
        self.dropped = 0

    def _drop_first(self, signature: str) -> str:
        if self.dropped == 0:
            self.dropped += 1
            raise ConnectionError("connection reset while reading the reply")
        return signature

    def pay(self, owner: str, amount: int) -> str:  # the sink's one call before payouts were two-phase
        return self._drop_first(self.chain.pay(owner, amount))

    def prepare_payout(self, owner: str, amount: int, memo: str | None = None) -> PreparedPayout:
        return self.chain.prepare_payout(owner, amount, memo)

    def send_payout(self, payout: PreparedPayout) -> str:
        return self._drop_first(self.chain.send_payout(payout))

    def payout_landed(self, signature: str) -> bool:
        return self.chain.payout_landed(signature)


def test_a_payout_whose_reply_was_lost_is_retried_without_paying_twice(tmp_path: Path) -> None:
    wallet = str(Keypair().pubkey())
    store = GridStore(tmp_path / "grid.sqlite3")
    with LocalChain(tmp_path / "chain") as chain:
        sink = ReplyLost(chain)
        store.upsert_node("node-a", {"payout_address": wallet}, 1.0)
        job_id = store.submit_job({"ops": []}, PRICE, 60, gpu=False, min_vram_mb=None, min_cuda=None, now=1.0)
        lease = store.claim("node-a", [], True, 30, now=2.0)
        assert lease is not None
        store.record_result("node-a", job_id, lease.attempt, {"status": "succeeded", "run_seconds": 5}, now=9.0)
        worker = PayoutWorker(store, sink, retry_seconds=0)
        assert worker.pay_pending() == 1  # the reply was lost: counted as failed, to retry
        assert sink.dropped == 1
        worker.pay_pending()  # the retry finds the transfer on chain instead of sending another
        worker.pay_pending()
        credits = store.credits("node-a")
        (entry,) = credits["entries"]
        assert credits["paid"] == credits["credited"] == 5 * PRICE
        assert chain.token_balance(wallet) == 5 * PRICE  # once, not twice
        landed = chain._rt().transaction(entry["payout_signature"])
        assert landed is not None and payout_memo(job_id, lease.attempt).encode() in landed.raw
    store.close()
