"""Nosana chain reads through the real RPC path: solana-py over loopback HTTP to the local chain's
JSON-RPC, LiteSVM holding the accounts.

The nosana_jobs and staking program binaries are not available offline, so the accounts they
would create are placed at their addresses (owned by the program ids) with bytes encoded by the
official JS coders; what is exercised is getProgramAccounts with the node filter, getAccountInfo
and the Python decoding of what comes back.
"""

from __future__ import annotations

import base64
import random
from typing import Any

import httpx
import pytest
from solders.pubkey import Pubkey

from hostapp.chain import LocalChain
from hostapp.nosana.accounts import RunAccount
from hostapp.nosana.ids import MAINNET
from hostapp.nosana.pdas import stake_address
from hostapp.nosana.reads import NosanaChainReader
from hostapp.wallet.chain_client import ChainError
from tests.nosana.conftest import Oracle

pytestmark = pytest.mark.nosana
RNG = random.Random(40)
JOBS, STAKING = str(MAINNET.jobs_program), str(MAINNET.staking_program)


def key() -> Pubkey:
    return Pubkey.from_bytes(RNG.randbytes(32))


def js_bytes(oracle: Oracle, account: str, fields: dict[str, Any]) -> bytes:
    [answer] = oracle([{"op": "encode", "account": account, "fields": fields}])
    return bytes.fromhex(answer["hex"])


def test_a_node_reads_its_runs_jobs_market_and_stake(chain: LocalChain, oracle: Oracle) -> None:
    node, other, payer = key(), key(), key()
    jobs = [key() for _ in range(3)]
    runs = {key(): (jobs[0], node, 1_700_000_000), key(): (jobs[1], node, 1_700_000_100), key(): (jobs[2], other, 5)}
    for address, (job, holder, time) in runs.items():
        fields = {"job": str(job), "node": str(holder), "payer": str(payer), "state": 0, "time": str(time)}
        chain.load_account(str(address), js_bytes(oracle, "RunAccount", fields), JOBS)
    # Same size and node bytes at offset 40, but not a Run: the reader must skip it, not crash.
    impostor = bytes(8) + bytes(32) + bytes(node) + bytes(RunAccount.SIZE - 72)
    chain.load_account(str(key()), impostor, JOBS)
    # A Run-shaped account under another program is not the node's run.
    elsewhere = RunAccount(jobs[0], node, payer, 0, 1).encode()
    chain.load_account(str(key()), elsewhere, STAKING)

    job_address, ipfs = jobs[0], RNG.randbytes(32)
    job_fields = {
        "ipfsJob": ipfs.hex(), "ipfsResult": bytes(32).hex(), "market": str(key()), "node": str(node),
        "payer": str(payer), "price": "120", "project": str(key()), "state": 1, "timeEnd": "1700003600",
        "timeStart": "1700000000", "timeout": "1800",
    }  # fmt: skip
    chain.load_account(str(job_address), js_bytes(oracle, "JobAccount", job_fields), JOBS)
    market_address, queued = key(), [node, other]
    market_fields = {
        "authority": str(key()), "jobExpiration": "86400", "jobPrice": "120", "jobTimeout": "1800", "jobType": 4,
        "vault": str(key()), "vaultBump": 253, "nodeAccessKey": str(key()), "nodeXnosMinimum": "1000000000",
        "queueType": 1, "queue": [str(k) for k in queued],
    }  # fmt: skip
    chain.load_account(str(market_address), js_bytes(oracle, "MarketAccount", market_fields) + bytes(3200), JOBS)
    stake_fields = {
        "amount": "5000000000", "authority": str(node), "duration": "1209600", "timeUnstake": "0",
        "vault": str(key()), "vaultBump": 255, "xnos": "7500000000",
    }  # fmt: skip
    chain.load_account(str(stake_address(node)), js_bytes(oracle, "StakeAccount", stake_fields), STAKING)

    with NosanaChainReader(chain.rpc_url) as reader:
        found = reader.runs_of(node)
        assert {a: (r.job, r.node, r.time) for a, r in found.items()} == {a: v for a, v in runs.items() if v[1] == node}
        assert reader.runs_of(key()) == {}
        job = reader.job(job_address)
        assert job is not None and job.ipfs_job == ipfs and job.node == node
        assert job.payment() == 120 * 1800  # ran 3600 s, paid up to the market's timeout
        market = reader.market(market_address)
        assert market is not None and market.queue == tuple(queued) and market.node_xnos_minimum == 10**9
        stake = reader.stake_of(node)
        assert stake is not None and (stake.amount, stake.xnos) == (5 * 10**9, 7_500_000_000)
        assert reader.stake_of(other) is None and reader.job(key()) is None
        with pytest.raises(ChainError, match=r"is not owned by nosJhNRqr2bc9g1nfGDcXXTXvYUmxD4cVwy2pMWhrYM"):
            reader.job(stake_address(node))  # a staking account asked for as a job


def rpc(chain: LocalChain, params: list[Any]) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": "getProgramAccounts", "params": params}
    return httpx.post(chain.rpc_url, json=body, timeout=10).json()


def test_get_program_accounts_filters(chain: LocalChain) -> None:
    owner, target = str(key()), key()
    chain.load_account(str(key()), bytes(8) + bytes(target) + bytes(10), owner)
    chain.load_account(str(key()), bytes(8) + bytes(key()) + bytes(10), owner)
    chain.load_account(str(key()), bytes(8) + bytes(target), owner)
    memcmp_b64 = {"memcmp": {"offset": 8, "bytes": base64.b64encode(bytes(target)).decode(), "encoding": "base64"}}
    assert len(rpc(chain, [owner])["result"]) == 3
    assert len(rpc(chain, [owner, {"filters": [{"memcmp": {"offset": 8, "bytes": str(target)}}]}])["result"]) == 2
    assert len(rpc(chain, [owner, {"filters": [memcmp_b64, {"dataSize": 50}]}])["result"]) == 1
    with_context = rpc(chain, [owner, {"withContext": True, "filters": [{"dataSize": 40}]}])["result"]
    assert with_context["context"]["slot"] >= 0 and len(with_context["value"]) == 1
    for bad, message in [
        ({"memcmp": {"offset": -1, "bytes": "1"}}, "a filter is {dataSize: n} or {memcmp: {offset, bytes}}"),
        ({"memcmp": {"offset": 0, "bytes": "0OIl"}}, "memcmp.bytes: '0' is not a base58 character"),
        ({"memcmp": {"offset": 0, "bytes": "AA", "encoding": "hex"}}, "unsupported memcmp encoding hex"),
        ("dataSize", "a filter is"),
    ]:
        error = rpc(chain, [owner, {"filters": [bad]}])["error"]
        assert error["code"] == -32602 and message in error["message"]
