"""What a job prints cannot drive the user's terminal: `run-job` shows control characters as \\xNN."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hostapp.commands.run_job import printable

ROOT = Path(__file__).resolve().parents[2]
# Window title (OSC 0), clipboard write (OSC 52), clear screen (CSI 2J), a C1 CSI, DEL; printf octal escapes.
HOSTILE_LINE = r"printf 'title\033]0;pwned\007 clip\033]52;c;ZXZpbA==\007 clear\033[2J c1\302\233J del\177 tab\tend\n'"


def test_printable_escapes_c0_c1_and_del_but_keeps_tab_and_text() -> None:
    assert printable("a\x1b]0;t\x07b") == "a\\x1b]0;t\\x07b"
    assert printable("c1\x9bJ del\x7f") == "c1\\x9bJ del\\x7f"
    assert printable("tab\tstays, é and 日本 too") == "tab\tstays, é and 日本 too"
    assert printable("no\nnew line\r") == "no\\x0anew line\\x0d"


@pytest.mark.docker
def test_run_job_output_carries_no_control_characters(tmp_path: Path, docker_client: Any, busybox_image: str) -> None:
    job = tmp_path / "escape.json"
    op = {
        "type": "container/run",
        "id": "esc",
        "args": {"image": busybox_image, "cmd": ["sh", "-c", HOSTILE_LINE + " >&2; " + HOSTILE_LINE]},
        "results": {"line": "title.*"},
    }
    job.write_text(json.dumps({"version": "0.1", "type": "container", "ops": [op]}))
    proc = subprocess.run(
        [sys.executable, "-m", "hostapp", "run-job", "--standalone", str(job)],
        capture_output=True,
        cwd=ROOT,
        env={"HOSTAPP_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for stream in (proc.stdout, proc.stderr):
        text = stream.decode("utf-8")
        assert "[esc] title\\x1b]0;pwned\\x07 clip\\x1b]52;c;ZXZpbA==\\x07 clear\\x1b[2J" in text, text
        assert "c1\\x9bJ del\\x7f tab\tend" in text
        controls = {c for c in text if (ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F}
        assert not controls, controls
