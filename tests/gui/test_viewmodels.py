"""View-model parsing of the core's payloads (no widgets)."""

from __future__ import annotations

import pytest

from hostapp.gui.viewmodels import NodeState, NodeStatus, format_amount, parse_amount


def test_node_slot_event_maps_to_overall_state_headline_and_job() -> None:
    status = NodeStatus.from_event(
        {
            "previous": "waiting",
            "overall": "working",
            "gpu": "GPU-1",
            "state": "working",
            "headline": "Working — job j-7, up to 4 min left",
            "job_id": "j-7",
            "job_started_at": 100.0,
            "timeout_seconds": 300,
            "price_per_second": 12,
        }
    )
    assert status.state is NodeState.WORKING
    assert status.headline == "Working — job j-7, up to 4 min left"
    assert status.job is not None and (status.job.job_id, status.job.rate_per_second) == ("j-7", 12)
    assert status.job.fraction(250.0) == pytest.approx(0.5)


def test_other_slots_headline_does_not_describe_the_node() -> None:
    status = NodeStatus.from_event({"overall": "working", "state": "paused", "headline": "Paused — hot GPU"})
    assert status.state is NodeState.WORKING and status.headline == "Working"


def test_unknown_state_degrades_to_error_and_paused_headline_reads_as_sentence() -> None:
    assert NodeStatus.from_event({"state": "exploded"}).state is NodeState.ERROR
    status = NodeStatus.from_event({"state": "paused", "reason": "game running: eldenring.exe"})
    assert status.headline == "Paused — game running: eldenring.exe"


def test_amounts_are_exact_integers_both_ways() -> None:
    assert format_amount(2**62 + 1, 6) == "4,611,686,018,427.387905"
    assert parse_amount("12.5", 6) == 12_500_000
    for bad in ("", "1.2.3", "-1", "0", "1.0000001", "abc"):
        with pytest.raises(ValueError):
            parse_amount(bad, 6)
