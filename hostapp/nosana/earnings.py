"""What a Nosana node earned, read from the chain, as ledger rows.

A job pays on `finish`: the program moves price × min(time_end − time_start, timeout) NOS base
units to the node's token account and marks the job COMPLETED, with the node's key in it. So the
node's finished jobs are Job accounts (getProgramAccounts, node at offset 104) in that state, and
the paying transaction is the one naming the job that gave the node exactly that amount. Each
becomes one ledger row (job id `nosana:<job account>`, attempt 1) through
`Settlement.record_chain_earnings`: credited from the account state, paid once the transaction is
found. Amounts stay integers in NOS base units (6 decimals).
"""

from __future__ import annotations

from collections.abc import Callable

from solders.pubkey import Pubkey

from hostapp.earnings.rows import NOSANA_JOB_PREFIX as JOB_ID_PREFIX
from hostapp.earnings.rows import source_of as source_of
from hostapp.node.settlement import ChainEarning, Settlement, SettlementReport
from hostapp.nosana.accounts import JOB_COMPLETED, JobAccount
from hostapp.nosana.reads import NosanaChainReader

# What the Earnings page says a row came from; rows are told apart by their job id.
# Transaction lookups per sync: the rest wait for the next one (a node with a long history must not
# turn each sync into hundreds of RPC calls).
MAX_SIGNATURE_LOOKUPS = 20


def job_id_of(job: Pubkey) -> str:
    return f"{JOB_ID_PREFIX}{job}"


def billed_seconds(job: JobAccount) -> int:
    return max(0, min(job.time_end - job.time_start, job.timeout))


def chain_earnings(
    reader: NosanaChainReader,
    node: Pubkey,
    paid: Callable[[str], bool] = lambda _job_id: False,
    lookups: int = MAX_SIGNATURE_LOOKUPS,
) -> list[ChainEarning]:
    """The node's finished jobs, oldest first. `paid(job_id)`: already paid in the ledger, so its
    transaction is not looked up again."""
    found = []
    for address, job in sorted(reader.jobs_of(node).items(), key=lambda kv: (kv[1].time_end, str(kv[0]))):
        if job.state != JOB_COMPLETED or job.node != node:
            continue
        job_id, amount = job_id_of(address), job.payment()
        signature = None
        if amount > 0 and lookups > 0 and not paid(job_id):
            lookups -= 1
            signature = reader.pay_signature(address, node, amount)
        found.append(
            ChainEarning(
                job_id=job_id,
                started_at=float(job.time_start),
                ended_at=float(job.time_end),
                seconds_billed=billed_seconds(job),
                rate_per_second=job.price,
                timeout_seconds=max(0, job.timeout),
                amount=amount,
                signature=signature,
            )
        )
    return found


def sync_chain_earnings(reader: NosanaChainReader, node: Pubkey, settlement: Settlement) -> SettlementReport:
    """Reads the node's finished jobs and records them (idempotent: run it on every credits sync)."""
    ledger = settlement.ledger

    def paid(job_id: str) -> bool:
        row = ledger.get(job_id, 1)
        return row is not None and row.status == "paid"

    return settlement.record_chain_earnings(chain_earnings(reader, node, paid))
