"""The node's control commands: what `hostapp status/pause/resume/schedule/run-job` and the tray ask
of a running node over the control socket (hostapp/control/transport.py). One function per concern of
the wire; the node's state stays in the node (hostapp/node/slots.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hostapp.control.transport import Emit
from hostapp.jobs.local import LocalJobRequest
from hostapp.node.slots import PRESETS
from hostapp.schedule.policy_file import PolicyFileError, policy_from_json, policy_to_dict

if TYPE_CHECKING:
    from hostapp.node.slots import Node


def node_command(node: Node, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
    if command == "status":
        return node.status().model_dump(mode="json")
    if command == "run-job":
        return node.run_local(LocalJobRequest.from_json(args), emit)
    if command == "pause":
        until = args.get("until")
        try:
            when = datetime.fromisoformat(until) if until else None
        except (TypeError, ValueError):
            raise ValueError(f"cannot read pause time {until!r}: use ISO 8601") from None
        decision = node.pause(when, "control")
        return {"headline": decision.headline, "state": node.overall_state().value}
    if command == "resume":
        decision = node.resume("control")
        return {"headline": "Resumed: " + decision.headline, "state": node.overall_state().value}
    if command == "schedule.show":
        return policy_to_dict(node.policy)
    if command == "schedule.set":
        document = args.get("schedule")
        try:
            new = policy_from_json(json.dumps(document), source="schedule")
        except PolicyFileError as exc:
            raise ValueError(str(exc)) from None
        # A shared schedule file carries no snooze/run-now (exports leave them out): a pause in
        # force stays unless the document sets its own.
        given = document if isinstance(document, dict) else {}
        kept = [name for name in ("snooze", "run_now") if name not in given]
        decision = node.update_policy(
            lambda old: replace(new, **{name: getattr(old, name) for name in kept}), "control"
        )
        return {"headline": "Schedule saved. " + decision.headline}
    if command == "schedule.preset":
        name = str(args.get("name", "")).lower().replace("_", "-")
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
        decision = node.update_policy(lambda p: replace(p, grid=PRESETS[name].grid()), "control")
        return {"headline": f"Preset {name} applied. " + decision.headline}
    raise ValueError(f"unknown command {command!r}")
