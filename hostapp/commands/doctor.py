"""`hostapp doctor [--json]`."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "doctor", help="check this machine: Docker, GPU, container runtime, keyring, disk, grid, the running node"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hostapp.app import load_context
    from hostapp.health.doctor import render, run_checks

    context = load_context()
    report = run_checks(context.paths, context.settings)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        if context.settings_problem:
            print(f"note: {context.settings_problem}")
        print(render(report))
    return 0 if report.ok else 1
