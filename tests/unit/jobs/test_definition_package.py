"""hostapp/jobs/definition/ is three modules behind one import path: every public name of schema,
literals and capabilities is importable as `from hostapp.jobs.definition import X`, as before the split."""

from __future__ import annotations

import ast
import inspect

import pytest

import hostapp.jobs.definition as package
from hostapp.jobs.definition import capabilities, literals, schema


def defined_names(module: object) -> list[str]:
    """Public names a module defines itself (not those it imports)."""
    names: list[str] = []
    for node in ast.parse(inspect.getsource(module)).body:  # type: ignore[arg-type]
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in names if not n.startswith("_")]


@pytest.mark.parametrize("module", [schema, literals, capabilities], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_public_name_is_re_exported(module: object) -> None:
    missing = [n for n in defined_names(module) if getattr(package, n, None) is not getattr(module, n)]
    assert not missing, f"not re-exported by hostapp.jobs.definition: {missing}"
    assert set(defined_names(module)) <= set(package.__all__)


def test_the_names_the_tree_imports_are_there() -> None:
    for name in ("GridJob", "JobDefinitionError", "MachineCaps", "parse_job_definition", "unsupported", "Resource"):
        assert hasattr(package, name)
    for name in ("LiteralError", "resolve_run_args", "needs_gpu", "gpu_requirements", "MAX_DEFINITION_BYTES"):
        assert hasattr(package, name)
