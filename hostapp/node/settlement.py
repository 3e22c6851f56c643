"""What the grid may write into the user's ledger: credits and payouts, checked before they land.

The grid is not trusted with the user's books (docs/security.md, "a hostile grid"):
- a credit lands only for a (job, attempt) this node ran — its ledger row exists, opened when
  the lease arrived — at that lease's price, for whole seconds within that lease's timeout, so
  the amount is at most price × timeout;
- a row becomes *paid* only when the chain shows a successful transfer of exactly that amount of
  the grid token to this wallet under that signature, with the memo naming that attempt
  (hostapp/chain/payouts.py); the grid's "status": "paid" alone changes nothing.
Everything refused is logged once (one line: which entry, why) and otherwise ignored.

A network that pays on chain (Nosana, hostapp/nosana/earnings.py) has no grid to ask: its pay is
read from the chain and lands through `record_chain_earnings`, under the same integer checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hostapp.node.ledger import Ledger
from hostapp.wallet.signatures import signature_problem

log = logging.getLogger(__name__)

MAX_TIMEOUT_SECONDS = 7 * 24 * 3600  # the grid protocol's limit; bounds attempts of older versions
# Chain lookups per credits sync: the rest wait for the next sync (every 30 s), so a grid listing a
# thousand bogus "paid" entries cannot turn each sync into a thousand RPC calls.
MAX_CHAIN_CHECKS_PER_SYNC = 50


class PayoutCheck(Protocol):
    def problem(self, signature: str, amount: int, job_id: str, attempt: int) -> str | None:
        """None when the chain confirms the payout, else why not; raises when the chain cannot be asked."""
        ...


@dataclass
class SettlementReport:
    credited: int = 0
    chain_checks: int = 0
    paid: list[tuple[str, int, int, str]] = field(default_factory=list)  # (job_id, attempt, amount, signature)
    refused: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChainEarning:
    """Pay a network's program made to this node, as read from the chain (one attempt per job)."""

    job_id: str
    started_at: float
    ended_at: float
    seconds_billed: int
    rate_per_second: int
    timeout_seconds: int
    amount: int
    signature: str | None  # the paying transaction; None while it is not found (the row stays credited)


def _int(value: Any, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return value


class Settlement:
    """Applies the grid's answers (result accepted, credits list) to the ledger, after the checks above."""

    def __init__(self, ledger: Ledger, payouts: PayoutCheck | None = None) -> None:
        self.ledger = ledger
        self.payouts = payouts
        self._reported: set[tuple[str, int, str]] = set()

    def credit(self, job_id: str, attempt: int, seconds_billed: Any, amount: Any) -> str | None:
        """Credits one attempt; returns why it was refused, or None."""
        try:
            seconds, value = _int(seconds_billed, "seconds_billed"), _int(amount, "amount")
        except ValueError as exc:
            return str(exc)
        row = self.ledger.get(job_id, attempt)
        if row is None:
            return "this node never ran that job attempt"
        if row.status in ("credited", "paid"):
            return None if row.amount == value else f"already credited {row.amount}, the grid now says {value}"
        limit = row.timeout_seconds if row.timeout_seconds is not None else MAX_TIMEOUT_SECONDS
        if seconds > limit:
            return f"{seconds} s billed for a lease of at most {limit} s"
        if value != seconds * row.rate_per_second:
            return f"amount {value} is not {seconds} s × the lease's price {row.rate_per_second}"
        self.ledger.credit(job_id, attempt, seconds, value)
        return None

    def record_chain_earnings(self, earnings: Iterable[ChainEarning]) -> SettlementReport:
        """Adds one row per job the chain shows paid, idempotent by job id: a known row is left as
        it is, except credited → paid once its transaction is found."""
        report = SettlementReport()
        for earning in earnings:
            problem = self._chain_problem(earning)
            if problem is not None:
                self._refuse(report, earning.job_id, 1, problem)
                continue
            row = self.ledger.get(earning.job_id, 1)
            if row is not None and row.status in ("credited", "paid") and row.amount != earning.amount:
                self._refuse(report, earning.job_id, 1, f"recorded {row.amount}, the chain now says {earning.amount}")
                continue
            if row is None:
                self.ledger.start(
                    earning.job_id, 1, None, earning.rate_per_second, earning.started_at, earning.timeout_seconds
                )
            if row is None or row.status in ("running", "failed"):
                self.ledger.credit(earning.job_id, 1, earning.seconds_billed, earning.amount, earning.ended_at)
                report.credited += 1
            signature = earning.signature
            if signature is not None and not self.ledger.signature_used(signature, (earning.job_id, 1)):
                if self.ledger.mark_paid(earning.job_id, 1, signature):
                    report.paid.append((earning.job_id, 1, earning.amount, signature))
        return report

    @staticmethod
    def _chain_problem(earning: ChainEarning) -> str | None:
        try:
            seconds, rate = _int(earning.seconds_billed, "seconds"), _int(earning.rate_per_second, "price")
            timeout, amount = _int(earning.timeout_seconds, "timeout"), _int(earning.amount, "amount")
        except ValueError as exc:
            return str(exc)
        if seconds > timeout:
            return f"{seconds} s paid for a job of at most {timeout} s"
        if amount != seconds * rate:
            return f"amount {amount} is not {seconds} s × the job's price {rate}"
        return None

    def apply_credits(self, credits: Mapping[str, Any]) -> SettlementReport:
        """Brings the ledger in line with GET /v1/node/credits, within what this node can check."""
        report = SettlementReport()
        entries = credits.get("entries")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            job_id, attempt = entry.get("job_id"), entry.get("attempt")
            if not isinstance(job_id, str) or isinstance(attempt, bool) or not isinstance(attempt, int):
                self._refuse(report, str(job_id)[:80], 0, "entry without a job id and attempt number")
                continue
            before = self.ledger.get(job_id, attempt)
            if before is None:
                self._refuse(report, job_id, attempt, "this node never ran that job attempt")
                continue
            price = entry.get("price_per_second")
            if price != before.rate_per_second:
                self._refuse(report, job_id, attempt, f"price {price!r} is not the lease's {before.rate_per_second}")
                continue
            problem = self.credit(job_id, attempt, entry.get("seconds_billed"), entry.get("amount"))
            if problem is not None:
                self._refuse(report, job_id, attempt, problem)
                continue
            if before.status in ("running", "failed"):
                report.credited += 1
            signature = entry.get("payout_signature")
            if signature:
                self._settle_payout(report, job_id, attempt, signature)
        next_at = credits.get("next_payout_at")
        self.ledger.set_next_payout(float(next_at) if isinstance(next_at, int | float) and next_at > 0 else None)
        return report

    def _settle_payout(self, report: SettlementReport, job_id: str, attempt: int, signature: Any) -> None:
        row = self.ledger.get(job_id, attempt)
        if row is None or row.status != "credited":
            return
        if self.payouts is None:
            self._refuse(report, job_id, attempt, "no chain to confirm the payout on (left credited)")
            return
        malformed = signature_problem(signature)
        if malformed is not None:  # HTML, a URL, a truncated text: no need to ask the chain
            self._refuse(report, job_id, attempt, f"payout not confirmed: {malformed}")
            return
        signature = str(signature)  # a str: signature_problem refuses anything else
        if self.ledger.signature_used(signature, (job_id, attempt)):
            self._refuse(report, job_id, attempt, f"payout {signature[:20]}… already pays another attempt")
            return
        if report.chain_checks >= MAX_CHAIN_CHECKS_PER_SYNC:
            return  # checked on a later sync
        report.chain_checks += 1
        try:
            problem = self.payouts.problem(signature, row.amount, job_id, attempt)
        except Exception as exc:  # the chain is unreachable now: stays credited, checked on the next sync
            log.info("cannot confirm the payout of %s attempt %d yet: %s", job_id, attempt, exc)
            return
        if problem is not None:
            self._refuse(report, job_id, attempt, f"payout not confirmed on chain: {problem}")
            return
        if self.ledger.mark_paid(job_id, attempt, signature):
            report.paid.append((job_id, attempt, row.amount, signature))

    def _refuse(self, report: SettlementReport, job_id: str, attempt: int, why: str) -> None:
        line = f"grid credit for job {job_id!r} attempt {attempt} refused: {why}"
        report.refused.append(line)
        key = (job_id, attempt, why)
        if key not in self._reported:  # the grid repeats its list every sync: say it once
            self._reported.add(key)
            log.warning("%s", line)
