"""`skip_unused_imports` (hostapp/node/daemon.py): what `hostapp node` keeps out of its memory, checked in
a fresh interpreter (a real `import httpx`, nothing imported before it). The working node itself is
checked in tests/integration/node/test_node_imports.py."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

HTTPX_CLI_ONLY = ("click", "rich", "pygments")

IMPORT_HTTPX = textwrap.dedent(
    """
    import json, sys
    if sys.argv[1] == "skip":
        from hostapp.node.daemon import skip_unused_imports
        marked = skip_unused_imports()
    else:
        marked = []
    import httpx
    with httpx.Client() as client:  # the client the node uses still builds
        pass
    loaded = sorted({name.split(".")[0] for name, module in list(sys.modules.items()) if module is not None})
    print(json.dumps({"marked": marked, "loaded": loaded, "again": skip_unused_imports() if marked else None}))
    """
)


def imported_with(mode: str) -> dict[str, list[str]]:
    ran = subprocess.run([sys.executable, "-c", IMPORT_HTTPX, mode], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr[-3000:]
    return dict(json.loads(ran.stdout))


def test_httpx_without_its_command_line() -> None:
    missing = [name for name in HTTPX_CLI_ONLY if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed here: `import httpx` cannot load its command line anyway")
    plain = imported_with("plain")
    assert set(HTTPX_CLI_ONLY) <= set(plain["loaded"])  # what the node paid before
    skipped = imported_with("skip")
    assert skipped["marked"] == ["httpx._main"]
    assert "httpx" in skipped["loaded"]
    assert set(skipped["loaded"]).isdisjoint(HTTPX_CLI_ONLY)
    assert skipped["again"] == []  # a second call marks nothing more
