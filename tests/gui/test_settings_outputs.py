"""The Settings page shows what job outputs take against their budget, and saves the outputs settings."""

from __future__ import annotations

import json


def test_settings_page_shows_the_outputs_budget_and_saves_it(tray_app) -> None:  # type: ignore[no-untyped-def]
    services = tray_app.services
    kept = services.paths.jobs_dir / "job-kept" / "1" / "op"
    kept.mkdir(parents=True)
    (kept / "result.bin").write_bytes(b"\0" * 3 * 1_048_576)
    page = tray_app.window.pages["Settings"]
    page.load()
    text = page.outputs_usage.text()
    assert text.startswith("Job outputs use 3.0 MB of 2048 MB (0%), 1 jobs"), text
    assert page.outputs_days.text() == "until the result is delivered"  # keep_days 0, the default

    page.outputs_mb.setValue(4)
    page.outputs_days.setValue(3)
    page.save()
    assert page.message.text() == "Saved"
    saved = json.loads(services.paths.settings_file.read_text())["outputs"]
    assert (saved["budget_mb"], saved["keep_days"]) == (4, 3)
    assert page.outputs_usage.text().startswith("Job outputs use 3.0 MB of 4 MB (75%)")
