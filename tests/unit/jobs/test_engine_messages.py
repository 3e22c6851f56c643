"""What a user reads when the engine is not there: Windows users are told about Docker Desktop, not
systemd, and pywin32's raw pipe error becomes words."""

from __future__ import annotations

import pytest

from hostapp.jobs import engine


def test_a_missing_docker_desktop_pipe_is_said_in_words() -> None:
    raw = Exception("Error while fetching server API version: (2, 'CreateFile', 'File not found.')")
    assert engine._short(raw) == "Docker Desktop's engine pipe is not there: Docker Desktop is not running"
    assert engine._short(Exception("Connection refused")) == "Connection refused"


@pytest.mark.parametrize(
    ("platform", "says", "never"), [("win32", "Docker Desktop", "systemctl"), ("linux", "systemctl", "Docker Desktop")]
)
def test_the_start_hint_is_for_the_platform(platform: str, says: str, never: str) -> None:
    hint = engine.start_hint(platform)
    assert says in hint and never not in hint
