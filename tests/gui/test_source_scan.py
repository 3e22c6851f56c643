"""hostapp/gui/source_scan.py: PySide6's check of each later import keeps no source lines in the tray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import linecache, sys
import hostapp.gui  # replaces PySide6's check, as the tray's first import does
import colorsys, hostapp.gui.tray  # imported after PySide6: both are checked by its hook
cached = [name for name in linecache.cache if name.endswith(("colorsys.py", "tray.py"))]
from shibokensupport import feature
print(cached, "colorsys" in feature.pyside_feature_dict)
"""


def test_modules_imported_after_pyside6_leave_no_source_lines_behind() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, cwd=ROOT, check=True
    )
    cached, colorsys_checked = done.stdout.split()
    assert cached == "[]", done.stdout  # PySide6's own check would have cached both files
    assert colorsys_checked == "True"  # the hook still ran, with the replacement


def test_the_replacement_answers_as_pyside6_does() -> None:
    import colorsys

    import hostapp.gui.tray
    from hostapp.gui.source_scan import mentions_pyside

    assert mentions_pyside(hostapp.gui.tray) and not mentions_pyside(colorsys) and not mentions_pyside(sys)
