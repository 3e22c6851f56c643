import subprocess
import sys

from hostapp import __version__


def test_version() -> None:
    out = subprocess.run([sys.executable, "-m", "hostapp", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"hostapp {__version__}"


def test_unknown_command_is_a_usage_error() -> None:
    out = subprocess.run([sys.executable, "-m", "hostapp", "frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_static_version_matches_the_package_metadata() -> None:
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == __version__
