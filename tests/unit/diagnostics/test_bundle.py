"""The diagnostics bundle: logs, doctor and settings, every file redacted, written atomically."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from solders.keypair import Keypair

from hostapp.config.paths import AppPaths
from hostapp.config.settings import Settings, save_settings
from hostapp.health.diagnostics import export_bundle
from hostapp.health.doctor import run_checks
from hostapp.logs import REDACTED, redactor


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    root = tmp_path / "home"
    return AppPaths(root / "config", root / "data", root / "cache", root / "logs", root / "run").ensure()


def test_bundle_holds_logs_doctor_and_settings_with_every_secret_redacted(paths: AppPaths, tmp_path: Path) -> None:
    keypair = Keypair()
    secret_b58 = str(keypair)  # the 64-byte secret in base58: secret-shaped whatever registered it
    keygen = "[" + ",".join(str(b) for b in bytes(keypair)) + "]"
    registered = "correct horse battery staple"
    redactor.register(registered)
    (paths.logs / "hostapp.log").write_text(f"ok line\nleaked {secret_b58}\npass {registered}\n", encoding="utf-8")
    (paths.logs / "old").mkdir()
    (paths.logs / "old" / "hostapp.log.1").write_bytes(f"keygen {keygen}\n".encode() + b"\xff bad utf-8\n")
    save_settings(paths.settings_file, Settings(payout_address="9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"))

    out = tmp_path / "exports" / "bundle.zip"
    bundle = export_bundle(
        paths, out, lambda: {**run_checks(paths, Settings(), only=lambda c: c == "disk").to_json(), "note": registered}
    )

    assert out.is_file() and not list(out.parent.glob(".*partial"))
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        texts = {name: archive.read(name).decode() for name in names}
    assert names == {"logs/hostapp.log", "logs/old/hostapp.log.1", "doctor.json", "settings.json", "manifest.json"}
    assert set(bundle.files) == names
    everything = "\n".join(texts.values())
    for secret in (secret_b58, keygen, registered):
        assert secret not in everything
    assert f"leaked {REDACTED}" in texts["logs/hostapp.log"] and "ok line" in texts["logs/hostapp.log"]
    assert "\ufffd bad utf-8" in texts["logs/old/hostapp.log.1"]  # unreadable bytes never stop the export
    doctor = json.loads(texts["doctor.json"])
    assert [c["id"] for c in doctor["checks"]] == ["disk"] and doctor["note"] == REDACTED
    assert "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM" in texts["settings.json"]  # an address is not a secret
    assert json.loads(texts["manifest.json"])["redacted"] is True


def test_a_failing_doctor_is_recorded_and_a_bad_destination_is_one_clear_error(paths: AppPaths, tmp_path: Path) -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("docker socket vanished")

    out = tmp_path / "b.zip"
    export_bundle(paths, out, broken)
    with zipfile.ZipFile(out) as archive:
        assert "docker socket vanished" in json.loads(archive.read("doctor.json"))["error"]

    with pytest.raises(OSError, match="is a folder"):
        export_bundle(paths, tmp_path, broken)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        export_bundle(paths, blocker / "sub" / "b.zip", broken)  # a file where a folder should be
