"""The seed-phrase and confirm pages fit the wizard's default window: every word and input box
is fully visible and at least 80 px wide, at 1× and at 1.5× scaling. Each scaling runs the real
wizard (real keyring) in its own process: Qt reads the scaling once, at QApplication start.

QT_SCALE_FACTOR=1.5 is a HiDPI screen (device pixels × 1.5); QT_FONT_DPI=144 is 1.5× text on the
same window size (GNOME "Large text", Xft.dpi=144), the case that overflows a layout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.keyring]

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("scaling", [{}, {"QT_SCALE_FACTOR": "1.5"}, {"QT_FONT_DPI": "144"}], ids=str)
def test_seed_phrase_and_confirm_pages_fit_the_default_window(scaling: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_") or k == "QT_QPA_PLATFORM"}
    env.update(scaling, HOSTAPP_HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    done = subprocess.run(
        [sys.executable, "-m", "tests.gui.wizard_geometry_probe"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    from hostapp.gui.wizard import DEFAULT_SIZE

    assert result["size"] == list(DEFAULT_SIZE)  # measured at the size the wizard opens with
    if scaling:
        assert result["ratio"] == 1.5
    words = result["words"]
    assert [w.split(". ")[0] for w in words] == [str(n) for n in range(1, 13)]  # numbered, in order
    assert result["inputs"] == 3  # the three words asked back; the import box is on another page
    assert result["problems"] == []
