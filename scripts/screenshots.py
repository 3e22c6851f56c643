"""Renders each page of the tray app, the tray menu and the wizard to PNG under docs/screenshots/.

Runs offscreen with demo data in a throwaway HOSTAPP_HOME (real SQLite, real policy file):
    .venv/bin/python scripts/screenshots.py [OUT_DIR]

`--desktop` runs the same demo as a live tray app on the X display instead (QT_QPA_PLATFORM=xcb):
the icon in the system tray, state Working, no node started; it prints "ready <pid>" once the icon is
shown and runs until SIGTERM. scripts/screenshots-desktop.sh drives it under Xvfb and trayer.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

DESKTOP = "--desktop" in sys.argv[1:]
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if DESKTOP else "offscreen")
os.environ.setdefault("HOSTAPP_HOME", tempfile.mkdtemp(prefix="hostapp-shots-"))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from hostapp.app import build_services  # noqa: E402
from hostapp.gpu.probe import GpuSample  # noqa: E402
from hostapp.gui.app import build_tray_app, ensure_application  # noqa: E402
from hostapp.gui.wiring import build_gui_services  # noqa: E402
from hostapp.schedule.grid import Preset  # noqa: E402


def seed_demo_data(services) -> None:  # type: ignore[no-untyped-def]
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
    with services.store.transaction() as conn:
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
    services = build_gui_services(core)
    seed_demo_data(services)
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
    return app, core, services, tray_app


def run_desktop() -> int:
    """The live tray app for scripts/screenshots-desktop.sh: icon shown, window opened from the tray."""
    app, core, _services, tray_app = build_demo()
    window = tray_app.window
    window.resize(1100, 730)
    window.move(60, 44)  # below trayer's panel at the top (there is no window manager to place it)
    tray_app.tray.show()
    # Python runs signal handlers only between bytecodes: a timer gives it a turn inside app.exec().
    signal.signal(signal.SIGTERM, lambda *_: tray_app.quit())
    signal.signal(signal.SIGINT, lambda *_: tray_app.quit())
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
    QTimer.singleShot(0, lambda: print(f"ready {os.getpid()}", flush=True))
    code = app.exec()
    core.close()
    return code


def main() -> int:
    if DESKTOP:
        return run_desktop()
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app, core, services, tray_app = build_demo()
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
    wizard.grab().save(str(out / "wizard-checks.png"))
    print(out / "wizard-checks.png")
    wizard.close()
    tray_app.quit()
    QApplication.processEvents()
    core.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
