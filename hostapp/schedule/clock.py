"""The computer's wall clock in its own IANA zone, so schedule evaluation sees real DST rules."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def local_zone() -> tzinfo:
    """The system zone as a DST-aware zone (a fixed offset would be wrong half the year)."""
    try:
        import tzlocal

        zone: tzinfo = tzlocal.get_localzone()
        return zone
    except Exception:  # any failure here means: use the offset the OS reports right now
        return datetime.now(UTC).astimezone().tzinfo or UTC


def system_now() -> datetime:
    return datetime.now(local_zone())
