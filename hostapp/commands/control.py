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
    from hostapp.control.status import NodeSnapshot
    from hostapp.earnings.pricing import Rate

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

    shutdown = sub.add_parser(
        "shutdown", help="stop the running node (its jobs are stopped and released; the tray starts it again)"
    )
    shutdown.add_argument("--wait", type=float, default=60.0, metavar="SECONDS", help="how long to wait for it to end")
    shutdown.set_defaults(func=run_shutdown)

    schedule = sub.add_parser("schedule", help="show or change the availability schedule")
    ssub = schedule.add_subparsers(dest="schedule_command", required=True)
    show = ssub.add_parser("show", help="print the schedule: hours per day and the rules (--json: the document)")
    show.add_argument("--json", action="store_true", help="the schedule document, as `schedule set` reads it")
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
    from hostapp.control.transport import ControlError, call

    try:
        return call(default_paths().control_socket, command, args)
    except ControlError as exc:
        raise CliError(str(exc)) from exc


def read_status(result: Any) -> NodeSnapshot:
    """The control socket's `status` reply as the node's declared snapshot (hostapp/control/status.py)."""
    from hostapp.cli import CliError
    from hostapp.control.status import NodeSnapshot
    from hostapp.shapes import ShapeError

    try:
        return NodeSnapshot.model_validate(result)
    except ShapeError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "reply"
        raise CliError(
            f"the running hostapp sent a status this version cannot read ({where}: {first.get('msg', '')}): "
            "restart it so both are the same version"
        ) from None


def money_line(snapshot: NodeSnapshot, rate: Rate | None = None) -> str:
    """A line like `earned 1.5 GRID ≈ $0.08 (paid 1 GRID ≈ $0.05, pending 0.5 GRID ≈ $0.03; next payout
    14:05)`, or base units when the token's decimals are not known here."""
    from hostapp.earnings.pricing import UNIT_SYMBOL, fiat_text
    from hostapp.wallet.amounts import format_units

    decimals = snapshot.token_decimals

    def amount(value: int) -> str:
        if decimals is None:
            return f"{value} base units"
        money = fiat_text(value, decimals, rate)
        return f"{format_units(value, decimals)} {UNIT_SYMBOL}" + (f" {money}" if money else "")

    line = f"earned {amount(snapshot.earned)} (paid {amount(snapshot.paid)}, pending {amount(snapshot.pending)}"
    if snapshot.pending and snapshot.next_payout_at is not None:
        line += "; next payout " + local_time_text(snapshot.next_payout_at)
    return line + ")"


def _status_rate(snapshot: NodeSnapshot) -> Rate | None:
    """The token's rate from the node's grid (or the pricing setting); None when there is none."""
    from hostapp.app import load_context
    from hostapp.earnings.pricing import cli_price_source

    context = load_context()
    return cli_price_source(context.settings, context.paths.data, snapshot.grid_url).current()


def rate_line(rate: Rate | None, decimals: int) -> str:
    from hostapp.earnings.pricing import UNIT_SYMBOL, rate_text

    return "rate: " + rate_text(rate, decimals, UNIT_SYMBOL)


def money_json(snapshot: NodeSnapshot, rate: Rate | None) -> dict[str, Any]:
    """`status --json`'s amounts with their unit: exact decimal strings of whole tokens (integers in
    base units stay in `earned`/`pending`/`paid`), and their value in minor units of `currency`."""
    from hostapp.earnings.pricing import UNIT_SYMBOL, fiat_minor
    from hostapp.wallet.amounts import format_units

    decimals = snapshot.token_decimals
    amounts = {"earned": snapshot.earned, "pending": snapshot.pending, "paid": snapshot.paid}
    return {
        "symbol": UNIT_SYMBOL,
        "decimals": decimals,
        **{k: format_units(v, decimals) if decimals is not None else None for k, v in amounts.items()},
        "currency": rate.currency if rate is not None else None,
        "value_minor_units": {k: fiat_minor(v, decimals, rate) for k, v in amounts.items()}
        if rate is not None and decimals is not None
        else None,
        "rate": None
        if rate is None
        else {
            "minor_units_per_token": rate.minor_units_per_token,
            "currency": rate.currency,
            "as_of": int(rate.as_of),
            "source": rate.source,
        },
    }


def run_status(args: argparse.Namespace) -> int:
    """Exit 0 while the node can work (working, waiting, paused, offline…), 3 when it is in Error:
    the reason and its fix go to stderr on one line, so a script or systemd check sees it."""
    from hostapp.control.status import NodeState

    snapshot = read_status(_call("status"))
    rate = _status_rate(snapshot)
    if args.json:
        print(json.dumps({**snapshot.model_dump(mode="json"), "money": money_json(snapshot, rate)}, indent=2))
    else:
        print(snapshot.headline)
        for slot in snapshot.slots:
            print(f"  {slot.label}: {slot.headline}")  # "RTX 4090: Working — …", "CPU: Waiting for work"
        if snapshot.next_change:
            print(f"  next change: {local_time_text(snapshot.next_change)}")
        print("  " + money_line(snapshot, rate))
        if snapshot.token_decimals is not None:
            print("  " + rate_line(rate, snapshot.token_decimals))
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


def run_shutdown(args: argparse.Namespace) -> int:
    import time

    from hostapp.cli import CliError
    from hostapp.config.paths import default_paths
    from hostapp.control.transport import ControlError, call

    result = _call("shutdown")
    print(result.get("headline", "stopping"))
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        try:
            call(default_paths().control_socket, "status", timeout=2)
        except ControlError:
            return 0  # it no longer answers: stopped
        time.sleep(0.2)
    raise CliError(f"the node still answers after {args.wait:.0f} s; see its log (hostapp doctor shows where)")


def run_schedule_show(args: argparse.Namespace) -> int:
    document = _call("schedule.show")
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(schedule_text(document))
    return 0


def local_time_text(when: str | float | datetime, now: datetime | None = None) -> str:
    """One human form for every time `status` prints: local, to the minute, with the day when it is
    not today (`14:05`, `tomorrow 08:00`, `Sat 12 Dec 08:00`). ISO text or epoch seconds in;
    text that is neither comes back as it was (a newer node may send a form this one cannot read)."""
    now = now or datetime.now().astimezone()
    try:
        if isinstance(when, datetime):
            moment = when
        elif isinstance(when, int | float):
            moment = datetime.fromtimestamp(when).astimezone()
        else:
            moment = datetime.fromisoformat(when)
    except (ValueError, OverflowError, OSError):
        return str(when)
    moment = moment.astimezone(now.tzinfo) if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
    if moment.date() == now.date():
        return moment.strftime("%H:%M")
    if moment.date() == (now + timedelta(days=1)).date():
        return "tomorrow " + moment.strftime("%H:%M")
    return moment.strftime("%a %d %b %H:%M")


_CELL_WORDS = {"A": "available", "I": "when idle", ".": "off"}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _day_ranges(hours: str) -> str:
    """ "AAAAAAAA........IIIIIIII" → "00–08 available · 08–16 off · 16–24 when idle"."""
    if not hours:
        return "—"
    parts: list[str] = []
    start = 0
    for hour in range(1, len(hours) + 1):
        if hour == len(hours) or hours[hour] != hours[start]:
            word = _CELL_WORDS.get(hours[start], repr(hours[start]))
            parts.append(f"{start:02d}–{hour:02d} {word}")
            start = hour
    return " · ".join(parts)


def schedule_text(document: dict[str, Any]) -> str:
    """The schedule as a person reads it: hours per day, the pause rules, a snooze or run-now."""
    lines = ["Weekly hours (local time" + (f", {document['timezone']}" if document.get("timezone") else "") + "):"]
    grid = document.get("grid") or {}
    for day in _DAYS:
        lines.append(f"  {day.capitalize()}  {_day_ranges(str(grid.get(day, '')))}")
    rules = document.get("rules") or {}
    if rules:
        lines.append("Rules:")
        if rules.get("idle_minutes") is not None:
            lines.append(f"  idle after {rules['idle_minutes']} min without keyboard or mouse")
        if rules.get("pause_on_foreign_process"):
            grace = rules.get("foreign_process_grace_seconds", 0)
            lines.append(f"  pause when another program uses the GPU (a game), after {grace} s")
        if rules.get("max_temperature_c") is not None:
            lower = rules.get("temperature_hysteresis_c", 0)
            lines.append(f"  pause above {rules['max_temperature_c']} °C (resume {lower} °C lower)")
        if rules.get("max_power_w") is not None:
            lines.append(f"  pause above {rules['max_power_w']} W")
        if rules.get("pause_on_battery"):
            lines.append("  pause on battery")
    snooze = document.get("snooze")
    if isinstance(snooze, dict):
        until = snooze.get("until")
        lines.append("Paused " + (f"until {local_time_text(until)}" if until else "until you resume"))
    run_now = document.get("run_now")
    if isinstance(run_now, dict) and run_now.get("until"):
        lines.append(f"Running now, whatever the hours say, until {local_time_text(run_now['until'])}")
    return "\n".join(lines)


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
