"""The schedule file: versioned JSON for import/export and for keeping the policy under the config dir.

Format (docs/schedule.md):
    {"version": 1, "timezone": "Europe/Berlin" | null,
     "grid": "nights_and_weekends" | {"mon": "AAAAAAAA..........AAAAAA", ..., "sun": "..."},
     "rules": {...}, "snooze": {"until": "...Z" | null} | null, "run_now": {"until": "...Z"} | null}
A bad file gives one line naming the file and the field; a missing file is the default policy.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hostapp.config.atomic import write_private
from hostapp.config.paths import AppPaths
from hostapp.schedule.grid import DAYS, GridError, Preset, WeeklyGrid
from hostapp.schedule.policy import AvailabilityPolicy, Rules, RunNow, Snooze
from hostapp.shapes import Shape, ShapeError, field_check

POLICY_VERSION = 1
POLICY_FILE_NAME = "schedule.json"


class PolicyFileError(ValueError):
    """A schedule file that cannot be used; str() is one line: where and what is wrong."""


class _PolicyDocument(Shape):
    version: Literal[1] = 1
    timezone: str | None = None
    # A preset name or seven day rows; typed loosely so a wrong type gets one clear message.
    grid: Any = Preset.ALWAYS.value
    rules: Rules = Rules()
    snooze: Snooze | None = None
    run_now: RunNow | None = None

    @field_check("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like 'Europe/Berlin')") from None
        return value

    @field_check("grid")
    @classmethod
    def _preset_or_seven_days(cls, value: Any) -> Preset | dict[str, str]:
        if isinstance(value, str):
            try:
                return Preset(value)
            except ValueError:
                names = ", ".join(preset.value for preset in Preset)
                raise ValueError(f"unknown preset {value!r} (use {names}, or 7 day rows)") from None
        if not isinstance(value, dict) or not all(isinstance(row, str) for row in value.values()):
            raise ValueError('expected a preset name or {"mon": "AAAA....", ...} with 24 characters a day')
        missing = [day for day in DAYS if day not in value]
        extra = sorted(set(value) - set(DAYS))
        if missing or extra:
            problem = f"missing {', '.join(missing)}" if missing else f"unknown day {extra[0]!r}"
            raise ValueError(f"{problem} (days are {', '.join(DAYS)})")
        try:
            WeeklyGrid.from_strings([value[day] for day in DAYS])
        except GridError as exc:
            raise ValueError(str(exc)) from None
        return dict(value)


def policy_to_dict(policy: AvailabilityPolicy, include_overrides: bool = True) -> dict[str, Any]:
    """JSON-ready form. Exports for sharing leave out snooze/run-now, which are this machine's state."""
    rows = policy.grid.to_strings()
    document = _PolicyDocument(
        timezone=policy.timezone,
        grid=dict(zip(DAYS, rows, strict=True)),
        rules=policy.rules,
        snooze=policy.snooze if include_overrides else None,
        run_now=policy.run_now if include_overrides else None,
    )
    return document.model_dump(mode="json")


def policy_to_json(policy: AvailabilityPolicy, include_overrides: bool = True) -> str:
    return json.dumps(policy_to_dict(policy, include_overrides), indent=2) + "\n"


def policy_from_json(text: str | bytes, source: str = "schedule") -> AvailabilityPolicy:
    """Parse and validate; raises PolicyFileError("<source>: <field>: <problem>")."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PolicyFileError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise PolicyFileError(f"{source}: expected a JSON object with version, grid and rules")
    version = raw.get("version", POLICY_VERSION)
    if isinstance(version, int) and not isinstance(version, bool) and version > POLICY_VERSION:
        raise PolicyFileError(
            f"{source}: schedule format version {version} is newer than this hostapp understands "
            f"({POLICY_VERSION}); update hostapp"
        )
    try:
        document = _PolicyDocument.model_validate(raw)
    except ShapeError as exc:
        raise PolicyFileError(f"{source}: {_first_error(exc)}") from None
    if isinstance(document.grid, Preset):
        grid = document.grid.grid()
    else:
        grid = WeeklyGrid.from_strings([document.grid[day] for day in DAYS])
    return AvailabilityPolicy(
        grid=grid,
        rules=document.rules,
        timezone=document.timezone,
        snooze=document.snooze,
        run_now=document.run_now,
    )


def policy_path(paths: AppPaths) -> Path:
    return paths.config / POLICY_FILE_NAME


def read_policy_file(path: Path) -> AvailabilityPolicy:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return policy_from_json(data, source=str(path))


def load_policy(path: Path) -> AvailabilityPolicy:
    """The saved policy, or the default one when none was saved yet."""
    if not path.exists():
        return AvailabilityPolicy()
    return read_policy_file(path)


def save_policy(path: Path, policy: AvailabilityPolicy) -> None:
    write_private(path, policy_to_json(policy).encode())


def _first_error(exc: ShapeError) -> str:
    location = ".".join(str(part) for part in exc.loc)
    message = exc.msg.removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def load_policy_or_default(path: Path) -> AvailabilityPolicy:
    """For long-running code: a broken schedule file is logged and the default policy used."""
    try:
        return load_policy(path)
    except PolicyFileError as exc:
        logging.getLogger(__name__).warning("%s; using the default schedule until it is fixed", exc)
        return AvailabilityPolicy()
