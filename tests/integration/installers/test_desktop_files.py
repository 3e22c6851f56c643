"""The desktop integration files pass the freedesktop validators (desktop-file-utils, appstream, systemd)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[3]
RESOURCES = ROOT / "resources"
APP_ID = "io.hostapp.HostApp"


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: apt-get install -y {package} (scripts/setup.sh installs it)")
    return path


@pytest.mark.parametrize("name", [f"{APP_ID}.desktop", f"{APP_ID}.autostart.desktop"])
def test_desktop_entries_validate(name: str) -> None:
    result = subprocess.run(
        [tool("desktop-file-validate", "desktop-file-utils"), str(RESOURCES / name)], capture_output=True, text=True
    )
    # desktop-file-validate exits 0 on hints too; any output is a finding we want fixed.
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_metainfo_validates_and_matches_the_package() -> None:
    metainfo = RESOURCES / f"{APP_ID}.metainfo.xml"
    result = subprocess.run(
        [tool("appstreamcli", "appstream"), "validate", "--no-net", str(metainfo)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tree = ElementTree.parse(metainfo).getroot()
    assert tree.findtext("id") == APP_ID
    assert tree.findtext("launchable") == f"{APP_ID}.desktop"
    from hostapp import __version__

    releases = [r.get("version") for r in tree.iter("release")]
    assert __version__.split("+")[0] in releases, "add a <release> for the version in pyproject.toml"


def test_systemd_user_unit_verifies(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    unit = (RESOURCES / "hostapp-node.service").read_text()
    assert "ExecStart=/usr/bin/hostapp node --wait-for-wallet\n" in unit
    # The package's /usr/bin/hostapp is not installed here: point ExecStart at a real program.
    (tmp_path / "hostapp-node.service").write_text(unit.replace("/usr/bin/hostapp", "/bin/true"))
    result = subprocess.run([analyze, "verify", str(tmp_path / "hostapp-node.service")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hostapp-node.service" not in result.stderr, result.stderr


def test_every_tray_state_has_a_valid_svg() -> None:
    for state in ("working", "waiting", "paused", "offline", "error"):
        svg = ElementTree.parse(RESOURCES / "icons" / "tray" / f"{state}.svg").getroot()
        assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.get("viewBox") == "0 0 22 22", state
    app = ElementTree.parse(RESOURCES / "icons" / f"{APP_ID}.svg").getroot()
    assert app.tag == "{http://www.w3.org/2000/svg}svg"
