"""The tray and the node as two processes, measured while the node works (issue: the daemon split).

    dbus-run-session -- bash scripts/with-keyring.sh .venv/bin/python bench/bench_split.py
    HOSTAPP_BENCH_IDLE_S=60 (default) … each idle window; HOSTAPP_BENCH_RUNS=5 … tray starts

Over a fresh HOSTAPP_HOME with a wallet, `hostapp node` runs on the embedded grid (demo jobs in Docker)
and is left working. Then, beside baselines measured in the same run:
- start → tray icon with the node already running: `hostapp gui`'s own start (launch, then
  finish_start, which attaches to the node) vs a bare QApplication + QSystemTrayIcon;
- launch → state shown: from starting the tray process to its icon showing the node's state
  (*Working — job …*; TrayController.state_shown_at), as after a tray killed mid-job;
- tray RSS and CPU, window closed, then with the window open (Dashboard), over IDLE_S each, vs the
  bare tray (closed) and the bare tray with an empty QMainWindow shown (open);
- node RSS and CPU while it waits (paused with `hostapp pause`) and while it works, over IDLE_S
  each, read from /proc/<pid> (the embedded grid's process not counted), vs an idle interpreter.
Targets (docs/benchmarks.md): tray RSS ≤ 80 MB, node RSS ≤ 100 MB, tray CPU ≤ 0.2 % closed /
≤ 0.5 % open, node CPU ≤ 0.5 % waiting / ≤ 1 % working, start → icon ≤ 0.5 s, launch → state shown ≤ 1 s.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("HOSTAPP_BENCH_RUNS", "5"))
IDLE_S = float(os.environ.get("HOSTAPP_BENCH_IDLE_S", "60"))
TICKS = os.sysconf("SC_CLK_TCK")

BASELINE_TRAY = """
import time, sys, resource
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QSystemTrayIcon
from PySide6.QtGui import QIcon, QPixmap
app = QApplication([])
tray = QSystemTrayIcon(QIcon(QPixmap(16, 16)))
tray.show()
print("shown", time.time(), flush=True)
{window}
"""

SUBJECT_TRAY = """
import time, sys, resource
sys.path.insert(0, {root!r})
from hostapp.gui.app import launch, finish_start
from PySide6.QtWidgets import QSystemTrayIcon
QSystemTrayIcon.isSystemTrayAvailable = staticmethod(lambda: True)  # a desktop's tray host
started = launch()
print("shown", time.time(), flush=True)
from PySide6.QtCore import QTimer
app = started.app
def finish():
    finish_start(started)
    {window}
QTimer.singleShot(0, finish)
def state_shown():
    return started.tray_app.tray.state_shown_at
def state_value():
    return started.tray_app.tray.status.state.value
"""

IDLE = """
idle, open_window = float(sys.argv[1]), sys.argv[2] == "open"
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
marks = {}
def begin():
    marks["cpu"], marks["wall"] = cpu(), time.monotonic()
    QTimer.singleShot(int(idle * 1000), app.quit)
QTimer.singleShot(3000, begin)  # start-up work settled (the window built, the first status read)
if idle > 0:
    app.exec()
    rss_kb = int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmRSS:")))
    print("idle", rss_kb, cpu() - marks["cpu"], time.monotonic() - marks["wall"], flush=True)
elif "state_shown" in globals():  # hostapp's tray: until its icon shows the node's state (10 s at most)
    deadline = time.monotonic() + 10
    def until_state():
        if state_shown() is not None or time.monotonic() > deadline:
            print("state", state_shown() or "none", state_value(), flush=True)
            app.quit()
        else:
            QTimer.singleShot(10, until_state)
    QTimer.singleShot(0, until_state)
    app.exec()
else:
    QTimer.singleShot(0, app.quit)
    app.exec()
"""

OPEN_BARE = "w = QMainWindow(); w.resize(1000, 700); w.show() if len(sys.argv) > 2 and sys.argv[2] == 'open' else None"
OPEN_APP = "started.tray_app.open_dashboard() if sys.argv[2] == 'open' else None"


def hostapp(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hostapp", *args], env=env, capture_output=True, text=True, timeout=120, check=True
    )


def run_tray(code: str, env: dict[str, str], idle: float, window: str) -> tuple[float, list[str]]:
    """(start → icon in s, the process's output lines)."""
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-c", code, str(idle), window],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120 + idle,
    ).stdout.split("\n")
    shown = next(float(line.split()[1]) for line in out if line.startswith("shown"))
    out.append(f"launched {started}")
    return shown - started, out


def state_seconds(out: list[str]) -> tuple[float, str]:
    """(launch → the icon showing the node's state in s, that state), from a subject tray's output
    (inf: not shown within 10 s)."""
    launched = next(float(line.split()[1]) for line in out if line.startswith("launched"))
    at, state = next(line.split()[1:3] for line in out if line.startswith("state"))
    return float("inf") if at == "none" else float(at) - launched, state


def idle_figures(out: list[str]) -> tuple[float, float]:
    rss_kb, cpu_s, wall_s = next(line.split()[1:] for line in out if line.startswith("idle"))
    return int(rss_kb) / 1024, 100 * float(cpu_s) / float(wall_s)


def proc_sample(pid: int) -> tuple[float, float]:
    """(CPU seconds so far, RSS MB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    rss_kb = int(next(line.split()[1] for line in status if line.startswith("VmRSS:")))
    return cpu, rss_kb / 1024


def process_window(pid: int, seconds: float) -> tuple[float, float]:
    """(CPU %, median RSS MB) of `pid` over `seconds`, sampled each second."""
    cpu0, _ = proc_sample(pid)
    start, rss = time.monotonic(), []
    while time.monotonic() - start < seconds:
        time.sleep(1.0)
        rss.append(proc_sample(pid)[1])
    cpu1, _ = proc_sample(pid)
    return 100 * (cpu1 - cpu0) / (time.monotonic() - start), statistics.median(rss)


def node_status(env: dict[str, str]) -> dict[str, object]:
    return dict(json.loads(hostapp("status", "--json", env=env).stdout))


def verdict(value: float, target: float) -> str:
    return "OK" if value <= target else "OVER TARGET"


def main() -> None:
    home = tempfile.mkdtemp(prefix="hostapp-bench-split-")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOSTAPP_HOME=home)
    hostapp("wallet", "create", "--yes-i-wrote-it-down", env=env)
    log = open(Path(home) / "node.out", "w")
    node = subprocess.Popen([sys.executable, "-m", "hostapp", "node"], env=env, stdout=log, stderr=subprocess.STDOUT)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if node_status(env)["state"] == "working":
                    break
            except subprocess.CalledProcessError:
                pass
            time.sleep(1)
        else:
            raise SystemExit("the node did not start working within 180 s")

        subject = SUBJECT_TRAY.format(root=str(ROOT), window=OPEN_APP) + IDLE
        baseline = BASELINE_TRAY.format(window=OPEN_BARE) + IDLE
        run_tray(subject, env, 0, "closed")  # the first start compiles and caches: not a daily start
        starts, states, seen, bare = [], [], set(), []
        for _ in range(RUNS):
            to_icon, out = run_tray(subject, env, 0, "closed")
            starts.append(to_icon)
            to_state, state = state_seconds(out)
            states.append(to_state)
            seen.add(state)
            bare.append(run_tray(baseline, env, 0, "closed")[0])
        s, b, shown = statistics.median(starts), statistics.median(bare), statistics.median(states)
        lines.append(
            f"start -> tray icon, node running: hostapp {s * 1000:.0f} ms vs bare tray {b * 1000:.0f} ms "
            f"= {s / b:.2f}x (target <= 500 ms) {verdict(s, 0.5)}; "
            f"launch -> state shown ({'/'.join(sorted(seen))}): {shown * 1000:.0f} ms "
            f"(runs {min(states) * 1000:.0f}-{max(states) * 1000:.0f} ms; target <= 1000 ms) {verdict(shown, 1.0)}"
        )
        for window, cpu_target in (("closed", 0.2), ("open", 0.5)):
            rss, cpu = idle_figures(run_tray(subject, env, IDLE_S, window)[1])
            bare_rss, bare_cpu = idle_figures(run_tray(baseline, env, IDLE_S, window)[1])
            lines.append(
                f"tray, window {window}, {IDLE_S:.0f} s while the node works: "
                f"RSS {rss:.0f} MB vs bare {bare_rss:.0f} MB "
                f"(target <= 80) {verdict(rss, 80)}; CPU {cpu:.2f} % vs bare {bare_cpu:.2f} % "
                f"(target <= {cpu_target}) {verdict(cpu, cpu_target)}"
            )

        floor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1e6)"])
        try:
            time.sleep(1)
            floor_cpu, floor_rss = process_window(floor.pid, min(IDLE_S, 10))
        finally:
            floor.kill()
            floor.wait()
        working_cpu, working_rss = process_window(node.pid, IDLE_S)
        hostapp("pause", env=env)
        time.sleep(5)  # the running job freezes; the slot waits
        waiting_cpu, waiting_rss = process_window(node.pid, IDLE_S)
        hostapp("resume", env=env)
        lines.append(
            f"node while working, {IDLE_S:.0f} s: RSS {working_rss:.0f} MB "
            f"(target <= 100) {verdict(working_rss, 100)}; "
            f"CPU {working_cpu:.2f} % (target <= 1) {verdict(working_cpu, 1)}"
        )
        lines.append(
            f"node while waiting (paused), {IDLE_S:.0f} s: RSS {waiting_rss:.0f} MB; CPU {waiting_cpu:.2f} % "
            f"(target <= 0.5) {verdict(waiting_cpu, 0.5)}"
        )
        lines.append(f"baseline: an idle interpreter, RSS {floor_rss:.0f} MB, CPU {floor_cpu:.2f} %")
    finally:
        subprocess.run([sys.executable, "-m", "hostapp", "shutdown"], env=env, capture_output=True, timeout=120)
        try:
            node.wait(60)
        except subprocess.TimeoutExpired:
            node.kill()
        log.close()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
