"""The official Nosana npm clients as a reference oracle, run under Node.js.

scripts/setup.sh installs the pinned packages (tests/nosana/oracle/package.json and its lock
file) into build/nosana-oracle/; if that folder is missing, this fixture runs the same `npm ci`.
Only a machine without node/npm skips, with the reason.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ORACLE_SOURCE = ROOT / "tests" / "nosana" / "oracle"
ORACLE_DIR = ROOT / "build" / "nosana-oracle"

Oracle = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _install(node: str, npm: str) -> None:
    """Mirror of the setup step: copy the manifest and lock file, `npm ci` when they changed."""
    ORACLE_DIR.mkdir(parents=True, exist_ok=True)
    stamp = ORACLE_DIR / "node_modules" / ".hostapp-installed"
    for name in ("package.json", "package-lock.json"):
        if not (ORACLE_DIR / name).exists() or (ORACLE_DIR / name).read_bytes() != (ORACLE_SOURCE / name).read_bytes():
            shutil.copyfile(ORACLE_SOURCE / name, ORACLE_DIR / name)
            stamp.unlink(missing_ok=True)
    if not stamp.exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ORACLE_DIR, check=True, timeout=600)
        stamp.touch()


if TYPE_CHECKING:
    from hostapp.chain import LocalChain


@pytest.fixture(scope="session")
def oracle() -> Oracle:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js/npm are not installed: the conformance tests run the official Nosana npm clients")
    _install(node, npm)
    shutil.copyfile(ORACLE_SOURCE / "oracle.mjs", ORACLE_DIR / "oracle.mjs")

    def ask(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = subprocess.run(
            [node, "oracle.mjs"],
            cwd=ORACLE_DIR,
            input=json.dumps(requests),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        answers: list[dict[str, Any]] = json.loads(done.stdout)
        assert len(answers) == len(requests)
        return answers

    return ask


# The supervisor's and the backend's tests: a STAND-IN for the official node image (busybox).
STAND_IN = "hostapp-test/nosana-node-stand-in:1"
SCRIPT = b"""#!/bin/sh
echo "nosana node STAND-IN (hostapp test image, not the Nosana node)"
if [ "$STANDIN_MODE" = crash ]; then echo "stand-in: failing on start"; exit 3; fi
trap 'echo "stand-in: stopping"; exit 0' TERM
echo "stand-in: in the market queue"
while true; do sleep 1; done
"""


@pytest.fixture(scope="module")
def stand_in_image(docker_client: Any, busybox_image: str) -> str:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data, mode in (
            ("Dockerfile", f'FROM {busybox_image}\nCOPY node.sh /node.sh\nCMD ["/node.sh"]\n'.encode(), 0o644),
            ("node.sh", SCRIPT, 0o755),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=STAND_IN, rm=True)
    return STAND_IN


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalChain]:
    """A real Solana runtime (LiteSVM behind JSON-RPC) for one test module's chain reads and writes."""
    from hostapp.chain import LocalChain

    with LocalChain(Path(tmp_path_factory.mktemp("chain"))) as local:
        yield local
