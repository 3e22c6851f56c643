"""The embedded grid's money courtesies, through the real parts (LocalGrid over loopback HTTP, LiteSVM):
a new node gets SOL for withdrawal fees once, and /v1/health declares the demo exchange rate."""

from __future__ import annotations

from pathlib import Path

import httpx

from hostapp.chain import LocalChain
from hostapp.earnings.pricing import grid_rate
from hostapp.grid.client import GridClient
from hostapp.grid.models import NodeRegistration
from hostapp.localgrid.demo import DEMO_PRICE_PER_SECOND, FEE_FUNDING_LAMPORTS
from hostapp.localgrid.server import GridConfig, LocalGrid
from tests.support import FreshKeystore

COLD_WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


def test_a_new_node_gets_sol_for_fees_once_and_the_demo_grid_declares_its_rate(tmp_path: Path) -> None:
    keystore = FreshKeystore()
    with LocalChain(tmp_path / "chain") as chain, LocalGrid(tmp_path / "grid", chain) as grid:
        assert chain.sol_balance(keystore.pubkey) == 0
        client = GridClient(grid.url, keystore, timeout=5)
        client.register(NodeRegistration(payout_address=COLD_WALLET))
        # The node key signs withdrawals, so it gets the SOL (not the payout address).
        assert chain.sol_balance(keystore.pubkey) == FEE_FUNDING_LAMPORTS
        assert chain.sol_balance(COLD_WALLET) == 0
        client.register(NodeRegistration(payout_address=COLD_WALLET))  # every start registers again
        assert chain.sol_balance(keystore.pubkey) == FEE_FUNDING_LAMPORTS  # once per node
        client.close()

        health = httpx.get(f"{grid.url}/v1/health", timeout=5).json()
        rate = grid_rate(health)
        assert rate is not None and rate.currency == "USD" and rate.minor_units_per_token == 5
        assert abs(rate.as_of - health["time"]) <= 1
        assert health["offered_price_per_second"] == DEMO_PRICE_PER_SECOND


def test_a_grid_without_a_faucet_or_demo_declares_no_rate_and_funds_nothing(tmp_path: Path) -> None:
    keystore = FreshKeystore()
    with (
        LocalChain(tmp_path / "chain") as chain,
        LocalGrid(tmp_path / "grid", chain, config=GridConfig(demo_feed=False)) as grid,
    ):
        client = GridClient(grid.url, keystore, timeout=5)
        client.register(NodeRegistration())
        client.close()
        assert chain.sol_balance(keystore.pubkey) == 0
        health = httpx.get(f"{grid.url}/v1/health", timeout=5).json()
        assert grid_rate(health) is None and health["offered_price_per_second"] is None
