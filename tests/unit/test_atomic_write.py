"""write_private where os.fchmod is missing (Windows, Python < 3.13): it still writes, atomically."""

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from hostapp.config.atomic import write_private


def test_owner_only_atomic_write(tmp_path: Path) -> None:
    target = tmp_path / "config" / "settings.json"
    write_private(target, b"{}")
    write_private(target, b'{"a": 1}')
    assert target.read_bytes() == b'{"a": 1}'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["settings.json"], "no temp file left behind"


def test_without_fchmod_the_write_still_happens(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        del os.fchmod  # as in CPython 3.11 on Windows
        from hostapp.config.atomic import write_private
        target = Path(sys.argv[1])
        write_private(target, b"saved")
        print(target.read_bytes().decode(), sorted(p.name for p in target.parent.iterdir()))
        """
    )
    target = tmp_path / "schedule.json"
    result = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "saved ['schedule.json']"
    assert os.path.getsize(target) == 5
