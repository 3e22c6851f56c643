"""The price contract of hostapp's grid protocol: what a job attempt costs, in token base units.

Both sides compute it: the grid when it credits a result (hostapp/localgrid/store.py) and the node
when it checks that credit against the lease it held (hostapp/node/ledger.py, settlement.py). It is
part of the wire contract, so it lives here with the models, not in either side's code.
"""

from __future__ import annotations

import math


def billed_amount(run_seconds: float, rate_per_second: int, timeout_seconds: int) -> tuple[int, int]:
    """(seconds billed, amount): every started second (ceil), capped at the timeout; integers only."""
    if rate_per_second < 0 or timeout_seconds < 0:
        raise ValueError("rate and timeout must not be negative")
    seconds = min(max(math.ceil(run_seconds), 0), timeout_seconds)
    return seconds, seconds * rate_per_second
