"""`hostapp status | pause | resume | schedule …`: control a running app or node over its socket."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hostapp.status import NodeSnapshot

STATUS_ERROR_EXIT = 3  # the node runs but is in Error (1: nothing runs / cannot ask it)
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def add_parser(sub: Any) -> None:
    status = sub.add_parser("status", help="state of the running app or node")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=run_status)

    pause = sub.add_parser("pause", help="stop taking jobs: --for 2h, --until 21:30, or indefinitely")
    group = pause.add_mutually_exclusive_group()
    group.add_argument("--for", dest="duration", metavar="DURATION", help="e.g. 30m, 2h, 1h30m, 1d")
    group.add_argument("--until", metavar="HH:MM", help="local time; the next time it is HH:MM")
    pause.set_defaults(func=run_pause)

    resume = sub.add_parser("resume", help="end a pause/snooze")
    resume.set_defaults(func=run_resume)

    schedule = sub.add_parser("schedule", help="show or change the availability schedule")
    ssub = schedule.add_subparsers(dest="schedule_command", required=True)
    show = ssub.add_parser("show", help="print the schedule as JSON")
    show.set_defaults(func=run_schedule_show)
    set_ = ssub.add_parser("set", help="replace the schedule with a JSON file (see docs/schedule.md)")
    set_.add_argument("file", type=Path)
    set_.set_defaults(func=run_schedule_set)
    preset = ssub.add_parser("preset", help="apply a preset: always, nights-and-weekends, when-idle")
    preset.add_argument("name")
    preset.set_defaults(func=run_schedule_preset)


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"cannot read duration {text!r}: use forms like 30m, 2h, 1h30m, 1d")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_until(text: str, now: datetime) -> datetime:
    """The next local time HH:MM after `now` (today, or tomorrow if it has passed)."""
    try:
        clock = datetime.strptime(text.strip(), "%H:%M").time()
    except ValueError:
        raise ValueError(f"cannot read time {text!r}: use 24-hour HH:MM, e.g. 21:30") from None
    target = now.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    return target if target > now else target + timedelta(days=1)


def _call(command: str, args: dict[str, Any] | None = None) -> Any:
    from hostapp.cli import CliError
    from hostapp.config.paths import default_paths
    from hostapp.control import ControlError, call

    try:
        return call(default_paths().control_socket, command, args)
    except ControlError as exc:
        raise CliError(str(exc)) from exc


def read_status(result: Any) -> NodeSnapshot:
    """The control socket's `status` reply as the node's declared snapshot (hostapp/status.py)."""
    from pydantic import ValidationError

    from hostapp.cli import CliError
    from hostapp.status import NodeSnapshot

    try:
        return NodeSnapshot.model_validate(result)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "reply"
        raise CliError(
            f"the running hostapp sent a status this version cannot read ({where}: {first.get('msg', '')}): "
            "restart it so both are the same version"
        ) from None


def money_line(snapshot: NodeSnapshot) -> str:
    """A line like `earned 1.5 (paid 1, pending 0.5; next payout 14:05:10)`, or base units when
    the token's decimals are not known here."""
    from hostapp.wallet.amounts import format_units

    decimals = snapshot.token_decimals

    def amount(value: int) -> str:
        return format_units(value, decimals) if decimals is not None else f"{value} base units"

    line = f"earned {amount(snapshot.earned)} (paid {amount(snapshot.paid)}, pending {amount(snapshot.pending)}"
    if snapshot.pending and snapshot.next_payout_at is not None:
        line += "; next payout " + datetime.fromtimestamp(snapshot.next_payout_at).strftime("%H:%M:%S")
    return line + ")"


def run_status(args: argparse.Namespace) -> int:
    """Exit 0 while the node can work (working, waiting, paused, offline…), 3 when it is in Error:
    the reason and its fix go to stderr on one line, so a script or systemd check sees it."""
    from hostapp.status import NodeState

    snapshot = read_status(_call("status"))
    if args.json:
        print(json.dumps(snapshot.model_dump(mode="json"), indent=2))
    else:
        print(snapshot.headline)
        for slot in snapshot.slots:
            print(f"  GPU {slot.gpu or 'cpu'}: {slot.headline}")
        if snapshot.next_change:
            print(f"  next change: {snapshot.next_change}")
        print("  " + money_line(snapshot))
    if snapshot.state is NodeState.ERROR:
        print(f"hostapp: error: {snapshot.summary()}", file=sys.stderr)
        return STATUS_ERROR_EXIT
    return 0


def run_pause(args: argparse.Namespace) -> int:
    from hostapp.cli import CliError

    now = datetime.now().astimezone()
    try:
        if args.duration:
            until: datetime | None = now + parse_duration(args.duration)
        elif args.until:
            until = parse_until(args.until, now)
        else:
            until = None
    except ValueError as exc:
        raise CliError(str(exc), code=2) from exc
    result = _call("pause", {"until": until.isoformat() if until else None})
    print(result.get("headline", "paused"))
    return 0


def run_resume(args: argparse.Namespace) -> int:
    result = _call("resume")
    print(result.get("headline", "resumed"))
    return 0


def run_schedule_show(args: argparse.Namespace) -> int:
    print(json.dumps(_call("schedule.show"), indent=2))
    return 0


def run_schedule_set(args: argparse.Namespace) -> int:
    from hostapp.cli import CliError

    try:
        document = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError(f"cannot read schedule file {args.file}: {exc}", code=2) from exc
    result = _call("schedule.set", {"schedule": document})
    print(result.get("headline", "schedule saved"))
    return 0


def run_schedule_preset(args: argparse.Namespace) -> int:
    result = _call("schedule.preset", {"name": args.name})
    print(result.get("headline", f"preset {args.name} applied"))
    return 0
