"""`hostapp devgrid serve | submit | jobs` end to end: a real server process, real HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostapp.cli import run

from .conftest import HELLO

SERVE = [sys.executable, "-m", "hostapp", "devgrid", "serve", "--port", "0", "--no-chain", "--no-demo"]


@pytest.fixture
def served(tmp_path: Path, hostapp_home: Path) -> Iterator[str]:
    process = subprocess.Popen(
        [*SERVE, "--state-dir", str(tmp_path / "devgrid")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("grid:"), first + (process.stderr.read() if process.stderr else "")
    yield first.split()[1]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    process.stdout.close()  # else a ResourceWarning lands in whichever test's teardown the GC runs
    if process.stderr is not None:
        process.stderr.close()


def test_submit_then_list(served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job_file = tmp_path / "hello.json"
    job_file.write_text(json.dumps(HELLO))
    assert run(["devgrid", "submit", str(job_file), "--price", "3", "--timeout", "60", "--url", served]) == 0
    job_id = capsys.readouterr().out.strip()
    assert job_id.startswith("job-")
    assert run(["devgrid", "jobs", "--url", served]) == 0
    listing = capsys.readouterr().out
    assert job_id in listing and "queued" in listing
    assert run(["devgrid", "jobs", "--url", served, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["price_per_second"] == 3


def test_invalid_definition_is_one_clear_error(served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job_file = tmp_path / "bad.json"
    job_file.write_text(json.dumps({"type": "container", "ops": [{"type": "container/run", "id": "x", "args": {}}]}))
    assert run(["devgrid", "submit", str(job_file), "--url", served]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hostapp: error: job definition is invalid at $.ops[0]") and "Traceback" not in err


@pytest.mark.parametrize(("content", "needle"), [("{not json", "is not JSON"), ("[1, 2]", "must hold a JSON object")])
def test_unreadable_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str
) -> None:
    job_file = tmp_path / "job.json"
    job_file.write_text(content)
    assert run(["devgrid", "submit", str(job_file), "--url", "http://127.0.0.1:9"]) == 2
    assert needle in capsys.readouterr().err


def test_no_grid_running_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["devgrid", "jobs", "--url", "http://127.0.0.1:9"]) == 1
    assert "start one with `hostapp devgrid serve`" in capsys.readouterr().err
