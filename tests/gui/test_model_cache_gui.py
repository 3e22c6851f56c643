"""The model cache in the GUI: its budget and what uses it on the Settings page, fetch progress on the Jobs
page and in the tray tooltip. Real parts: a real S3-compatible server (moto) fetched by the real
ModelCache into the app's cache folder, the event bus, settings.json, offscreen Qt."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from hostapp.config.settings import ModelSettings
from hostapp.jobs.definition import Resource
from hostapp.resources.cache import ModelCache
from hostapp.resources.spec import resolve
from tests.integration.resources.conftest import MB, S3Server, s3_server  # noqa: F401  (the fixture)

pytestmark = pytest.mark.gui


def fetch(cache: ModelCache, url: str) -> None:
    source = resolve(Resource.model_validate({"type": "S3", "url": url, "target": "/models/"}), ModelSettings())
    cache.prepare("job-gui", [source], grid=False)
    cache.release("job-gui")


def test_settings_shows_the_model_cache_budget_and_what_uses_it(tray_app, s3_server: S3Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    services = tray_app.services
    bucket = s3_server.bucket()
    s3_server.put(bucket, "big/weights.bin", 3 * MB)
    s3_server.put(bucket, "small/weights.bin", 1 * MB)
    cache = ModelCache(Path(services.paths.cache) / "models", ModelSettings())
    fetch(cache, f"{s3_server.url}/{bucket}/small")
    fetch(cache, f"{s3_server.url}/{bucket}/big")
    page = tray_app.window.pages["Settings"]
    page.load()
    assert page.models_mb.value() == 102_400  # the default budget
    assert page.models_usage.text().splitlines() == [
        "Model cache uses 4.0 MB of 102400 MB (0%), 2 models",
        f"  S3 {s3_server.url}/{bucket}/big: 3.0 MB",  # largest first
        f"  S3 {s3_server.url}/{bucket}/small: 1.0 MB",
    ]

    page.models_mb.setValue(8)
    page.save()
    assert page.message.text() == "Saved"
    assert json.loads(services.paths.settings_file.read_text())["models"]["budget_mb"] == 8
    assert services.settings.models.budget_mb == 8
    assert page.models_usage.text().startswith("Model cache uses 4.0 MB of 8 MB (50%), 2 models")


def test_model_fetch_progress_on_the_jobs_page_and_in_the_tray_tooltip(  # type: ignore[no-untyped-def]
    tray_app,
    qtbot,
    s3_server: S3Server,  # noqa: F811
    tmp_path: Path,
) -> None:
    page = tray_app.window.pages["Jobs"]
    bus = tray_app.services.bus
    bucket = s3_server.bucket()
    s3_server.put(bucket, "tiny/weights.bin", 2 * MB)
    url = f"{s3_server.url}/{bucket}/tiny"

    def progress(done: int) -> None:  # what ModelCache publishes while a fetch runs (cache.py _progress)
        bus.publish(
            "resource.progress",
            job_id="job-1",
            resource=url,
            kind="S3",
            bytes_done=done,
            bytes_total=7_800_000_000,
            finished=False,
        )

    threading.Thread(target=lambda: progress(3_200_000_000)).start()
    expected = f"Fetching model {url}: 3.2 GB / 7.8 GB"
    qtbot.waitUntil(lambda: page.fetch_label.text() == expected)
    assert not page.fetch_label.isHidden() and page.fetch_bar.value() == 410
    qtbot.waitUntil(lambda: expected in tray_app.tray.tray.toolTip())

    # The real cache's last event for a fetch ("finished") takes the line away on both.
    fetch(ModelCache(tmp_path / "models", ModelSettings(), publish=bus.publish), url)
    qtbot.waitUntil(lambda: page.fetch_label.isHidden() and page.fetch_bar.isHidden())
    qtbot.waitUntil(lambda: "Fetching model" not in tray_app.tray.tray.toolTip())

    progress(1_000_000)  # a fetch that fails publishes no "finished": the job's end clears the line
    qtbot.waitUntil(lambda: not page.fetch_label.isHidden())
    bus.publish("job.finished", job_id="job-1", attempt=1, status="failed", reason="resource not found")
    qtbot.waitUntil(lambda: page.fetch_label.isHidden())
