"""What a Nosana node reads from the chain: its runs, their jobs, a market, its stake.

Built on the wallet's ChainClient (solana-py's AsyncClient on a worker thread, with deadlines,
retries and the online/offline state), so the same RPC settings and failure messages apply. A
node finds its runs with getProgramAccounts on the jobs program, filtered to Run accounts (their
size) whose `node` field (byte offset 40) is the node's key.
"""

from __future__ import annotations

import logging

from solana.rpc.models import MemcmpOpts
from solders.pubkey import Pubkey

from hostapp.nosana.accounts import (
    JOB_NODE_OFFSET,
    RUN_NODE_OFFSET,
    AccountDecodeError,
    JobAccount,
    MarketAccount,
    RunAccount,
    StakeAccount,
)
from hostapp.nosana.ids import MAINNET, NosanaCluster
from hostapp.nosana.pdas import stake_address
from hostapp.wallet.chain_client import ChainClient, ChainError, _get_transaction, _received

log = logging.getLogger(__name__)


class NosanaChainReader(ChainClient):
    def __init__(
        self, rpc_url: str, *, cluster: NosanaCluster = MAINNET, timeout: float = 10.0, attempts: int = 3
    ) -> None:
        super().__init__(rpc_url, timeout=timeout, attempts=attempts)
        self.cluster = cluster

    def runs_of(self, node: Pubkey) -> dict[Pubkey, RunAccount]:
        """The node's open runs (jobs it holds now), by run account address."""
        program = self.cluster.jobs_program
        filters: list[int | MemcmpOpts] = [RunAccount.SIZE, MemcmpOpts(offset=RUN_NODE_OFFSET, bytes=str(node))]
        found = self._call(
            "reading the node's Nosana runs",
            lambda c: c.get_program_accounts(program, encoding="base64", filters=filters),
        ).value
        runs = {}
        for keyed in found:
            try:
                runs[keyed.pubkey] = RunAccount.decode(bytes(keyed.account.data))
            except AccountDecodeError as exc:  # a foreign account of the same size: skip it, say so
                log.warning("skipping %s: %s", keyed.pubkey, exc)
        return runs

    def jobs_of(self, node: Pubkey) -> dict[Pubkey, JobAccount]:
        """Every job the node holds or held (any state), by job account address: Job accounts
        (their size) whose `node` field (byte offset 104) is the node's key."""
        program = self.cluster.jobs_program
        filters: list[int | MemcmpOpts] = [JobAccount.SIZE, MemcmpOpts(offset=JOB_NODE_OFFSET, bytes=str(node))]
        found = self._call(
            "reading the node's Nosana jobs",
            lambda c: c.get_program_accounts(program, encoding="base64", filters=filters),
        ).value
        jobs = {}
        for keyed in found:
            try:
                jobs[keyed.pubkey] = JobAccount.decode(bytes(keyed.account.data))
            except AccountDecodeError as exc:
                log.warning("skipping %s: %s", keyed.pubkey, exc)
        return jobs

    def pay_signature(self, job: Pubkey, node: Pubkey, amount: int, limit: int = 20) -> str | None:
        """The successful transaction that names `job` and gave `node` exactly `amount` NOS base
        units (what `finish` does), or None when the chain shows none (yet)."""
        entries = self._call(
            "reading a Nosana job's transactions", lambda c: c.get_signatures_for_address(job, limit=limit)
        ).value
        owner, mint = str(node), str(self.cluster.nos_mint)
        for entry in entries:
            if entry.err is not None:
                continue
            tx = self._call("reading a Nosana job's transaction", _get_transaction(entry.signature)).value
            if tx is None or tx.transaction.meta is None or tx.transaction.meta.err is not None:
                continue
            if _received(tx.transaction.meta, owner, mint)[0] == amount:
                return str(entry.signature)
        return None

    def job(self, address: Pubkey) -> JobAccount | None:
        raw = self._data("reading a Nosana job", address, self.cluster.jobs_program)
        return None if raw is None else JobAccount.decode(raw)

    def market(self, address: Pubkey) -> MarketAccount | None:
        raw = self._data("reading a Nosana market", address, self.cluster.jobs_program)
        return None if raw is None else MarketAccount.decode(raw)

    def stake_of(self, authority: Pubkey) -> StakeAccount | None:
        """The node's stake (None: it has not staked, which markets with a minimum refuse)."""
        address = stake_address(authority, nos_mint=self.cluster.nos_mint, staking_program=self.cluster.staking_program)
        raw = self._data("reading the Nosana stake", address, self.cluster.staking_program)
        return None if raw is None else StakeAccount.decode(raw)

    def _data(self, what: str, address: Pubkey, owner: Pubkey) -> bytes | None:
        info = self._call(what, lambda c: c.get_account_info(address, encoding="base64")).value
        if info is None:
            return None
        if info.owner != owner:
            raise ChainError(
                f"{what}: {address} is not owned by {owner} on {self.rpc_url}; check the address and cluster"
            )
        return bytes(info.data)
