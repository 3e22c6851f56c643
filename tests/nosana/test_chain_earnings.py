"""Earnings from the chain: a node's finished Nosana jobs → ledger rows, through the real RPC path.

LiteSVM holds JS-encoded Job accounts at the jobs program's address (the program binary is not
available offline). `finish` itself cannot run here, so what it leaves on chain is stood in by a
real SPL transfer of the job's pay to the node's token account in a transaction that names the
job account; the local chain's mint stands in for NOS. Rows land through
Settlement.record_chain_earnings into a real SQLite ledger.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from hostapp.chain import LocalChain
from hostapp.chain.payouts import PreparedPayout
from hostapp.earnings.rows import NOSANA_SOURCE as SOURCE_LABEL
from hostapp.earnings.rows import source_of
from hostapp.node.ledger import Ledger
from hostapp.node.settlement import ChainEarning, Settlement
from hostapp.nosana.accounts import JOB_COMPLETED, JOB_RUNNING
from hostapp.nosana.earnings import job_id_of, sync_chain_earnings
from hostapp.nosana.ids import MAINNET, TOKEN_PROGRAM, NosanaCluster
from hostapp.nosana.reads import NosanaChainReader
from hostapp.store import Store
from tests.nosana.conftest import Oracle

pytestmark = pytest.mark.nosana
RNG = random.Random(60)
JOBS = str(MAINNET.jobs_program)


def key() -> Pubkey:
    return Pubkey.from_bytes(RNG.randbytes(32))


@pytest.fixture
def reader(chain: LocalChain) -> Iterator[NosanaChainReader]:
    cluster = NosanaCluster("local", jobs_program=MAINNET.jobs_program, nos_mint=Pubkey.from_string(chain.mint))
    with NosanaChainReader(chain.rpc_url, cluster=cluster, timeout=5, attempts=1) as r:
        yield r


def put_job(chain: LocalChain, oracle: Oracle, node: Pubkey, price: int, start: int, end: int, timeout: int,
            state: int = JOB_COMPLETED) -> Pubkey:  # fmt: skip
    fields = {
        "ipfsJob": RNG.randbytes(32).hex(), "ipfsResult": RNG.randbytes(32).hex(), "market": str(key()),
        "node": str(node), "payer": str(key()), "price": str(price), "project": str(key()), "state": state,
        "timeEnd": str(end), "timeStart": str(start), "timeout": str(timeout),
    }  # fmt: skip
    [answer] = oracle([{"op": "encode", "account": "JobAccount", "fields": fields}])
    address = key()
    chain.load_account(str(address), bytes.fromhex(answer["hex"]), JOBS)
    return address


def finish_transfer(chain: LocalChain, job: Pubkey, node: Pubkey, amount: int) -> str:
    """Stand-in for what `finish` leaves on chain: the pay to the node's token account, in a
    transaction that names the job account (an extra read-only account SPL Token ignores)."""
    from spl.token.instructions import (
        create_idempotent_associated_token_account,
        get_associated_token_address,
        transfer_checked,
    )
    from spl.token.models import TransferCheckedParams

    treasury, mint = chain._treasury, Pubkey.from_string(chain.mint)  # the test chain's own keys
    assert treasury is not None
    move = transfer_checked(
        TransferCheckedParams(
            program_id=TOKEN_PROGRAM,
            source=get_associated_token_address(treasury.pubkey(), mint),
            mint=mint,
            dest=get_associated_token_address(node, mint),
            owner=treasury.pubkey(),
            amount=amount,
            decimals=chain.decimals,
        )
    )
    move = Instruction(move.program_id, move.data, [*move.accounts, AccountMeta(job, False, False)])
    raw = chain._rt().sign([create_idempotent_associated_token_account(treasury.pubkey(), node, mint), move], treasury)
    signature = str(VersionedTransaction.from_bytes(raw).signatures[0])
    return chain.send_payout(PreparedPayout(signature, raw))


def rows(ledger: Ledger, jobs: list[Pubkey]) -> list[tuple[Any, ...]]:
    out = []
    for job in jobs:
        row = ledger.get(job_id_of(job), 1)
        out.append(None if row is None else (row.status, row.seconds_billed, row.rate_per_second, row.amount,
                                               row.payout_signature, row.timeout_seconds))  # fmt: skip
    return out


def test_finished_jobs_become_ledger_rows_once(
    chain: LocalChain, oracle: Oracle, reader: NosanaChainReader, tmp_path: Path
) -> None:
    node, other = key(), key()
    paid = put_job(chain, oracle, node, price=120, start=1_700_000_000, end=1_700_000_600, timeout=3600)
    capped = put_job(chain, oracle, node, price=7, start=1_700_001_000, end=1_700_009_000, timeout=1800)
    running = put_job(chain, oracle, node, price=50, start=1_700_002_000, end=0, timeout=600, state=JOB_RUNNING)
    elsewhere = put_job(chain, oracle, other, price=99, start=1_700_000_000, end=1_700_000_100, timeout=600)
    signature = finish_transfer(chain, paid, node, 120 * 600)
    finish_transfer(chain, capped, node, 7 * 1800 - 1)  # a transfer of another amount pays nothing here
    finish_transfer(chain, elsewhere, other, 99 * 100)

    settlement = Settlement(Ledger(Store(tmp_path / "db.sqlite3")))
    report = sync_chain_earnings(reader, node, settlement)
    assert report.credited == 2 and report.refused == []
    assert report.paid == [(job_id_of(paid), 1, 72_000, signature)]
    ledger = settlement.ledger
    assert rows(ledger, [paid, capped, running, elsewhere]) == [
        ("paid", 600, 120, 72_000, signature, 3600),
        ("credited", 1800, 7, 12_600, None, 1800),  # min(8000 s, timeout 1800 s); its pay not found yet
        None,  # still running: nothing earned yet
        None,  # another node's job
    ]
    assert ledger.total() == 72_000 + 12_600

    again = sync_chain_earnings(reader, node, settlement)
    assert (again.credited, again.paid, again.refused) == (0, [], [])
    assert ledger.total() == 72_000 + 12_600

    late = finish_transfer(chain, capped, node, 12_600)  # the paying transaction appears
    report = sync_chain_earnings(reader, node, settlement)
    assert report.paid == [(job_id_of(capped), 1, 12_600, late)]
    assert rows(ledger, [capped])[0] == ("paid", 1800, 7, 12_600, late, 1800)
    assert source_of(job_id_of(capped)) == SOURCE_LABEL == "Nosana (on chain)"
    assert source_of("job-17") is None


def test_chain_earnings_are_checked_before_they_land(tmp_path: Path) -> None:
    settlement = Settlement(Ledger(Store(tmp_path / "db.sqlite3")))

    def earning(**changes: Any) -> ChainEarning:
        base = {"job_id": "nosana:J", "started_at": 1.0, "ended_at": 61.0, "seconds_billed": 60,
                "rate_per_second": 5, "timeout_seconds": 60, "amount": 300, "signature": None}  # fmt: skip
        return ChainEarning(**{**base, **changes})

    report = settlement.record_chain_earnings(
        [
            earning(job_id="nosana:A", amount=301),
            earning(job_id="nosana:B", seconds_billed=61, amount=305),
            earning(job_id="nosana:C", rate_per_second=-1, amount=-60),
        ]
    )
    assert [line.split(": ", 1)[1] for line in report.refused] == [
        "amount 301 is not 60 s × the job's price 5",
        "61 s paid for a job of at most 60 s",
        "price must be an integer ≥ 0, got -1",
    ]
    assert settlement.ledger.total() == 0
    assert settlement.record_chain_earnings([earning()]).credited == 1
    changed = settlement.record_chain_earnings([earning(seconds_billed=30, amount=150)])
    assert changed.refused == ["grid credit for job 'nosana:J' attempt 1 refused: recorded 300, the chain now says 150"]
    assert settlement.ledger.total() == 300
