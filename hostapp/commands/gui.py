"""`hostapp gui` (also bare `hostapp`): the tray app."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("gui", help="the tray app (default when no command is given)")
    parser.add_argument("--show", action="store_true", help="open the main window at start")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hostapp.cli import CliError

    try:
        from hostapp.gui.app import run as run_gui
    except ImportError as exc:
        raise CliError(
            f"the tray app needs PySide6 ({exc}): install hostapp with the 'gui' extra, "
            "or run `hostapp node` for the headless node",
            2,
        ) from None
    return run_gui(show_window=bool(getattr(args, "show", False)))
