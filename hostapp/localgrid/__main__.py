"""`python -m hostapp.localgrid`: the embedded grid and its chain as a process of their own.

The node starts it when no grid URL is set (hostapp/localgrid/process.py) and reaches it only over
HTTP, like any grid, so the node's process holds no web server, no LiteSVM and no grid store.

Protocol with the parent, over the child's stdin and stdout:
- once both serve, ONE JSON line on stdout: {"event": "ready", "url", "rpc_url", "mint",
  "decimals", "pid"} ("rpc_url"/"mint" are null with --no-chain);
- then one command per stdin line, each answered by one JSON line: `chain-stop`, `chain-start`
  (take the chain's RPC away and bring it back, as an outage would; for fault tests);
- stdin at EOF (the parent closed it, exited or was killed -9) or SIGTERM/SIGINT: stop cleanly
  (the endpoint files in the state folders go with it) and exit 0.
Logs go to `<logs-dir>/local-grid.log`, beside the node's hostapp.log.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("hostapp.localgrid")

LOG_FILE = "local-grid.log"
GRID_DIR = "local-grid"  # under the data dir: the same folders the in-process grid used, so state survives
CHAIN_DIR = "local-chain"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m hostapp.localgrid", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="the app's data folder (local-grid/, local-chain/)"
    )
    parser.add_argument("--config-dir", type=Path, required=True, help="the app's config folder (grid-owner-token)")
    parser.add_argument("--logs-dir", type=Path, help="where local-grid.log goes (default: no log file)")
    parser.add_argument("--port", type=int, default=0, help="the grid's TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--no-chain", action="store_true", help="credit nodes but pay nothing on a local chain")
    parser.add_argument("--no-demo", action="store_true", help="do not keep a demo inference job queued")
    return parser.parse_args(argv)


def setup_log_file(logs_dir: Path | None) -> None:
    from hostapp.logs import setup_logging

    setup_logging(logs_dir, file_name=LOG_FILE)  # its own file: two processes rotating one would lose lines


class EmbeddedGrid:
    """The chain and the grid of one data folder, started and stopped together."""

    def __init__(self, args: argparse.Namespace) -> None:
        from hostapp.chain.local import LocalChain
        from hostapp.localgrid.demo import FEE_FUNDING_LAMPORTS
        from hostapp.localgrid.owner_token import load_or_create
        from hostapp.localgrid.server import GridConfig, LocalGrid

        self.chain = None if args.no_chain else LocalChain(args.data_dir / CHAIN_DIR)
        config = GridConfig(demo_feed=not args.no_demo, fee_funding_lamports=FEE_FUNDING_LAMPORTS if self.chain else 0)
        self.grid = LocalGrid(
            args.data_dir / GRID_DIR,
            self.chain,
            port=args.port,
            config=config,
            owner_token=load_or_create(args.config_dir),
        )

    def start(self) -> dict[str, Any]:
        if self.chain is not None:
            self.chain.start()
        self.grid.start()
        return {"event": "ready", "url": self.grid.url, "pid": os.getpid(), **self.chain_fields()}

    def chain_fields(self) -> dict[str, Any]:
        if self.chain is None:
            return {"rpc_url": None, "mint": None, "decimals": None}
        rpc_url = self.chain.rpc_url if self.chain.running else None
        return {"rpc_url": rpc_url, "mint": self.chain.mint, "decimals": self.chain.decimals}

    def command(self, line: str) -> dict[str, Any]:
        name = line.strip()
        if self.chain is None and name in ("chain-stop", "chain-start"):
            return {"ok": False, "error": "this grid runs without a chain (--no-chain)"}
        if name == "chain-stop":
            assert self.chain is not None
            self.chain.stop()
            return {"ok": True, **self.chain_fields()}
        if name == "chain-start":
            assert self.chain is not None
            self.chain.start()
            return {"ok": True, **self.chain_fields()}
        return {"ok": False, "error": f"unknown command {name!r}: chain-stop, chain-start"}

    def stop(self) -> None:
        self.grid.stop()
        if self.chain is not None:
            self.chain.stop()


def follow_stdin(grid: EmbeddedGrid, stop: threading.Event, lock: threading.Lock) -> None:
    """Runs the parent's commands; the parent gone (EOF) stops this process."""
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            with lock:
                try:
                    answer = grid.command(line)
                except Exception as exc:  # a failed command is answered, never the end of the grid
                    log.exception("command %r failed", line.strip())
                    answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(answer), flush=True)
    finally:
        stop.set()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_log_file(args.logs_dir)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    grid = EmbeddedGrid(args)
    try:
        ready = grid.start()
    except Exception as exc:
        log.exception("the embedded grid did not start")
        try:
            grid.stop()
        except Exception:  # the cause above is what the node must show, not a failed cleanup
            log.exception("cleaning up after the failed start failed too")
        # The last line of stderr: the node puts it in its one-line error (process.py).
        print(f"the embedded grid did not start: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    log.info("local grid process %d serving %s (chain %s)", os.getpid(), ready["url"], ready["rpc_url"])
    print(json.dumps(ready), flush=True)
    lock = threading.Lock()
    threading.Thread(target=follow_stdin, args=(grid, stop, lock), name="parent-stdin", daemon=True).start()
    while not stop.wait(1.0):  # a timed wait: signals are handled between waits on every platform
        pass
    log.info("local grid process %d stopping", os.getpid())
    with lock:
        grid.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
