"""The schedule JSON: round trip, one-line errors naming file and field, owner-only saved file."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hostapp.config.paths import AppPaths
from hostapp.schedule.grid import Preset
from hostapp.schedule.policy import AvailabilityPolicy, Rules, run_now_for, snooze_for
from hostapp.schedule.policy_file import (
    PolicyFileError,
    load_policy,
    policy_from_json,
    policy_path,
    policy_to_json,
    read_policy_file,
    save_policy,
)

NOW = datetime(2025, 1, 7, 12, 0, tzinfo=UTC)


def test_round_trip_keeps_everything() -> None:
    policy = snooze_for(
        AvailabilityPolicy(
            grid=Preset.NIGHTS_AND_WEEKENDS.grid(),
            rules=Rules(idle_minutes=3, max_power_w=250, process_deny_list=("eldenring.exe",)),
            timezone="America/New_York",
        ),
        NOW,
        timedelta(hours=1),
    )
    assert policy_from_json(policy_to_json(policy)) == policy
    running = run_now_for(policy, NOW, timedelta(minutes=30))
    assert policy_from_json(policy_to_json(running)) == running


def test_export_without_overrides_and_preset_names() -> None:
    policy = snooze_for(AvailabilityPolicy(), NOW, timedelta(hours=1))
    exported = json.loads(policy_to_json(policy, include_overrides=False))
    assert exported["snooze"] is None and exported["version"] == 1
    assert exported["grid"]["mon"] == "A" * 24
    from_preset = policy_from_json('{"version": 1, "grid": "nights_and_weekends"}')
    assert from_preset.grid == Preset.NIGHTS_AND_WEEKENDS.grid()
    assert from_preset.rules == Rules()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "schedule.json: not valid JSON"),
        ("[]", "schedule.json: expected a JSON object"),
        ('{"version": 9}', "schedule.json: schedule format version 9 is newer than this hostapp understands"),
        ('{"grid": "weekends"}', "schedule.json: grid: unknown preset 'weekends'"),
        ('{"grid": {"mon": "A"}}', "schedule.json: grid: missing tue"),
        ('{"rules": {"max_temperature_c": 200}}', "schedule.json: rules.max_temperature_c: Input should be less"),
        ('{"rules": {"idle_minutse": 5}}', "schedule.json: rules.idle_minutse: Extra inputs are not permitted"),
        ('{"timezone": "Europe/Atlantis"}', "schedule.json: timezone: unknown time zone 'Europe/Atlantis'"),
        ('{"snooze": {"until": "2025-01-01T10:00"}}', "schedule.json: snooze.until: Input should have timezone"),
    ],
)
def test_bad_files_give_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(PolicyFileError) as caught:
        policy_from_json(text, source="schedule.json")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_save_is_owner_only_and_load_defaults_when_missing(app_paths: AppPaths) -> None:
    path = policy_path(app_paths)
    assert load_policy(path) == AvailabilityPolicy()
    policy = AvailabilityPolicy(grid=Preset.WHEN_IDLE.grid(), timezone="Europe/Berlin")
    save_policy(path, policy)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_policy(path) == policy


def test_broken_saved_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    path.write_text('{"grid": 1}')
    with pytest.raises(PolicyFileError, match=f"^{path}: grid: expected a preset name"):
        load_policy(path)
    with pytest.raises(PolicyFileError, match="cannot read"):
        read_policy_file(tmp_path / "missing.json")
