"""When this machine may work: the weekly grid and rules (pure), idle detection, and the driver.

- grid.py: the 7×24 wall-clock grid and its presets.
- policy.py: rules, snooze/"run now", `evaluate(policy, inputs, now) -> Decision` (pure).
- policy_file.py: the versioned JSON form, import/export and the saved file under the config dir.
- owner.py: `PolicyOwner`, the one holder and only writer of the policy in a process.
- idle.py: idle-time backends per desktop and `pick_idle_backend()`.
- driver.py: APScheduler re-evaluation at the next change, on events, ticks and clock jumps.
"""

from hostapp.schedule.grid import Cell, Preset, WeeklyGrid
from hostapp.schedule.policy import (
    AvailabilityPolicy,
    Decision,
    ForeignProcess,
    GpuDecision,
    GpuInputs,
    Inputs,
    Reason,
    ReasonKind,
    Rules,
    evaluate,
)

__all__ = [
    "AvailabilityPolicy",
    "Cell",
    "Decision",
    "ForeignProcess",
    "GpuDecision",
    "GpuInputs",
    "Inputs",
    "Preset",
    "Reason",
    "ReasonKind",
    "Rules",
    "WeeklyGrid",
    "evaluate",
]
