"""The tray is a thin client of the node (docs/architecture.md): hostapp/gui imports nothing of the
node, the runner, the grid, the chain or the wallet's key handling, and a running tray process has
none of them (nor Docker, solders, httpx, fastapi, nor pydantic: ~22 MB of the tray's 80, see
hostapp/shapes.py) loaded, whichever page is open."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import run_tray_probe

ROOT = Path(__file__).resolve().parents[2]
GUI = ROOT / "hostapp" / "gui"
# What the tray may import of the core: the boundary (control), the shapes and pure helpers it shows.
ALLOWED = (
    "hostapp.gui",
    "hostapp.shapes",
    "hostapp.control",
    "hostapp.events",
    "hostapp.config",
    "hostapp.schedule",
    "hostapp.earnings",
    "hostapp.wallet.actions",
    "hostapp.wallet.signatures",
    "hostapp.wallet.base58",
    "hostapp.wallet.backends",
    "hostapp.wallet.seed",
    "hostapp.wallet.amounts",
    "hostapp.health.doctor",
    "hostapp.health.diagnostics",
    "hostapp.autostart",
    "hostapp.logs",
    "hostapp.nosana.requirements",
    "hostapp.localgrid.demo",  # the demo grid's declared price, shown before the node runs it
)
NODE_SIDE = (
    "docker",
    "solders",
    "solana",
    "httpx",
    "fastapi",
    "uvicorn",
    "asyncssh",
    "pydantic",
    "hostapp.node",
    "hostapp.jobs",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_gui_code_imports_only_the_boundary_and_shapes() -> None:
    outside = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in GUI.rglob("*.py")
        for module in imported_modules(path)
        if module.startswith("hostapp") and not module.startswith(ALLOWED)
    }
    assert not outside, sorted(outside)


def test_a_running_tray_with_every_page_built_loads_nothing_of_the_node(tmp_path: Path) -> None:
    probe = """
window = tray_app.window  # every page built, with no node answering
for title in list(window.pages):
    window.show_page(title)
app.processEvents()
print(" ".join(sorted(sys.modules)))
"""
    loaded = run_tray_probe(probe, tmp_path / "home")[-1].split()
    leaked = sorted(m for m in loaded if m.startswith(NODE_SIDE))
    assert not leaked, leaked
