"""Recorded NVML profiles (tests/fixtures/nvml) replayed through FakeNvml: NVML is the one part faked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from hostapp.gpu.fake_nvml import FakeNvml

PROFILES = Path(__file__).resolve().parents[2] / "fixtures" / "nvml"


@pytest.fixture
def fake_nvml() -> Callable[[str], FakeNvml]:
    """A fresh fake per call, so a test may change its profile (processes, errors) freely."""

    def load(name: str) -> FakeNvml:
        return FakeNvml(json.loads((PROFILES / f"{name}.json").read_text()))

    return load
