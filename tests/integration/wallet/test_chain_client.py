"""The wallet's chain client against the local chain: real HTTP, real solana-py, LiteSVM executing.

Transactions are built and signed by the wallet code (through a Keystore), sent over JSON-RPC and
executed by LiteSVM; balances are then read straight from the runtime, not through the client.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from solders.keypair import Keypair

from hostapp.chain import LocalChain
from hostapp.events import EventBus
from hostapp.wallet.chain_client import ChainClient, ChainOffline, InsufficientFunds
from hostapp.wallet.keystore import KeypairKeystore

SOL = 10**9
RENT_TOKEN_ACCOUNT = 2_039_280  # rent-exempt minimum of a 165-byte token account
FEE = 5000


def funded(chain: LocalChain, lamports: int = 2 * SOL, tokens: int = 0) -> KeypairKeystore:
    keystore = KeypairKeystore(Keypair())
    chain.airdrop(keystore.pubkey, lamports)
    if tokens:
        chain.pay(keystore.pubkey, tokens)
    return keystore


def test_balances_and_payout_history(local_chain: LocalChain) -> None:
    wallet = funded(local_chain, tokens=5_000_000)
    signature = local_chain.pay(wallet.pubkey, 250)
    with ChainClient(local_chain.rpc_url) as client:
        assert client.sol_balance(wallet.pubkey) == 2 * SOL
        token = client.token_balance(wallet.pubkey, local_chain.mint)
        assert (token.amount, token.decimals) == (5_000_250, 6)
        history = client.payout_history(wallet.pubkey, local_chain.mint)
        assert [p.amount for p in history] == [250, 5_000_000]
        assert history[0].signature == signature and history[0].block_time and history[0].decimals == 6
        empty = KeypairKeystore(Keypair())
        assert client.token_balance(empty.pubkey, local_chain.mint).amount == 0
        assert client.payout_history(empty.pubkey, local_chain.mint) == []


def test_sol_withdrawal_moves_exact_amounts(local_chain: LocalChain) -> None:
    wallet, destination = funded(local_chain), str(Keypair().pubkey())
    with ChainClient(local_chain.rpc_url) as client:
        plan = client.plan_sol_withdrawal(wallet, destination, SOL // 2)
        assert plan.fee == FEE and "network fee 0.000005 SOL" in plan.describe()
        signature = client.send(plan)
    assert local_chain.sol_balance(wallet.pubkey) == 2 * SOL - SOL // 2 - FEE
    assert local_chain.sol_balance(destination) == SOL // 2
    assert len(signature) > 80


def test_token_withdrawal_opens_recipient_account_and_moves_exact_amounts(local_chain: LocalChain) -> None:
    wallet, destination = funded(local_chain, tokens=3_000_000), str(Keypair().pubkey())
    with ChainClient(local_chain.rpc_url) as client:
        plan = client.plan_token_withdrawal(wallet, local_chain.mint, destination, 1_250_000)
        assert plan.rent == RENT_TOKEN_ACCOUNT and plan.fee == FEE
        client.send(plan)
        assert local_chain.token_balance(wallet.pubkey) == 1_750_000
        assert local_chain.token_balance(destination) == 1_250_000
        assert local_chain.sol_balance(wallet.pubkey) == 2 * SOL - FEE - RENT_TOKEN_ACCOUNT
        # The recipient account exists now: the second transfer pays no rent.
        second = client.plan_token_withdrawal(wallet, local_chain.mint, destination, 750_000)
        assert second.rent == 0
        client.send(second)
    assert local_chain.token_balance(wallet.pubkey) == 1_000_000
    assert local_chain.token_balance(destination) == 2_000_000


def test_insufficient_funds_and_rent_are_clear(local_chain: LocalChain) -> None:
    wallet = funded(local_chain, lamports=SOL, tokens=10)
    with ChainClient(local_chain.rpc_url) as client:
        with pytest.raises(InsufficientFunds, match="not enough SOL: 1 SOL available"):
            client.plan_sol_withdrawal(wallet, str(Keypair().pubkey()), 2 * SOL)
        with pytest.raises(InsufficientFunds, match=re.escape("new account: send at least 0.00089088 SOL")):
            client.plan_sol_withdrawal(wallet, str(Keypair().pubkey()), 1000)
        with pytest.raises(InsufficientFunds, match=re.escape("below the 0.00089088 SOL an account must keep")):
            client.plan_sol_withdrawal(wallet, str(Keypair().pubkey()), SOL - FEE - 100)
        with pytest.raises(InsufficientFunds, match=re.escape("not enough tokens: 0.00001 available")):
            client.plan_token_withdrawal(wallet, local_chain.mint, str(Keypair().pubkey()), 11)
        # Everything minus the fee empties the account, which is allowed.
        client.send(client.plan_sol_withdrawal(wallet, str(Keypair().pubkey()), SOL - FEE))
        assert local_chain.sol_balance(wallet.pubkey) == 0


def test_chain_rejection_is_translated(local_chain: LocalChain) -> None:
    """A plan that was valid when made but no longer is: the chain's preflight refuses it."""
    wallet = funded(local_chain, lamports=SOL)
    with ChainClient(local_chain.rpc_url) as client:
        plan = client.plan_sol_withdrawal(wallet, str(Keypair().pubkey()), SOL // 2)
        client.send(client.plan_sol_withdrawal(wallet, str(Keypair().pubkey()), SOL // 2 + 1000))
        with pytest.raises(InsufficientFunds, match="Transaction simulation failed"):
            client.send(plan)


def test_unreachable_rpc_is_offline_quickly_with_an_event() -> None:
    events: list[dict[str, object]] = []
    bus = EventBus()
    bus.subscribe("wallet.chain", lambda e: events.append(e.data))
    started = time.monotonic()
    with ChainClient("http://127.0.0.1:9", timeout=1, attempts=2, backoff=0.05, bus=bus) as client:
        with pytest.raises(ChainOffline, match="unreachable"):
            client.sol_balance(str(Keypair().pubkey()))
    assert time.monotonic() - started < 10
    assert events and events[-1]["state"] == "offline"


def test_state_survives_a_restart(tmp_path: Path) -> None:
    owner = str(Keypair().pubkey())
    with LocalChain(tmp_path) as chain:
        mint = chain.mint
        signature = chain.pay(owner, 777)
        chain.airdrop(owner, SOL)
        assert json.loads((tmp_path / "endpoint.json").read_text())["mint"] == mint
    assert not (tmp_path / "endpoint.json").exists()
    with LocalChain(tmp_path) as chain, ChainClient(chain.rpc_url) as client:
        assert chain.mint == mint
        assert client.token_balance(owner, mint).amount == 777
        assert client.sol_balance(owner) == SOL
        assert client.payout_history(owner, mint)[0].signature == signature


def test_rpc_answers_bad_requests_with_errors_not_crashes(local_chain: LocalChain) -> None:
    url = local_chain.rpc_url
    cases = [
        b"not json",
        b"[]",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "noSuchMethod"}).encode(),
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getBalance", "params": ["xyz"]}).encode(),
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getBalance", "params": {}}).encode(),
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sendTransaction", "params": ["@@"]}).encode(),
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sendTransaction", "params": ["AAAA"]}).encode(),
        json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "getTokenAccountBalance", "params": [local_chain.treasury]}
        ).encode(),
    ]
    for body in cases:
        response = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=5)
        assert response.status_code == 200, body
        assert "error" in response.json(), body
    ok = httpx.post(url, json=[{"jsonrpc": "2.0", "id": 7, "method": "getHealth"}], timeout=5).json()
    assert ok == [{"jsonrpc": "2.0", "result": "ok", "id": 7}]


def test_balances_are_read_without_loading_solana_py(local_chain: LocalChain) -> None:
    """What the tray asks on each refresh costs the node no solana-py client (~10 MB of its RSS budget):
    plain JSON-RPC over httpx. Checked in a fresh interpreter; solana-py loads for history and sends."""
    import subprocess
    import sys

    wallet = funded(local_chain, tokens=1_500_000)
    probe = f"""
import sys
from hostapp.wallet.chain_client import ChainClient
with ChainClient({local_chain.rpc_url!r}) as client:
    sol = client.sol_balance({wallet.pubkey!r})
    token = client.token_balance({wallet.pubkey!r}, {local_chain.mint!r})
    empty = client.token_balance("11111111111111111111111111111112", {local_chain.mint!r})
    before = sorted({{name.split(".")[0] for name in sys.modules}} & {{"solana", "spl"}})
    client.payout_history({wallet.pubkey!r}, {local_chain.mint!r})
    after = "solana" in sys.modules
print(sol, token.amount, token.decimals, empty.amount, empty.decimals, before, after)
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split(maxsplit=5)[:5] == [str(2 * SOL), "1500000", "6", "0", "6"]
    assert done.stdout.strip().endswith("[] True"), done.stdout
