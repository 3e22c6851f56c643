"""Screenshots of the tray app under docs/screenshots/.

`--real OUT_DIR` (what `bash scripts/screenshots-desktop.sh` runs under Xvfb and trayer): the real app
as `hostapp gui` starts it, in a throwaway HOSTAPP_HOME on the X display (QT_QPA_PLATFORM=xcb). Its
first-run wizard is driven step by step (a new wallet in the real keyring, the backup confirmed with
the words it showed, schedule Always) and each step saved at the wizard's default size; then the node
earns on the embedded grid for HOSTAPP_SHOTS_EARN_SECONDS (default 180) and every page is saved at
the window's default size, with the tray menu. GPU: whatever HOSTAPP_FAKE_NVML names (the desktop
script sets the recorded RTX 4090). It then prints "ready <pid>", hides the window and runs until
SIGTERM, so the desktop script can take the tray icon, its menu and the window from the X screen.

Without `--real`, offscreen with seeded demo data and no node, Docker or grid (real SQLite and
policy file): `.venv/bin/python scripts/screenshots.py [OUT_DIR]`.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

REAL = "--real" in sys.argv[1:]
ARGS = [a for a in sys.argv[1:] if a != "--real"]
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if REAL else "offscreen")
os.environ.setdefault("HOSTAPP_HOME", tempfile.mkdtemp(prefix="hostapp-shots-"))
# The wizard's "start at login" writes an XDG autostart entry: into the throwaway home, not ~/.config.
os.environ.setdefault("XDG_CONFIG_HOME", os.path.join(os.environ["HOSTAPP_HOME"], "xdg-config"))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from hostapp.app import build_services  # noqa: E402
from hostapp.config.settings import load_settings  # noqa: E402
from hostapp.events import EventBus  # noqa: E402
from hostapp.gpu.probe import GpuSample  # noqa: E402
from hostapp.gui.app import (  # noqa: E402
    build_tray_app,
    connect_to_node,
    ensure_application,
)
from hostapp.gui.wiring import build_gui_services  # noqa: E402
from hostapp.node.daemon import NodeDaemon  # noqa: E402
from hostapp.schedule.grid import Preset  # noqa: E402


def seed_demo_data(services, store) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    rows = []
    for i in range(24 * 30):  # a month of hourly jobs, a few failed
        started = now - i * 3600 - 600
        status = "failed" if i % 17 == 0 else ("paid" if i > 48 else "credited")
        amount = 0 if status == "failed" else 180_000 + (i * 7919) % 90_000
        rows.append(
            (
                f"job-{i:04d}",
                "GPU-5f1c",
                started,
                started + 540,
                540,
                400,
                amount,
                status,
                f"5xq{i // 24:04d}PayoutSig3kVbQ9r2LmT8wYc" if status == "paid" else None,  # a daily transfer
                41_000,
            )
        )
    with store.transaction() as conn:  # the node's store: the pages read it back through the node
        conn.executemany(
            "INSERT INTO ledger (job_id, gpu_uuid, started_at, ended_at, seconds_billed, rate_per_second, amount, "
            "status, payout_signature, energy_mwh) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        for i in range(12):
            conn.execute(
                "INSERT INTO jobs (job_id, source, definition, status, reason, created_at, started_at, ended_at) "
                "VALUES (?, 'grid', '{}', ?, ?, ?, ?, ?)",
                (
                    f"job-{i:04d}",
                    "failed" if i % 5 == 4 else "succeeded",
                    "exit code 1" if i % 5 == 4 else None,
                    now - i * 3600,
                    now - i * 3600 + 5,
                    now - i * 3600 + 545,
                ),
            )
    services.schedule.save(Preset.NIGHTS_AND_WEEKENDS.grid())
    if services.wallet is not None:
        try:  # the public BIP39 test vector: a real address for the picture, never a funded key
            services.wallet.import_secret(" ".join(["abandon"] * 11 + ["about"]))
        except ValueError as exc:
            print(f"wallet page without an address ({exc})")


def build_demo():  # type: ignore[no-untyped-def]
    """The tray app over seeded demo data, state Working with a job, GPU telemetry and log lines."""
    app = ensure_application()
    core = build_services(setup_logs=False)
    daemon = NodeDaemon(core)  # the node's control side in this process: the pages ask it, as in use
    daemon.serve()
    link = connect_to_node(core.paths, EventBus())
    link.start()
    services = build_gui_services(core.paths, load_settings(core.paths.settings_file).settings, link)
    seed_demo_data(services, core.store)
    settings = services.settings.model_copy(deep=True)
    settings.electricity_milli_per_kwh, settings.token_price_milli = 320, 1500  # 0.32 EUR/kWh; 1 GRID = 1.50
    settings.solana.cluster = "devnet"  # payouts link to the explorer (localnet has none)
    services.save_settings(settings)
    tray_app = build_tray_app(services)
    window = tray_app.window
    window.resize(1100, 760)
    bus = services.bus
    bus.publish(
        "node.state",
        state="working",
        reason="job-0000 · llama-3-8b inference",
        job={"job_id": "job-0000", "started_at": time.time() - 200, "timeout_seconds": 600, "rate_per_second": 400},
    )
    sample = GpuSample(
        uuid="GPU-5f1c",
        index=0,
        at=time.time(),
        temperature_c=68,
        power_w=231.0,
        fan_percent=55,
        utilization_gpu_percent=94,
        utilization_memory_percent=61,
        memory_used_bytes=9 * 2**30,
        memory_free_bytes=3 * 2**30,
        clock_graphics_mhz=1905,
        clock_sm_mhz=1905,
        clock_memory_mhz=10501,
        throttle_reasons=(),
    )
    bus.publish("gpu.telemetry", uuid="GPU-5f1c", index=0, sample=sample)
    for line in (
        "pulling hostapp/demo-inference:1",
        "loading model weights (4.2 GiB)",
        "batch 1/12 ok",
        "batch 2/12 ok",
        "batch 3/12 ok",
    ):
        bus.publish("job.log", job_id="job-0000", line=line)
    return app, daemon, services, tray_app


def pump(app, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)


def wait_until(app, condition, what: str, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    """Runs the event loop until `condition()` holds; False (and a line saying so) after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.05)
    print(f"screenshots: gave up waiting for {what} after {timeout:.0f} s")
    return False


def save(widget, path: Path) -> None:  # type: ignore[no-untyped-def]
    widget.grab().save(str(path))
    print(path, flush=True)


def drive_wizard(app, wizard, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Every step of the first-run wizard, as a user goes through it, each saved once it has painted."""
    from hostapp.schedule.grid import Preset

    def shot(name: str) -> None:
        pump(app, 0.5)
        save(wizard, out / f"wizard-{name}.png")

    shot("1-welcome")
    wizard.next()
    wait_until(app, wizard.checks.isComplete, "the wizard's checks")
    shot("2-checks")
    wizard.next()
    shot("3-wallet")
    wizard.wallet.create_button.click()
    wait_until(app, lambda: wizard.currentPage() is wizard.phrase, "the new wallet's words", 60)
    shot("4-phrase")
    words = [label.text().split(". ", 1)[-1] for label in wizard.phrase.word_labels]
    wizard.next()
    confirm = wizard.confirm
    for position, edit in confirm.word_edits.items():
        edit.setText(words[position - 1] if position <= len(words) else "")
    confirm.check_words()
    wait_until(app, confirm.isComplete, "the backup confirmation", 30)
    shot("5-confirm")
    wizard.next()
    shot("6-payout")
    wizard.next()  # no separate payout address: payouts go to the new wallet
    schedule = wizard.schedule
    schedule.buttons[Preset.ALWAYS].setChecked(True)  # earn now, whatever the hour of the run
    shot("7-schedule")
    wizard.next()
    shot("8-done")
    wizard.accept()  # Finish: the app starts the node, as after a user's first run


def run_real(out: Path) -> int:
    """The real app on the X display: wizard steps, then every page after some minutes of earning."""
    import hostapp.gui.app as gui_app

    out.mkdir(parents=True, exist_ok=True)
    earn_seconds = float(os.environ.get("HOSTAPP_SHOTS_EARN_SECONDS", "180"))
    gui_app.ensure_application(["hostapp"])  # the X window class trayer's icon is found by (argv[0])
    started = gui_app.launch()
    if started is None:
        print("screenshots: another hostapp runs with this HOSTAPP_HOME", file=sys.stderr)
        return 1
    app, tray_app = started.app, started.tray_app
    gui_app.finish_start(started)  # fresh home, no wallet: the wizard opens
    if not wait_until(app, lambda: getattr(tray_app, "wizard", None) is not None, "the first-run wizard"):
        return 1
    drive_wizard(app, tray_app.wizard, out)
    from hostapp.gui.viewmodels import NodeState

    status = lambda: tray_app.tray.status.state  # noqa: E731
    wait_until(app, lambda: status() is NodeState.WORKING, "the node's first job", 120)
    print(f"screenshots: earning for {earn_seconds:.0f} s on the embedded grid", flush=True)
    pump(app, earn_seconds)

    window = tray_app.window
    window.move(60, 44)  # below trayer's panel at the top (there is no window manager to place it)
    tray_app.open_dashboard()
    pump(app, 2)
    for title in window.pages:
        page = window.show_page(title)
        pump(app, 1.5)
        if title == "Diagnostics":  # its checks run on a worker thread: the page with their results
            if getattr(page, "report", None) is None and page.run_button.isEnabled():  # type: ignore[attr-defined]
                page.run_checks()  # type: ignore[attr-defined]  (not yet run by opening the page)
            wait_until(app, lambda p=page: getattr(p, "report", None) is not None, "the diagnostics checks")
            pump(app, 0.5)
        save(window, out / f"{title.lower()}.png")
        if title == "Earnings":
            page.tabs.setCurrentIndex(1)  # type: ignore[attr-defined]
            pump(app, 0.5)
            save(window, out / "earnings-payouts.png")
            page.tabs.setCurrentIndex(0)  # type: ignore[attr-defined]
        if title == "Settings":
            page.show_advanced(True)  # type: ignore[attr-defined]
            pump(app, 0.5)
            save(window, out / "settings-advanced.png")
            page.show_advanced(False)  # type: ignore[attr-defined]
    tray = tray_app.tray
    tray.rebuild_menu()
    tray.menu.popup(window.geometry().center())
    pump(app, 0.5)
    save(tray.menu, out / "tray-menu.png")
    tray.menu.hide()
    window.show_page("Dashboard")
    window.hide()  # the desktop script opens it again from the tray menu

    # Python runs signal handlers only between bytecodes: a timer gives it a turn inside app.exec().
    signal.signal(signal.SIGTERM, lambda *_: tray_app.quit())
    signal.signal(signal.SIGINT, lambda *_: tray_app.quit())
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
    print(f"ready {os.getpid()}", flush=True)
    try:
        return int(app.exec())
    finally:
        started.close(stop_node=True)  # the node it started for this throw-away home


def main() -> int:
    out = Path(ARGS[0]) if ARGS else ROOT / "docs" / "screenshots"
    if REAL:
        return run_real(out)
    out.mkdir(parents=True, exist_ok=True)
    app, daemon, services, tray_app = build_demo()
    window = tray_app.window
    window.show()
    bus = services.bus
    app.processEvents()
    window.pages["Diagnostics"].run_checks()  # type: ignore[attr-defined]
    deadline = time.time() + 60
    while window.pages["Diagnostics"].report is None and time.time() < deadline:  # type: ignore[attr-defined]
        app.processEvents()
        time.sleep(0.05)
    for title in window.pages:
        window.show_page(title)
        for _ in range(3):
            app.processEvents()
        path = out / f"{title.lower()}.png"
        window.grab().save(str(path))
        print(path)

    earnings = window.show_page("Earnings")
    earnings.tabs.setCurrentIndex(1)  # type: ignore[attr-defined]
    for _ in range(3):
        app.processEvents()
    window.grab().save(str(out / "earnings-payouts.png"))
    print(out / "earnings-payouts.png")

    tray = tray_app.tray
    bus.publish("node.state", state="paused", reason="game running: eldenring.exe")
    app.processEvents()
    tray.rebuild_menu()
    tray.menu.popup(window.geometry().center())
    app.processEvents()
    tray.menu.grab().save(str(out / "tray-menu.png"))
    print(out / "tray-menu.png")
    tray.menu.hide()

    from hostapp.gui.wizard import FirstRunWizard

    wizard = FirstRunWizard(services)
    wizard.resize(700, 500)
    wizard.show()
    wizard.next()
    deadline = time.time() + 60
    while not wizard.checks.isComplete() and time.time() < deadline:
        app.processEvents()
        time.sleep(0.05)
    app.processEvents()
    wizard.grab().save(str(out / "wizard-2-checks.png"))
    print(out / "wizard-2-checks.png")
    wizard.close()
    tray_app.quit()
    QApplication.processEvents()
    services.node.link.close()  # type: ignore[attr-defined]
    daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
