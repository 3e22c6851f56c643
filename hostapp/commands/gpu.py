"""`hostapp gpu [--json] [--watch [--count N]]`: the NVIDIA GPUs, live readings and who uses them.

HOSTAPP_FAKE_NVML=/path/profile.json replays a recorded NVML profile instead of the real driver
(a developer/testing aid; see docs/gpu.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "gpu", help="show the NVIDIA GPUs, their live readings and the processes using them"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output (a stable document)")
    parser.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    parser.add_argument("--count", type=int, default=None, help="with --watch: stop after N refreshes")
    parser.add_argument(
        "--interval", type=float, default=None, help="with --watch: seconds between refreshes (default: settings)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hostapp.app import load_context
    from hostapp.cli import CliError
    from hostapp.gpu.failures import FailureKind
    from hostapp.gpu.probe import open_probe
    from hostapp.gpu.processes import JobContainers, ProcessClassifier
    from hostapp.gpu.report import check_engine, collect, render_table
    from hostapp.schedule.policy_file import load_policy_or_default, policy_path

    if args.count is not None and args.count < 1:
        raise CliError("--count must be at least 1", 2)
    context = load_context()
    interval = args.interval if args.interval is not None else context.settings.gpus.telemetry_interval_seconds
    if not 0 < interval <= 3600:
        raise CliError("--interval must be between 0 and 3600 seconds", 2)

    probe = open_probe()
    try:
        detection = probe.detect()
        why = detection.failure
        if why is not None and why.kind is FailureKind.FAKE_PROFILE_INVALID:
            raise CliError(f"{why.message}: {why.hint}", 2)
        rules = load_policy_or_default(policy_path(context.paths)).rules
        classifier = (
            ProcessClassifier(probe, JobContainers(), rules.process_allow_list, rules.process_deny_list)
            if detection.available
            else None
        )
        # The engine answer does not change between refreshes: ask once.
        engine = check_engine() if detection.available or args.json else None
        refreshes = 0
        while True:
            report = collect(probe, classifier, engine)
            if args.json:
                print(json.dumps(report.to_json(), indent=None if args.watch else 2), flush=True)
            else:
                if args.watch and sys.stdout.isatty():
                    print("\033[H\033[2J", end="")
                print(render_table(report), flush=True)
            refreshes += 1
            if not args.watch or not detection.available or (args.count and refreshes >= args.count):
                break
            if not args.json and not sys.stdout.isatty():
                print(flush=True)
            _sleep(interval)
    finally:
        probe.close()
    if why is not None and not why.kind.means_absent:
        return 1  # a fault the user should fix (permissions, GPU lost), not a machine without a GPU
    return 0


def _sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)
