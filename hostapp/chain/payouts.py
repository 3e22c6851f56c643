"""Payout transactions: how the grid makes each one distinct, and how a node checks one on chain.

Every payout carries an SPL memo naming the job attempt it pays (`payout_memo`). Two payouts of the
same amount to the same owner are then different transactions with different signatures, even on
the same blockhash, and a node can tell which credit a transfer settles. The node never takes the
grid's word that a credit was paid: `PayoutVerifier` reads the transaction from the chain and
checks signature, success, mint, recipient, amount and memo (docs/security.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from hostapp.wallet.base58 import b58decode
from hostapp.wallet.signatures import SIGNATURE_BYTES as SIGNATURE_BYTES
from hostapp.wallet.signatures import signature_problem as signature_problem

MEMO_PROGRAM = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"  # SPL Memo v3 (v1 below is accepted too)
MEMO_PROGRAMS = frozenset({MEMO_PROGRAM, "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo"})


@dataclass(frozen=True)
class PreparedPayout:
    """A signed payout transaction not yet sent: its signature is known before it can land."""

    signature: str
    raw: bytes


def payout_memo(job_id: str, attempt: int) -> str:
    """The memo of the payout for one job attempt (at most ~80 bytes: job ids are ≤ 64 characters)."""
    return f"hostapp payout {job_id} attempt {attempt}"


def transfer_problem(
    tx: dict[str, Any] | None,
    *,
    signature: str,
    owners: Iterable[str],
    mint: str,
    amount: int,
    memo: str,
) -> str | None:
    """None when `tx` (getTransaction, encoding "json") is a successful transfer of exactly `amount`
    base units of `mint` to a token account of one of `owners`, signed `signature`, with `memo`."""
    if not isinstance(tx, dict):
        return f"transaction {signature} is not on chain"
    meta = tx.get("meta")
    body = tx.get("transaction")
    if not isinstance(meta, dict) or not isinstance(body, dict):
        return f"transaction {signature} has no status on chain"
    if meta.get("err") is not None:
        return f"transaction {signature} failed on chain ({meta['err']})"
    signatures = body.get("signatures") or []
    if not signatures or signatures[0] != signature:
        return f"the chain returned a different transaction for {signature}"
    wanted = set(owners)
    received = _received(meta.get("preTokenBalances"), meta.get("postTokenBalances"), wanted, mint)
    if received != amount:
        return f"transaction {signature} moved {received} base units to this wallet, not {amount}"
    if memo not in _memos(body.get("message")):
        return f"transaction {signature} does not name this job attempt (memo {memo!r} missing)"
    return None


def _received(pre: Any, post: Any, owners: set[str], mint: str) -> int:
    def amounts(balances: Any) -> dict[int, int]:
        found: dict[int, int] = {}
        for entry in balances if isinstance(balances, list) else []:
            if not isinstance(entry, dict) or entry.get("mint") != mint or entry.get("owner") not in owners:
                continue
            try:
                found[int(entry["accountIndex"])] = int(entry["uiTokenAmount"]["amount"])
            except (KeyError, TypeError, ValueError):
                continue
        return found

    before, after = amounts(pre), amounts(post)
    return sum(after.get(i, 0) - before.get(i, 0) for i in set(before) | set(after))


def _memos(message: Any) -> list[str]:
    if not isinstance(message, dict):
        return []
    keys = message.get("accountKeys") or []
    memos = []
    for ix in message.get("instructions") or []:
        try:
            program = keys[int(ix["programIdIndex"])]
            if program in MEMO_PROGRAMS:
                memos.append(b58decode(str(ix["data"])).decode("utf-8"))
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    return memos


class PayoutVerifier:
    """Confirms a grid's payout claim against a Solana JSON-RPC endpoint (the wallet's cluster).

    `rpc_url` and `mint` are asked on each check (the embedded chain's URL is known only once it
    runs); `owners` gives the addresses payouts may go to now (the payout address, the wallet's own).
    """

    def __init__(
        self,
        rpc_url: Callable[[], str],
        mint: Callable[[], str | None],
        owners: Callable[[], Iterable[str]],
        *,
        timeout: float = 10.0,
    ) -> None:
        self._rpc_url = rpc_url
        self._mint = mint
        self._owners = owners
        self._timeout = timeout
        self._ids = itertools.count(1)
        # One connection pool for every check: a client per request builds a TLS context each time,
        # which was most of a paused node's CPU (a sync checks up to MAX_CHAIN_CHECKS_PER_SYNC payouts).
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def problem(self, signature: str, amount: int, job_id: str, attempt: int) -> str | None:
        """None when the chain confirms the payout; else why the row must not be called paid.
        Raises OSError-like httpx errors when the chain cannot be asked (try again later)."""
        bad = signature_problem(signature)
        if bad is not None:
            return bad
        body = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": "getTransaction",
            "params": [signature, {"encoding": "json", "maxSupportedTransactionVersion": 0}],
        }
        mint = self._mint()
        if mint is None:
            return "no grid token mint is configured (grid.token_mint), so no payout can be confirmed"
        response = self._http.post(self._rpc_url(), json=body)
        response.raise_for_status()
        reply = response.json()
        if not isinstance(reply, dict) or "error" in reply:
            error = reply.get("error") if isinstance(reply, dict) else reply
            return f"the chain refused to look up {signature}: {error}"
        return transfer_problem(
            reply.get("result"),
            signature=signature,
            owners=list(self._owners()),
            mint=mint,
            amount=amount,
            memo=payout_memo(job_id, attempt),
        )
