"""A hostile grid writes the user's ledger (issue #15 item 4).

A small fake grid on loopback answers the node's credits call with forged entries: a job this node
never ran, paid 123456789000 with an HTML "signature"; more seconds than the lease's timeout; a
price that is not the lease's; an HTML signature; a well-formed signature of no transaction; a real
transfer of another amount; a real transfer that pays another attempt. None of it may land as
credited or paid. The one honest entry — a real payout of the right amount, memo naming the
attempt — is the control: it must land as paid. Real parts: the node's GridClient over HTTP,
the node's SQLite ledger, LocalChain (LiteSVM) behind its JSON-RPC for the payout checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hostapp.chain import LocalChain
from hostapp.chain.payouts import PayoutVerifier, payout_memo
from hostapp.events import Event, EventBus
from hostapp.grid.client import GridClient
from hostapp.localgrid.loopback import LoopbackServer
from hostapp.node.slots import Node
from hostapp.schedule import policy as pol
from hostapp.store import Store
from tests.support import FreshKeystore

PRICE, TIMEOUT = 1_000, 60
HTML = '<a href="https://evil.example/claim">Claim your bonus</a>'


class FakeGrid:
    """Answers GET /v1/node/credits with whatever the test sets; nothing else."""

    def __init__(self) -> None:
        self.credits: dict[str, Any] = {"node": "x", "credited": 0, "paid": 0, "unpaid": 0, "entries": []}

        async def credits(_request: Request) -> JSONResponse:
            return JSONResponse(self.credits)

        self.server = LoopbackServer(Starlette(routes=[Route("/v1/node/credits", credits)]), "fake-grid")


@pytest.fixture
def fake_grid() -> Iterator[FakeGrid]:
    grid = FakeGrid()
    grid.server.start()
    try:
        yield grid
    finally:
        grid.server.stop()


def entry(job_id: str, seconds: int, *, amount: int | None = None, price: int = PRICE, signature: str | None = None):  # type: ignore[no-untyped-def]
    return {
        "job_id": job_id,
        "attempt": 1,
        "seconds_billed": seconds,
        "price_per_second": price,
        "amount": seconds * price if amount is None else amount,
        "status": "paid" if signature else "credited",
        "payout_address": "attacker",
        "payout_signature": signature,
        "credited_at": 1_700_000_000,
    }


def test_forged_credits_never_land_in_the_ledger(
    tmp_path: Path, fake_grid: FakeGrid, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hostapp.node.settlement")
    wallet = str(Keypair().pubkey())
    store = Store(tmp_path / "hostapp.sqlite3")
    bus = EventBus()
    changes: list[Event] = []
    bus.subscribe("ledger.changed", changes.append)
    client = GridClient(fake_grid.server.url, FreshKeystore(), timeout=5, retries=1, backoff_base=0.05)
    with LocalChain(tmp_path / "chain") as chain:
        verifier = PayoutVerifier(lambda: chain.rpc_url, lambda: chain.mint, lambda: {wallet})
        node = Node(
            bus=bus,
            store=store,
            grid=client,
            runner=None,  # type: ignore[arg-type]  # never started: only the credits sync runs
            policy_path=tmp_path / "schedule.json",
            inputs=lambda at: pol.Inputs(),
            gpus=[],
            payouts=verifier,
        )
        ran = ["good", "over", "cheap", "html", "ghost-sig", "wrong-amount", "other-memo"]
        for job_id in ran:  # what _work writes when the lease arrives
            node.ledger.start(job_id, 1, None, PRICE, None, TIMEOUT)
        good = chain.pay(wallet, 30 * PRICE, payout_memo("good", 1))
        wrong_amount = chain.pay(wallet, 5, payout_memo("wrong-amount", 1))
        for_good_only = chain.pay(wallet, 30 * PRICE, payout_memo("good-elsewhere", 1))
        ghost = str(Keypair().sign_message(b"no such transaction"))  # base58, 64 bytes, on no chain
        fake_grid.credits["entries"] = [
            entry("never-ran", 0, amount=123_456_789_000, signature=HTML),
            entry("over", TIMEOUT + 1),  # more seconds than the lease allowed
            entry("cheap", 10, price=PRICE * 1000),  # a price that is not the lease's
            entry("html", 30, signature=HTML),
            entry("ghost-sig", 30, signature=ghost),
            entry("wrong-amount", 30, signature=wrong_amount),
            entry("other-memo", 30, signature=for_good_only),
            entry("good", 30, signature=good),
        ]
        node.sync_credits()
        node.sync_credits()  # the grid repeats itself every sync: nothing changes, nothing is logged twice

        rows = {r["job_id"]: dict(r) for r in store.query("SELECT * FROM ledger")}
        assert "never-ran" not in rows
        assert rows["over"]["status"] == rows["cheap"]["status"] == "running"
        for job_id in ("html", "ghost-sig", "wrong-amount", "other-memo"):  # credited, never paid
            assert (rows[job_id]["status"], rows[job_id]["amount"], rows[job_id]["payout_signature"]) == (
                "credited",
                30 * PRICE,
                None,
            ), job_id
        assert (rows["good"]["status"], rows["good"]["payout_signature"]) == ("paid", good)
        assert node.ledger.total(("paid",)) == chain.token_balance(wallet) - 5 - 30 * PRICE == 30 * PRICE
        refusals = [r.getMessage() for r in caplog.records]
        assert len(refusals) == len(set(refusals)) == 7, refusals  # one line per forged claim, once
        assert {(e.data["job_id"], e.data["status"]) for e in changes} >= {("good", "paid"), ("html", "credited")}
    client.close()
    store.close()
