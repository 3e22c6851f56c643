"""Money through the embedded default (Services.start_node(): local grid + LiteSVM chain + real keyring).

After many jobs, and after the chain's RPC was down and came back: the ledger's sum equals the grid's
credits for this node equals the token balance solana-py reads on chain, to the base unit, with one
ledger row per job; and the wallet secret is nowhere on disk.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.app import Services, build_services
from hostapp.node.ledger import Ledger
from hostapp.wallet.service import WalletError
from tests.reliability.secret_scan import assert_no_secret_on_disk, secret_forms
from tests.support import busybox_job, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.keyring, pytest.mark.slow]

JOBS = 20
PRICE = 1_234  # base units per second: an odd figure, so a rounding or float anywhere shows


@pytest.fixture
def services(hostapp_home: Path, busybox_image: str) -> Iterator[tuple[Services, str]]:
    built = build_services(setup_logs=True)  # real log files, so the secret scan covers them
    created = built.wallet.create()
    built.wallet.skip_backup_confirmation()
    try:
        yield built, created.mnemonic
    finally:
        built.close()
    assert_no_secret_on_disk(hostapp_home, secret_forms(created.mnemonic))


def submit(services: Services, definition: dict[str, Any]) -> str:
    body = {"definition": definition, "price_per_second": PRICE, "timeout_seconds": 60}
    response = httpx.post(
        services.grid_url() + "/v1/jobs", json=body, headers=services.local_grid.owner_headers, timeout=10
    )
    response.raise_for_status()
    return str(response.json()["job_id"])


def grid_state(services: Services, job_id: str) -> str:
    url = f"{services.grid_url()}/v1/jobs/{job_id}"
    return str(httpx.get(url, headers=services.local_grid.owner_headers, timeout=10).json()["state"])


def settle(services: Services) -> dict[str, Any]:
    """Stop taking work, let the grid pay everything owed, bring the ledger in line: the figures at rest."""
    node = services.node
    node.stop()
    assert services.node.outbox.size() == 0
    wait_for(lambda: services.grid_client.credits().unpaid == 0, timeout=60, what="every credit paid")
    node.sync_credits()
    return services.grid_client.credits()


def assert_reconciled(services: Services, job_ids: list[str]) -> int:
    credits = settle(services)
    ledger = Ledger(services.store)
    rows = services.store.query("SELECT job_id, attempt, status, amount, payout_signature FROM ledger")
    # Nothing left running; a row stays 'credited' only when there was nothing to pay (under a second billed).
    unsettled = [dict(r) for r in rows if r["status"] == "running" or (r["status"] == "credited" and r["amount"])]
    assert not unsettled, unsettled
    for job_id in job_ids:  # exactly one paid attempt per job: none lost, none twice
        assert len([r for r in rows if r["job_id"] == job_id and r["status"] == "paid"]) == 1, job_id
    ledger_sum = ledger.total()
    assert ledger_sum == ledger.total(("paid",)) == credits.credited == credits.paid
    assert {(e.job_id, e.attempt, e.amount) for e in credits.entries if e.amount} == {
        (r["job_id"], r["attempt"], r["amount"]) for r in rows if r["status"] == "paid"
    }
    with services.wallet.chain_client() as client:
        balance = services.wallet.balances(client)
    assert balance.token is not None
    assert balance.token.amount == ledger_sum  # what solana-py reads on chain, to the base unit
    status = services.node.status()  # `hostapp status --json`: earned = paid = the wallet's balance
    assert (status.earned, status.paid, status.pending) == (ledger_sum, balance.token.amount, 0)
    assert status.token_decimals == balance.token.decimals
    return ledger_sum


def test_many_jobs_reconcile_to_the_base_unit(services: tuple[Services, str]) -> None:
    app, _ = services
    node = app.start_node()
    assert app.uses_local_grid
    job_ids = [submit(app, busybox_job(1, f"job {n}")) for n in range(JOBS)]
    wait_for(
        lambda: all(grid_state(app, j) == "succeeded" for j in job_ids), timeout=240, what=f"{JOBS} jobs succeeded"
    )
    assert node.status().state in {"working", "waiting"}
    total = assert_reconciled(app, job_ids)
    assert total >= JOBS * PRICE  # each ran at least a second


def test_rpc_down_then_back_payouts_reconcile(services: tuple[Services, str]) -> None:
    app, _ = services
    node = app.start_node()
    first = submit(app, busybox_job(1, "job 0"))
    wait_for(lambda: grid_state(app, first) == "succeeded", timeout=120, what="a job before the outage")

    rpc_url = app.wallet.rpc_url()
    app.local_grid.stop_chain()  # the RPC endpoint and the chain behind the grid's payouts both gone
    started = time.monotonic()
    with pytest.raises(WalletError, match="unreachable"):
        with app.wallet.chain_client(rpc_url=rpc_url, timeout=2) as client:
            app.wallet.balances(client)
    assert time.monotonic() - started < 30  # an offline error, not a hang (generous: a shared CI box)

    during = [submit(app, busybox_job(1, f"job {n}")) for n in (1, 2)]
    wait_for(lambda: all(grid_state(app, j) == "succeeded" for j in during), timeout=120, what="jobs while down")
    assert app.grid_client.credits().unpaid > 0  # credited, not paid: the node kept working
    assert node.status().state in {"working", "waiting"}

    app.local_grid.start_chain()  # back: the grid's payout worker retries, the node's sync marks rows paid
    assert_reconciled(app, [first, *during])
