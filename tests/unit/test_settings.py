import json
import stat
from pathlib import Path

from hostapp.config.settings import Settings, load_settings, save_settings


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path / "settings.json")
    assert loaded.problem is None
    assert loaded.settings.grid.url is None
    assert loaded.settings.jobs.pids == 512


def test_round_trip_is_private_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "settings.json"
    settings = Settings()
    settings.grid.url = "https://grid.example"
    settings.electricity_milli_per_kwh = 320
    save_settings(path, settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temp file left behind
    assert load_settings(path).settings == settings


def test_corrupt_json_is_kept_aside_and_defaults_used(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"grid": {"url": ', encoding="utf-8")
    loaded = load_settings(path)
    assert loaded.settings == Settings()
    assert loaded.problem is not None and "broken" in loaded.problem and "settings.json.bak" in loaded.problem
    assert (tmp_path / "settings.json.bak").read_text() == '{"grid": {"url": '
    assert not path.exists()


def test_invalid_value_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"jobs": {"pids": -3}}), encoding="utf-8")
    loaded = load_settings(path)
    assert loaded.problem is not None and "jobs.pids" in loaded.problem
    assert loaded.settings.jobs.pids == 512


def test_unknown_field_is_an_error_not_ignored(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"grdi": {}}), encoding="utf-8")
    loaded = load_settings(path)
    assert loaded.problem is not None and "grdi" in loaded.problem


def test_binary_garbage_does_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert load_settings(path).problem is not None


def test_runtime_dir_is_private_even_when_xdg_runtime_dir_is_not(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os
    import warnings

    from hostapp.config.paths import default_paths

    shared = tmp_path / "shared-run"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    monkeypatch.delenv("HOSTAPP_HOME", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # platformdirs' RuntimeDirWarning would fail here
        runtime = default_paths().runtime
    assert not str(runtime).startswith(str(shared))
    private = tmp_path / "private-run"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(private))
    assert str(default_paths().runtime).startswith(str(private))
