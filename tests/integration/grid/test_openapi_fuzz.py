"""Schemathesis fuzzes the served OpenAPI document: no input gives a 5xx; unsigned node calls are 401.

Driven through Hypothesis directly (one bounded run per operation) rather than the pytest plugin,
which does not work with this pytest version.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from hostapp.localgrid.server import GridConfig, LocalGrid

MAX_EXAMPLES = 8  # per operation and mode: bounded, the whole run takes seconds


@pytest.mark.slow
def test_no_input_gives_a_server_error(tmp_path: Path) -> None:
    with LocalGrid(tmp_path / "grid", config=GridConfig(demo_feed=True)) as grid:
        schema = schemathesis.openapi.from_url(f"{grid.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        statuses: dict[str, set[int]] = {}
        for operation in operations:
            _fuzz(operation, GenerationMode.POSITIVE, statuses, grid.owner_headers)
            if operation.path.startswith("/v1/jobs"):  # node calls are 401 before their body is read
                _fuzz(operation, GenerationMode.NEGATIVE, statuses, grid.owner_headers)
    assert statuses["GET /v1/health"] == {200}
    assert 201 in statuses["POST /v1/jobs"] or 422 in statuses["POST /v1/jobs"]


def _fuzz(
    operation: schemathesis.APIOperation, mode: GenerationMode, statuses: dict[str, set[int]], owner: dict[str, str]
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call(timeout=30, headers=owner)  # the owner token; node calls stay unsigned
        case.validate_response(response, checks=[not_a_server_error])
        statuses.setdefault(label, set()).add(response.status_code)
        if case.path.startswith("/v1/node"):
            assert response.status_code == 401, (label, response.status_code, response.text)

    try:
        fuzz()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # An operation with no inputs (GET /v1/health) has no invalid form to send.
