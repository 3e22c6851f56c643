"""`hostapp schedule show` and `hostapp status` print for a person: hours per day, local times to the
minute; --json keeps the machine forms (the schedule document, ISO/epoch)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hostapp.commands.control import local_time_text, schedule_text
from hostapp.schedule.policy import AvailabilityPolicy
from hostapp.schedule.policy_file import policy_to_dict

NOW = datetime(2026, 11, 30, 9, 15, 0).astimezone()


def test_status_times_are_local_to_the_minute_whatever_form_the_node_sent() -> None:
    soon = NOW.replace(hour=14, minute=5, second=7, microsecond=123456)
    assert local_time_text(soon.isoformat(), NOW) == "14:05"  # no ISO, no microseconds
    assert local_time_text(soon.timestamp(), NOW) == "14:05"  # epoch (next payout) reads the same
    tomorrow = (NOW + timedelta(days=1)).replace(hour=8, minute=0)
    assert local_time_text(tomorrow.isoformat(), NOW) == "tomorrow 08:00"
    later = NOW + timedelta(days=5)
    assert local_time_text(later.isoformat(), NOW) == later.strftime("%a %d %b %H:%M")
    assert local_time_text("not a time", NOW) == "not a time"


def test_schedule_show_prints_hours_and_rules_not_json() -> None:
    policy = AvailabilityPolicy()
    document = policy_to_dict(policy)
    document["grid"]["sat"] = "." * 8 + "A" * 10 + "I" * 6
    text = schedule_text(document)
    assert "{" not in text and '"' not in text
    assert "  Mon  00–24 available" in text
    assert "  Sat  00–08 off · 08–18 available · 18–24 when idle" in text
    assert "idle after 10 min" in text and "pause above 83 °C" in text and "pause on battery" in text


def test_schedule_show_says_a_snooze_in_local_time() -> None:
    document = policy_to_dict(AvailabilityPolicy())
    document["snooze"] = {"until": None}
    assert "Paused until you resume" in schedule_text(document)
    until = datetime.now().astimezone().replace(second=0, microsecond=0) + timedelta(minutes=5)
    document["snooze"] = {"until": until.isoformat()}
    assert f"Paused until {local_time_text(until.isoformat())}" in schedule_text(document)
