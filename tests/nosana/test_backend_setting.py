"""`grid.backend`: the Nosana mode is off unless chosen, and a wrong value is one clear problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hostapp.config.settings import load_settings, save_settings

pytestmark = pytest.mark.nosana


def test_the_embedded_grid_is_the_default_and_nosana_must_be_chosen(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    assert load_settings(path).settings.grid.backend == "embedded"
    path.write_text(json.dumps({"grid": {"backend": "nosana"}}), encoding="utf-8")
    loaded = load_settings(path)
    assert loaded.problem is None and loaded.settings.grid.backend == "nosana"
    save_settings(path, loaded.settings)
    assert load_settings(path).settings.grid.backend == "nosana"


def test_an_unknown_backend_names_the_field_and_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"grid": {"backend": "nosana-mainnet"}}), encoding="utf-8")
    loaded = load_settings(path)
    assert loaded.problem is not None and "grid.backend" in loaded.problem
    assert "'embedded' or 'nosana'" in loaded.problem
    assert loaded.settings.grid.backend == "embedded"
