"""Checking a submitted job definition: the one place the grid decides what it accepts."""

from __future__ import annotations

from typing import Any

from hostapp.gpu.requirements import GpuRequirements
from hostapp.jobs.definition import JobDefinitionError, gpu_requirements, parse_job_definition
from hostapp.localgrid.store import GridError


def validate_definition(raw: dict[str, Any]) -> tuple[dict[str, Any], GpuRequirements]:
    """The definition as submitted (kept in Nosana form) and what it asks of a GPU; GridError 422 if invalid."""
    try:
        definition = parse_job_definition(raw)
    except JobDefinitionError as exc:
        first_path, first_reason = exc.errors[0]
        raise GridError(
            422,
            "invalid_definition",
            f"job definition is invalid at {first_path}: {first_reason}",
            [{"path": path, "reason": reason} for path, reason in exc.errors],
        ) from exc
    if not definition.ops:
        # Parses (Nosana's confidential jobs fetch their ops elsewhere), but no node here could run it.
        reason = "no ops to run: a job needs at least one op"
        raise GridError(
            422,
            "invalid_definition",
            f"job definition is invalid at $.ops: {reason}",
            [{"path": "$.ops", "reason": reason}],
        )
    return raw, gpu_requirements(definition)
