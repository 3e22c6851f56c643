"""The command line: the only place argv is parsed. Each subcommand lives in hostapp/commands/.

Command modules are imported to build the parser, so they keep heavy imports inside their
handlers: `hostapp --version` and `hostapp run-job` must start fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from hostapp import __version__

# Each module defines `add_parser(subparsers)`; the parser's `func(args) -> int` runs the command.
COMMAND_MODULES = (
    "doctor",
    "gpu",
    "run_job",
    "wallet",
    "devgrid",
    "node",
    "control",
    "gui",
)

# Commands whose process holds wallet secrets: the node and `wallet …` load the key; the tray app (`gui`,
# also what no command means) shows the recovery phrase while a wallet is created or exported.
KEY_HOLDERS = frozenset({"node", "gui", "wallet"})


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hostapp",
        description="Share your idle NVIDIA GPU with an AI inference grid.",
    )
    parser.add_argument("--version", action="version", version=f"hostapp {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to the console too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"hostapp.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"hostapp.commands.{name}":
                continue  # a command another issue has not added yet
            raise
        module.add_parser(sub)
    return parser


def run(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.command is None:
        # No subcommand: the tray app, like double-clicking the icon.
        args = parser.parse_args(["gui", *argv])
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command in KEY_HOLDERS:  # before the key is loaded: no core dump may ever hold it
        from hostapp.wallet.hardening import protect_process

        protect_process()
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a reader that left is seen here, by the handler below, not at exit
        return code
    except CliError as exc:
        print(f"hostapp: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `hostapp status | head -1`: the reader left. Like other tools, stop quietly; stdout goes to
        # devnull so the interpreter's final flush does not raise (and print a traceback) again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command killed by the broken pipe
