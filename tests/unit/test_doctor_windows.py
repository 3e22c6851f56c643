"""`hostapp doctor` on Windows names Windows fixes (Docker Desktop + WSL 2, the NVIDIA driver).

The whole report under Wine: tests/windows/test_windows_build.py; here the mapping itself, fed by
a real failed engine connection.
"""

import pytest

from hostapp.health.doctor import Check, Status, check_docker, for_windows


def test_no_engine_on_windows_says_docker_desktop_with_wsl2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # the discard port: nothing answers
    failed, info = check_docker()
    assert failed.status is Status.FAIL and info is None
    assert "systemctl" in (failed.hint or "")
    windows = for_windows(failed)
    assert windows.status is Status.FAIL and windows.summary == failed.summary
    assert windows.hint is not None
    assert "Docker Desktop with the WSL 2 backend" in windows.hint and "systemctl" not in windows.hint


def test_missing_driver_and_keyring_hints_and_what_stays() -> None:
    gpu = for_windows(
        Check("gpu", Status.WARN, "NVML not found", hint="install the NVIDIA driver (CPU demo jobs still run)")
    )
    assert gpu.hint is not None and gpu.hint.startswith("install the NVIDIA driver for Windows")
    assert gpu.hint.endswith("(CPU demo jobs still run)")
    keyring = for_windows(Check("keyring", Status.WARN, "no secure OS keyring", hint="install/unlock GNOME Keyring"))
    assert keyring.hint is not None and "Credential Manager" in keyring.hint
    ok = Check("docker", Status.OK, "Docker engine 27")
    assert for_windows(ok) is ok
    waiting = Check("gpu_runtime", Status.WARN, "unknown", hint="fix the Docker check first")
    assert for_windows(waiting) is waiting
    grid = Check("grid", Status.FAIL, "unreachable", hint="check your network")
    assert for_windows(grid) is grid
