"""What the journey tests share: an X desktop with a real XEmbed tray host, a /proc sampler, the
`hostapp` CLI as a user types it, a status watch, and the ledger = grid = chain reconciliation.

Everything here drives or reads real parts: Xvfb and trayer (started and stopped by PID: other
sessions run their own), the app's control socket through `hostapp status --json`, the embedded
grid over signed HTTP, the local chain through `hostapp wallet balance --json`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SECONDS_ENV = "HOSTAPP_JOURNEY_SECONDS"
SHOTS_ENV = "HOSTAPP_JOURNEY_SHOTS"
REPORT_ENV = "HOSTAPP_JOURNEY_REPORT_SECONDS"
SETTLE_ENV = "HOSTAPP_JOURNEY_SETTLE_SECONDS"
DEFAULT_SECONDS = 120.0  # the issue: each journey earns for at least 2 minutes in `make test`
GRID_LINE = re.compile(r"local grid listening on (http://127\.0\.0\.1:\d+)")


def _positive_env(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ValueError(f"{name}={text!r} is not a positive number of seconds: set e.g. {name}={int(default)}")
    return value


def journey_seconds() -> float:
    """How long each journey earns before it pauses (HOSTAPP_JOURNEY_SECONDS; `make soak` sets 3600)."""
    return _positive_env(SECONDS_ENV, DEFAULT_SECONDS)


def settle_seconds() -> float:
    """How long the pause may take to settle: a job frozen by the pause is stopped after the node's
    120 s preempt delay, then credits sync (30 s) and payouts go out (HOSTAPP_JOURNEY_SETTLE_SECONDS)."""
    return _positive_env(SETTLE_ENV, 300.0)


def report_every(seconds: float) -> float:
    """A table row every so often: ~20 rows whatever the length, at least every 10 s."""
    return _positive_env(REPORT_ENV, max(10.0, seconds / 20))


def shots_dir(fallback: Path) -> Path:
    """Where screenshots and figure tables go: HOSTAPP_JOURNEY_SHOTS (the soak keeps them), else the test's tmp."""
    chosen = os.environ.get(SHOTS_ENV, "").strip()
    path = Path(chosen) if chosen else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------------- the CLI


def hostapp(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`hostapp ARGS` in its own process, as a user or a script runs it."""
    return subprocess.run(
        [sys.executable, "-m", "hostapp", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def status_json(env: dict[str, str]) -> dict[str, Any] | None:
    """`hostapp status --json`; None when nothing answers on the control socket."""
    ran = hostapp("status", "--json", env=env, timeout=30)
    if ran.returncode != 0:
        return None
    return dict(json.loads(ran.stdout))


def wallet_token_amount(env: dict[str, str]) -> int | None:
    """The token amount `hostapp wallet balance --json` reads on chain (base units)."""
    ran = hostapp("wallet", "balance", "--json", env=env, timeout=60)
    if ran.returncode != 0:
        raise AssertionError(f"hostapp wallet balance --json failed: {ran.stderr.strip()}")
    token = json.loads(ran.stdout)["token"]
    return None if token is None else int(token["amount"])


def grid_url_from_log(home: Path) -> str:
    """The embedded grid's URL, from the app's own log (the app prints it nowhere else for the tray)."""
    log = home / "logs" / "hostapp.log"
    found = GRID_LINE.findall(log.read_text(encoding="utf-8")) if log.exists() else []
    if not found:
        raise AssertionError(f"no 'local grid listening on' line in {log}: the embedded grid did not start")
    return str(found[-1])


def grid_credits(grid_url: str) -> dict[str, Any]:
    """What the grid says it credited and paid this node: GET /v1/node/credits, signed with the wallet key
    from the keyring (HOSTAPP_HOME of this process is the app's)."""
    from hostapp.app import load_context
    from hostapp.events import EventBus
    from hostapp.grid.client import GridClient
    from hostapp.wallet.service import WalletService

    context = load_context()
    wallet = WalletService(context.paths, context.settings, EventBus())
    client = GridClient(grid_url, wallet.keystore(), timeout=30)
    try:
        credits = client.credits()
        # A pydantic model (the typed client) or the plain JSON object: the same fields either way.
        return dict(credits.model_dump() if hasattr(credits, "model_dump") else credits)
    finally:
        client.close()


# ---------------------------------------------------------------------------------- the desktop


@dataclass
class Desktop:
    """Xvfb on a display it picks itself (-displayfd) and trayer as the XEmbed system tray."""

    work: Path
    display: str = ""
    _xvfb: subprocess.Popen[bytes] | None = None
    _trayer: subprocess.Popen[bytes] | None = None

    def start(self) -> Desktop:
        missing = [tool for tool in ("Xvfb", "trayer", "xdotool") if shutil.which(tool) is None]
        if missing:
            raise AssertionError(f"{', '.join(missing)} missing: run `make setup` (scripts/setup.sh installs them)")
        self.work.mkdir(parents=True, exist_ok=True)
        read_end, write_end = os.pipe()
        with (self.work / "xvfb.log").open("wb") as log:  # the child keeps its own descriptor
            self._xvfb = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
                pass_fds=(write_end,),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        os.close(write_end)
        with os.fdopen(read_end) as numbers:
            number = numbers.readline().strip()
        if not number.isdigit():
            self.stop()
            raise AssertionError(f"Xvfb did not start: {(self.work / 'xvfb.log').read_text(errors='replace')}")
        self.display = f":{number}"
        with (self.work / "trayer.log").open("wb") as log:
            self._trayer = subprocess.Popen(
                [
                    *("trayer", "--edge", "top", "--align", "right", "--widthtype", "percent", "--width", "100"),
                    *("--height", "24", "--SetDockType", "true", "--SetPartialStrut", "true"),
                ],
                env=self.env(),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 20
        while not self._windows("--classname", "^panel$"):
            if time.monotonic() > deadline or self._trayer.poll() is not None:
                self.stop()
                raise AssertionError(f"trayer did not start: {(self.work / 'trayer.log').read_text(errors='replace')}")
            time.sleep(0.1)
        return self

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        return {**(base if base is not None else os.environ), "DISPLAY": self.display, "QT_QPA_PLATFORM": "xcb"}

    def _windows(self, *query: str) -> list[str]:
        ran = subprocess.run(["xdotool", "search", *query], capture_output=True, text=True, env=self.env())
        return ran.stdout.split()

    def _geometry(self, window: str) -> tuple[int, int, int, int]:
        ran = subprocess.run(
            ["xdotool", "getwindowgeometry", "--shell", window], capture_output=True, text=True, env=self.env()
        )
        values = dict(line.split("=", 1) for line in ran.stdout.split() if "=" in line)
        return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])

    def tray_icon_docked(self) -> bool:
        """The app's icon is a window inside trayer's panel: the XEmbed tray really hosts it."""
        panels = self._windows("--classname", "^panel$")
        if not panels:
            return False
        px, py, pw, ph = self._geometry(panels[0])
        for window in self._windows("--onlyvisible", "--classname", "^hostapp$"):
            x, y, _w, _h = self._geometry(window)
            if px <= x < px + pw and py <= y < py + ph:
                return True
        return False

    def stop(self) -> None:
        for process in (self._trayer, self._xvfb):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


@contextlib.contextmanager
def desktop(work: Path) -> Iterator[Desktop]:
    running = Desktop(work).start()
    try:
        yield running
    finally:
        running.stop()


# ---------------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class Sample:
    elapsed: float  # seconds since the journey started
    rss_kib: int
    cpu_percent: float  # of one core, over the interval since the previous sample
    state: str
    earned: int


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of proc(5))


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Watch:
    """Samples the app every few seconds for the whole journey: `hostapp status --json` (states, slots
    in Error, earnings) and /proc (RSS, CPU). Only records; the test asserts on what it recorded."""

    process: subprocess.Popen[Any]
    env: dict[str, str]
    every: float = 3.0
    report: float = 10.0
    out: Path | None = None  # a .tsv of the figures, for the lead (docs/benchmarks.md)
    started: float = field(default_factory=time.monotonic)
    statuses: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    unanswered: list[float] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    first_working: float | None = None
    first_earned: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Watch:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="journey-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _run(self) -> None:
        ticks_per_second = os.sysconf("SC_CLK_TCK")
        last_ticks, last_at, last_row = 0, self.started, -self.report
        with contextlib.suppress(OSError):
            last_ticks = _cpu_ticks(self.process.pid)
        self._emit(f"{'elapsed':>8} {'RSS MiB':>8} {'CPU %':>6} {'earned':>12}  state")
        while not self._stop.wait(self.every):
            if self.process.poll() is not None:
                return
            self.poll_status()
            try:
                ticks, rss = _cpu_ticks(self.process.pid), _rss_kib(self.process.pid)
            except OSError:
                return  # exited between the poll and the read
            now = time.monotonic()
            cpu = 100.0 * (ticks - last_ticks) / ticks_per_second / max(now - last_at, 1e-6)
            last_ticks, last_at = ticks, now
            status = self.statuses[-1][1] if self.statuses else {}
            sample = Sample(now - self.started, rss, cpu, str(status.get("state", "-")), int(status.get("earned", 0)))
            self.samples.append(sample)
            if sample.elapsed - last_row >= self.report:
                last_row = sample.elapsed
                self._emit(self.row(sample))

    def poll_status(self) -> dict[str, Any] | None:
        status = status_json(self.env)
        at = self.elapsed()
        if status is None:
            self.unanswered.append(at)
            return None
        self.statuses.append((at, status))
        if self.first_working is None and status.get("state") == "working":
            self.first_working = at
        if self.first_earned is None and int(status.get("earned") or 0) > 0:
            self.first_earned = at
        return status

    @staticmethod
    def row(sample: Sample) -> str:
        return (
            f"{sample.elapsed:8.0f} {sample.rss_kib / 1024:8.1f} {sample.cpu_percent:6.1f} "
            f"{sample.earned:12d}  {sample.state}"
        )

    def _emit(self, line: str) -> None:
        print(f"journey: {line}", flush=True)  # live under `pytest -s` (make soak)
        if self.out is not None:
            with self.out.open("a", encoding="utf-8") as table:
                table.write(line + "\n")

    def slots_in_error(self) -> list[str]:
        """Each slot and headline seen in Error, once: 'GPU-…: Error — reason (seen 18 times, 3–58 s)'."""
        seen: dict[tuple[str, str], list[float]] = {}
        for at, status in self.statuses:
            for slot in status.get("slots", []):
                if slot.get("state") == "error":
                    seen.setdefault((slot.get("gpu") or "cpu", str(slot.get("headline"))), []).append(at)
        return [
            f"{gpu}: {headline} (seen {len(times)} times, {times[0]:.0f}–{times[-1]:.0f} s)"
            for (gpu, headline), times in seen.items()
        ]

    def summary(self) -> str:
        if not self.samples:
            return "no samples"
        rss = [s.rss_kib / 1024 for s in self.samples]
        cpu = [s.cpu_percent for s in self.samples[1:]] or [0.0]
        return (
            f"{len(self.samples)} samples over {self.samples[-1].elapsed:.0f} s: RSS first {rss[0]:.1f} MiB, "
            f"last {rss[-1]:.1f} MiB, max {max(rss):.1f} MiB; CPU mean {sum(cpu) / len(cpu):.1f} %, "
            f"max {max(cpu):.1f} %"
        )


# ---------------------------------------------------------------------------------- money


@dataclass(frozen=True)
class Figures:
    ledger: int  # `hostapp status --json` earned
    credited: int  # the grid's credits for this node
    paid: int  # of which paid on chain
    chain: int | None  # `hostapp wallet balance --json` token amount
    jobs_in_flight: list[str]
    outbox: int

    @property
    def reconciled(self) -> bool:
        return (
            not self.jobs_in_flight
            and self.outbox == 0
            and self.ledger == self.credited == self.paid == self.chain
            and self.ledger > 0
        )


def money_figures(env: dict[str, str], grid_url: str) -> Figures:
    status = status_json(env)
    if status is None:
        raise AssertionError("the app stopped answering `hostapp status --json` while settling")
    credits = grid_credits(grid_url)
    return Figures(
        ledger=int(status["earned"]),
        credited=int(credits["credited"]),
        paid=int(credits["paid"]),
        chain=wallet_token_amount(env),
        jobs_in_flight=[str(s["job_id"]) for s in status.get("slots", []) if s.get("job_id")],
        outbox=int(status.get("outbox") or 0),
    )


def settle_and_reconcile(env: dict[str, str], grid_url: str, timeout: float) -> Figures:
    """After a pause: wait until no job is in flight (a frozen job is stopped after the node's preempt
    delay, 120 s), the outbox is empty and the grid has paid everything; then ledger = grid = chain."""
    deadline = time.monotonic() + timeout
    figures = money_figures(env, grid_url)
    while not figures.reconciled and time.monotonic() < deadline:
        time.sleep(5)
        figures = money_figures(env, grid_url)
    return figures


def remove_job_containers(home: Path) -> None:
    """Containers of this app instance a crashed or killed app left behind (never another session's)."""
    from hostapp.jobs.engine import connect
    from hostapp.jobs.sandbox import LABEL_INSTANCE
    from hostapp.store import Store

    database = home / "data" / "hostapp.sqlite3"
    if not database.exists():
        return
    store = Store(database)
    try:
        instance = store.get_kv("instance_id")
    finally:
        store.close()
    if not instance:
        return
    try:
        client = connect(timeout=60)
    except Exception as exc:  # the engine itself is down: nothing can be removed, and the test said why
        print(f"journey: job containers of instance {instance} not removed: {exc}")
        return
    try:
        for container in client.containers.list(all=True, filters={"label": f"{LABEL_INSTANCE}={instance}"}):
            with contextlib.suppress(Exception):
                container.remove(force=True)
    finally:
        client.close()
