"""`hostapp doctor` against the real engine and the real Secret Service of the test setup."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.keyring]


def _doctor(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hostapp", "doctor", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_doctor_json_on_this_machine(hostapp_home: Path, docker_client: object) -> None:
    result = _doctor(dict(os.environ), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    checks = {c["id"]: c for c in doc["checks"]}
    assert doc["format"] == 1 and doc["ok"] is True
    assert set(checks) == {"docker", "gpu", "gpu_runtime", "keyring", "disk", "grid", "node"}
    assert checks["docker"]["status"] == "OK"
    assert checks["docker"]["details"]["storage_driver"]
    # No GPU on this machine: a warning that says so, not a crash.
    assert checks["gpu"]["status"] == "WARN"
    assert "no NVIDIA driver found" in checks["gpu"]["summary"]
    assert checks["keyring"]["status"] == "OK", checks["keyring"]
    assert checks["keyring"]["details"]["backend"] == "keyring.backends.SecretService.Keyring"
    assert "Traceback" not in result.stderr


def test_doctor_with_dead_docker_socket_fails_with_a_hint(hostapp_home: Path, dead_docker_host: str) -> None:
    env = dict(os.environ)
    result = _doctor(env)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    docker_line = next(line for line in lines if " docker " in line)
    assert docker_line.startswith("FAIL")
    fix = lines[lines.index(docker_line) + 1]
    assert "fix:" in fix and "dockerd" in fix
    as_json = json.loads(_doctor(env, "--json").stdout)
    assert as_json["ok"] is False
    assert next(c for c in as_json["checks"] if c["id"] == "docker")["status"] == "FAIL"


def test_keyring_check_sees_a_locked_collection(hostapp_home: Path) -> None:
    """Lock the real collection over D-Bus: doctor must say it is locked, then unlock for the rest."""
    secretstorage = pytest.importorskip("secretstorage")
    from hostapp.health.doctor import Status, check_keyring

    with secretstorage.dbus_init() as conn:
        collection = secretstorage.get_default_collection(conn)
        collection.lock()
        try:
            check = check_keyring()
        finally:
            # gnome-keyring unlocks only with a prompt; the test session re-unlocks via the daemon.
            subprocess.run(
                [
                    "bash",
                    "-c",
                    'printf %s "$HOSTAPP_KEYRING_PASSWORD" | '
                    "gnome-keyring-daemon --unlock --replace --components=secrets",
                ],
                check=False,
                capture_output=True,
                timeout=20,
            )
    assert check.status is Status.WARN
    assert "locked" in check.summary
