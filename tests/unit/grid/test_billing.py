"""The price contract is the wire's (hostapp/grid/billing.py): the grid and the node bill alike, and the
grid server takes it from the wire package, not from the node."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hostapp.grid.billing import billed_amount
from hostapp.node import ledger


def test_every_started_second_is_billed_up_to_the_timeout_in_integers() -> None:
    assert billed_amount(12.1, 1_000, 60) == (13, 13_000)
    assert billed_amount(0.0, 1_000, 60) == (0, 0)
    assert billed_amount(3600, 7, 60) == (60, 420)
    assert billed_amount(-1, 7, 60) == (0, 0)
    with pytest.raises(ValueError, match="negative"):
        billed_amount(1, 5, -1)


def test_the_node_and_the_grid_share_one_formula() -> None:
    assert ledger.billed_amount is billed_amount


def test_the_grid_store_imports_nothing_of_the_node() -> None:
    code = (
        "import json, sys; import hostapp.localgrid.store, hostapp.localgrid.server; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('hostapp.node'))))"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(ran.stdout) == []
