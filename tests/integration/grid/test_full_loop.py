"""The whole loop, all real: owner submits → node leases over signed HTTP → the runner runs the demo
inference image in Docker → result → credit → SPL payout on the local chain (LiteSVM) → the payout
address's token balance, read through solana-py over JSON-RPC, equals the credited amount."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from hostapp.chain import LocalChain
from hostapp.config.paths import AppPaths
from hostapp.config.settings import JobLimits
from hostapp.events import EventBus
from hostapp.grid.client import GridClient
from hostapp.grid.models import NodeRegistration
from hostapp.jobs.runner import JobRunner
from hostapp.localgrid.demo import DEMO_IMAGE
from hostapp.localgrid.server import GridConfig, LocalGrid
from hostapp.node.slots import result_payload
from hostapp.store import Store
from hostapp.wallet.keystore import KeypairKeystore

from .conftest import job, submit

pytestmark = [pytest.mark.docker, pytest.mark.slow]

INFERENCE = {
    "version": "0.1",
    "type": "container",
    "ops": [
        {
            "type": "container/run",
            "id": "infer",
            "args": {"image": DEMO_IMAGE, "env": {"DEMO_BATCH": "1500", "DEMO_WIDTH": "64"}},
            "results": {"checksum": r"checksum (-?[0-9.]+)"},
        }
    ],
}


async def _token_balance(rpc_url: str, owner: str, mint: str) -> int:
    async with AsyncClient(rpc_url) as client:
        ata = get_associated_token_address(Pubkey.from_string(owner), Pubkey.from_string(mint))
        response = await client.get_token_account_balance(ata)
        return int(response.value.amount)


def test_submit_lease_run_result_credit_payout(
    tmp_path: Path, app_paths: AppPaths, docker_client: object, local_images: None
) -> None:
    cold_wallet = str(Keypair().pubkey())  # earnings go to a separate payout address, not the hot node key
    store = Store(app_paths.database)
    bus = EventBus()
    with (
        LocalChain(tmp_path / "chain") as chain,
        LocalGrid(tmp_path / "grid", chain, config=GridConfig(demo_feed=False)) as grid,
    ):
        client = GridClient(grid.url, KeypairKeystore(Keypair()), bus=bus)
        runner = JobRunner(docker_client, JobLimits(), app_paths, bus, store, instance_id="grid-loop-test")
        try:
            client.register(NodeRegistration(app_version="test", payout_address=cold_wallet))
            price = 1_000
            job_id = submit(grid, INFERENCE, price=price, timeout=120)

            lease = client.lease(wait_seconds=5)
            assert lease is not None and lease.job_id == job_id
            result = runner.run(lease.grid_job(), lease.gpu_uuid)
            assert result.status == "succeeded", result.reason
            client.heartbeat(lease, progress=1.0)
            accepted = client.deliver_result(job_id, lease.attempt, result_payload(result))
            amount = accepted.amount
            assert amount == accepted.seconds_billed * price and amount > 0

            status = job(grid, job_id)
            assert status["state"] == "succeeded"
            match = status["result"]["results"]["checksum"]
            assert match[0].startswith("checksum ") and float(match[1]) != 0  # the inference really ran

            deadline = time.monotonic() + 30
            credits = client.credits()
            while credits.paid < amount and time.monotonic() < deadline:
                time.sleep(0.1)
                credits = client.credits()
            (entry,) = credits.entries
            assert credits.credited == credits.paid == amount and credits.unpaid == 0
            assert entry.payout_address == cold_wallet and entry.payout_signature
            assert asyncio.run(_token_balance(chain.rpc_url, cold_wallet, chain.mint)) == amount
        finally:
            client.close()
            store.close()
