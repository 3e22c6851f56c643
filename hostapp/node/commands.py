"""The node's control commands: what `hostapp status/pause/resume/schedule/run-job` and the tray ask
of a running node over the control socket (hostapp/control/transport.py).

Pause, resume and the schedule commands are one function over "apply this change to the policy and
tell me the decision": the running node applies it through its driver (so running jobs react at
once), and before the node runs the daemon applies it through the policy owner alone (the node reads
the policy when it starts). The node's state stays in the node (hostapp/node/slots.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hostapp.control.transport import Emit
from hostapp.jobs.local import LocalJobRequest
from hostapp.schedule import policy as pol
from hostapp.schedule.grid import Preset
from hostapp.schedule.owner import PolicyChange
from hostapp.schedule.policy_file import PolicyFileError, policy_from_json, policy_to_dict

if TYPE_CHECKING:
    from hostapp.node.slots import Node
    from hostapp.schedule.owner import PolicyOwner

PRESETS = {"always": Preset.ALWAYS, "nights-and-weekends": Preset.NIGHTS_AND_WEEKENDS, "when-idle": Preset.WHEN_IDLE}
PAUSE_CHOICES = ("one_hour", "until_tomorrow", "indefinitely")
SCHEDULE_PARTS = ("grid", "rules", "timezone")  # what `schedule.set` may replace alone ("parts")

# Applies a change to the newest policy; returns the decision after it.
Update = Callable[[PolicyChange], pol.Decision]


def node_command(node: Node, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
    if command == "status":
        return node.status().model_dump(mode="json")
    if command == "run-job":
        return node.run_local(LocalJobRequest.from_json(args), emit)
    answer = policy_command(
        lambda change: node.update_policy(change, "control"), lambda: node.policy, command, args, node.now()
    )
    if command in ("pause", "resume"):
        answer["state"] = node.overall_state().value
    return answer


def owner_command(owner: PolicyOwner, command: str, args: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The same commands before a node runs: the owner keeps the change, the decision is computed here."""

    def update(change: PolicyChange) -> pol.Decision:
        return pol.evaluate(owner.update(change, "control"), pol.Inputs(), now)

    answer = policy_command(update, owner.current, command, args, now)
    if command in ("pause", "resume"):
        answer["state"] = "stopped"
    return answer


def policy_command(
    update: Update,
    current: Callable[[], pol.AvailabilityPolicy],
    command: str,
    args: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    if command == "pause":
        decision = update(_pause_change(args, now))
        return {"headline": decision.headline}
    if command == "resume":
        return {"headline": "Resumed: " + update(pol.resume).headline}
    if command == "schedule.show":
        return policy_to_dict(current())
    if command == "schedule.set":
        document = args.get("schedule")
        try:
            new = policy_from_json(json.dumps(document), source="schedule")
        except PolicyFileError as exc:
            raise ValueError(str(exc)) from None
        parts = args.get("parts")
        if parts is not None:
            if not isinstance(parts, list) or not parts or any(p not in SCHEDULE_PARTS for p in parts):
                raise ValueError(f"'parts' must list some of {', '.join(SCHEDULE_PARTS)}")
            decision = update(lambda old: replace(old, **{p: getattr(new, p) for p in parts}))
            return {"headline": "Schedule saved. " + decision.headline}
        # A shared schedule file carries no snooze/run-now (exports leave them out): a pause in
        # force stays unless the document sets its own.
        given = document if isinstance(document, dict) else {}
        kept = [name for name in ("snooze", "run_now") if name not in given]
        decision = update(lambda old: replace(new, **{name: getattr(old, name) for name in kept}))
        return {"headline": "Schedule saved. " + decision.headline}
    if command == "schedule.preset":
        name = str(args.get("name", "")).lower().replace("_", "-")
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
        decision = update(lambda p: replace(p, grid=PRESETS[name].grid()))
        return {"headline": f"Preset {name} applied. " + decision.headline}
    raise ValueError(f"unknown command {command!r}")


def _pause_change(args: dict[str, Any], now: datetime) -> PolicyChange:
    """`until` (ISO 8601) or `choice` (one_hour, until_tomorrow, indefinitely); neither: indefinitely."""
    choice = args.get("choice")
    until = args.get("until")
    if choice is not None:
        if choice not in PAUSE_CHOICES:
            raise ValueError(f"unknown pause choice {choice!r}: use one of {', '.join(PAUSE_CHOICES)}")
        if choice == "one_hour":
            return lambda p: pol.snooze_for(p, now, timedelta(hours=1))
        if choice == "until_tomorrow":
            return lambda p: pol.snooze_until_tomorrow(p, now)
        return pol.snooze_indefinitely
    if not until:
        return pol.snooze_indefinitely
    try:
        when = datetime.fromisoformat(until)
    except (TypeError, ValueError):
        raise ValueError(f"cannot read pause time {until!r}: use ISO 8601") from None
    if when.tzinfo is None:
        when = when.astimezone()
    return lambda p: pol.snooze_for(p, now, when - now)
