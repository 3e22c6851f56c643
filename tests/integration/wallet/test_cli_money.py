"""Issue #17 "Money" in the CLI: `hostapp status` (a real control socket, the real demo grid over HTTP)
and `hostapp wallet balance | history | withdraw` (real keyring, LiteSVM) name the unit, show the value
in money with the rate's age, label their columns and say how to get missing SOL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair

from hostapp.chain import LocalChain, default_state_dir
from hostapp.config.paths import default_paths
from hostapp.control.status import NodeSnapshot, NodeState
from hostapp.control.transport import ControlServer, Emit
from hostapp.localgrid.server import GridConfig, LocalGrid

ROOT = Path(__file__).resolve().parents[3]


def hostapp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hostapp", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


class NodeStandIn:
    """Answers `status` on the real control socket with what a node that earned 3 GRID sends."""

    def __init__(self, grid_url: str) -> None:
        self.grid_url = grid_url

    def handle_control(self, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
        snapshot = NodeSnapshot(
            state=NodeState.WAITING,
            headline="Waiting for work",
            earned=3_000_000,
            pending=1_000_000,
            paid=2_000_000,
            token_decimals=6,
            grid_url=self.grid_url,
        )
        return snapshot.model_dump(mode="json")


def test_status_names_the_unit_and_the_value_in_money_with_the_rate_age(hostapp_home: Path, tmp_path: Path) -> None:
    paths = default_paths().ensure()
    with LocalGrid(tmp_path / "grid", config=GridConfig(demo_feed=True)) as grid:
        server = ControlServer(paths.control_socket, NodeStandIn(grid.url))
        server.start()
        try:
            text = ok(hostapp("status"))
            data = json.loads(ok(hostapp("status", "--json")))
        finally:
            server.stop()
    assert "  earned 3 GRID ≈ $0.15 (paid 2 GRID ≈ $0.10, pending 1 GRID ≈ $0.05)" in text.splitlines()
    assert "  rate: 1 GRID ≈ $0.05 (grid rate from just now)" in text.splitlines()
    assert data["earned"] == 3_000_000 and data["amount_unit"] == "token base units"
    money = data["money"]
    assert (money["symbol"], money["decimals"], money["earned"], money["pending"]) == ("GRID", 6, "3", "1")
    assert money["currency"] == "USD" and money["value_minor_units"] == {"earned": 15, "pending": 5, "paid": 10}
    assert money["rate"]["minor_units_per_token"] == 5 and abs(money["rate"]["as_of"] - time.time()) < 60


def test_status_without_a_grid_rate_stays_in_tokens_and_says_so(hostapp_home: Path) -> None:
    paths = default_paths().ensure()
    server = ControlServer(paths.control_socket, NodeStandIn("http://127.0.0.1:9"))  # nothing answers there
    server.start()
    try:
        text = ok(hostapp("status"))
        data = json.loads(ok(hostapp("status", "--json")))
    finally:
        server.stop()
    assert "  earned 3 GRID (paid 2 GRID, pending 1 GRID)" in text.splitlines()
    assert "  rate: No exchange rate: amounts are in tokens only (set one in Settings → pricing)" in text.splitlines()
    assert data["money"]["rate"] is None and data["money"]["value_minor_units"] is None


@pytest.mark.keyring
@pytest.mark.slow
def test_wallet_balance_history_and_withdraw_speak_grid_and_money(hostapp_home: Path) -> None:
    paths = default_paths().ensure()
    settings = {"pricing": {"source": "fixed", "currency": "EUR", "minor_units_per_token": 5}}
    paths.settings_file.write_text(json.dumps(settings), encoding="utf-8")
    created = json.loads(ok(hostapp("wallet", "create", "--json", "--yes-i-wrote-it-down")))
    address = created["address"]
    destination = str(Keypair().pubkey())
    with LocalChain(default_state_dir(paths)) as chain:
        payout = chain.pay(address, 4_500_000)  # a payout in the grid token, and no SOL

        balance = ok(hostapp("wallet", "balance")).splitlines()
        assert "GRID:    4.5 ≈ €0.22" in balance and "Token" not in "\n".join(balance)
        assert "Rate:    1 GRID ≈ €0.05 (your setting)" in balance
        data = json.loads(ok(hostapp("wallet", "balance", "--json")))
        assert data["token"]["symbol"] == "GRID" and data["token"]["value_minor_units"] == 22
        assert data["token"]["currency"] == "EUR"

        history = ok(hostapp("wallet", "history")).splitlines()
        assert history[0].split() == ["Time", "(local)", "Amount", "(GRID)", "Value", "(EUR)", "Signature"]
        assert history[1].split()[2:] == ["4.5", "€0.22", payout]

        result = hostapp("wallet", "withdraw", "--token", "1", "--to", destination, "--yes")
        assert result.returncode == 1
        line = result.stderr.strip()
        assert "\n" not in line and "not enough SOL for the network fee: 0 SOL available, 0.00204428 SOL needed" in line
        assert f"send at least 0.00204428 SOL to this wallet ({address}) from an exchange or another wallet" in line

        chain.airdrop(address, 10_000_000)
        sent = ok(hostapp("wallet", "withdraw", "--token", "1", "--to", destination, "--yes")).splitlines()
        assert "Network fee: 0.000005 SOL; opening the recipient's account: 0.00203928 SOL" in sent
        assert chain.token_balance(destination) == 1_000_000
