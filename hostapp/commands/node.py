"""`hostapp node`: the core without Qt, for rigs and servers; logs every state change."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "node", help="run the node: take grid jobs by the schedule (Ctrl-C or SIGTERM to stop)"
    )
    parser.add_argument("--grid-url", help="use this grid instead of the settings' (default: the embedded local grid)")
    parser.add_argument(
        "--wait-for-wallet",
        action="store_true",
        help="serve the control socket and wait for a wallet with a confirmed backup instead of exiting "
        "(how the tray app starts the node)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from hostapp.app import build_services
    from hostapp.cli import CliError
    from hostapp.commands.wallet import terminal_passphrase
    from hostapp.control.transport import ControlError
    from hostapp.events import Event
    from hostapp.jobs.engine import EngineUnavailable
    from hostapp.node.daemon import NodeDaemon, limit_malloc_arenas, run_until_stopped, skip_unused_imports
    from hostapp.wallet.service import WalletError

    limit_malloc_arenas()
    skip_unused_imports()
    services = build_services()
    services.passphrase = terminal_passphrase if sys.stdin is not None and sys.stdin.isatty() else None
    logging.getLogger().addHandler(_console())
    if args.grid_url:
        services.settings.grid.url = args.grid_url
    if services.context.settings_problem:
        print(f"note: {services.context.settings_problem}")

    def show(event: Event) -> None:
        if event.data.get("overall") is not None:
            gpu = event.data.get("gpu") or "cpu"
            print(f"[{gpu}] {event.data.get('state')}: {event.data.get('headline')}", flush=True)

    services.bus.subscribe("node.state", show)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    daemon = NodeDaemon(services, require_backup=args.wait_for_wallet)
    try:
        daemon.serve()
        if args.wait_for_wallet:
            daemon.start()
            print(f"hostapp node: control socket {services.paths.control_socket}", flush=True)
        else:
            node = daemon.start_now()
            print(f"hostapp node: wallet {services.grid_client.signer.pubkey}, grid {services.grid_url()}", flush=True)
            print(f"hostapp node: {node.status().headline}", flush=True)
    except WalletError as exc:
        daemon.stop()
        raise CliError(f"{exc} (create one with `hostapp wallet create`)") from exc
    except (EngineUnavailable, ControlError) as exc:
        daemon.stop()
        raise CliError(str(exc)) from exc
    except BaseException:
        daemon.stop()
        raise
    try:
        run_until_stopped(daemon, stop)
    finally:
        print("hostapp node: stopping", flush=True)
    return 0


def _console() -> Any:
    import logging

    from hostapp.logs import redactor, repeats

    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.addFilter(repeats)  # the terminal, like the file, gets a repeating warning once per window
    handler.addFilter(redactor)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    return handler
