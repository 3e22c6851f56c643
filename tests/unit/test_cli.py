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


def test_a_reader_that_leaves_early_ends_the_command_quietly(tmp_path: object) -> None:
    """`hostapp gpu | head -1`: no traceback, the exit status a shell gives a broken pipe."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hostapp", "gpu"],  # prints lines with no GPU too
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOSTAPP_HOME": str(tmp_path)},
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141
