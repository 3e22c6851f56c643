"""Only hostapp/jobs/engine.py may call docker-py's private API (`api._post`, `api._url`, ...).

docker-py's private methods change without notice between releases; keeping every use of them in one
module means one file to check on an upgrade. The names come from docker-py itself, so a new private
method is covered without editing this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import docker

import hostapp

ROOT = Path(hostapp.__file__).parent
ENGINE = ROOT / "jobs" / "engine.py"


def docker_private_names() -> frozenset[str]:
    names: set[str] = set()
    for cls in (docker.APIClient, docker.DockerClient):
        for klass in cls.__mro__:
            if klass.__module__.startswith("docker"):
                names |= {n for n in vars(klass) if n.startswith("_") and not n.startswith("__")}
    return frozenset(names)


def private_docker_uses(source: str, private: frozenset[str]) -> list[tuple[int, str]]:
    """(line, text) of each `X._name` where `_name` is docker-py private and X is not plain `self`/`cls`
    (hostapp's own private methods may share a name, e.g. `self._get`), and of each underscore name
    imported from a docker module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in private:
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "docker":
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
    return found


def test_only_the_engine_module_calls_docker_private_api() -> None:
    private = docker_private_names()
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        if path == ENGINE:
            continue
        for line, text in private_docker_uses(path.read_text(encoding="utf-8"), private):
            offenders.append(f"{path.relative_to(ROOT.parent)}:{line}: {text}")
    assert not offenders, "docker-py private API outside hostapp/jobs/engine.py:\n" + "\n".join(offenders)


def test_the_check_sees_what_it_looks_for() -> None:
    private = docker_private_names()
    assert {"_post", "_url", "_raise_for_status", "_get_raw_response_socket", "_disable_socket_timeout"} <= private
    sample = (
        "from docker.utils.socket import _something\n"
        "def f(self, api):\n"
        "    api._post(api._url('/x'))\n"
        "    self._api._result(None)\n"
        "    self._get()\n"  # hostapp's own private method: not docker-py's
    )
    found = [text for _, text in private_docker_uses(sample, private)]
    assert "from docker.utils.socket import _something" in found
    assert "api._post" in found and "api._url" in found and "self._api._result" in found
    assert "self._get" not in found
