from __future__ import annotations

import json
from pathlib import Path

import pytest

from hostapp.jobs.definition import (
    GridJob,
    JobDefinitionError,
    LiteralError,
    MachineCaps,
    RunOp,
    effective_command,
    execution_order,
    gpu_requirements,
    parse_job_definition,
    redacted_json,
    resolve_run_args,
    unsupported,
)

COMPAT_DIR = Path(__file__).resolve().parents[4] / "shared" / "compat" / "nosana-job-examples"
COMPAT = sorted(COMPAT_DIR.glob("*.json"))
CPU_RUNNABLE = {
    "count",
    "count-multiple",
    "hello-world",
    "job-definition",
    "output",
    "private-docker",
    "restart-policy",
    "result-extracting",
}


def test_all_compat_files_are_present() -> None:
    assert len(COMPAT) == 33


@pytest.mark.parametrize("path", COMPAT, ids=lambda p: p.stem)
def test_compat_file_parses_and_says_what_does_not_run_here(path: Path) -> None:
    definition = parse_job_definition(path.read_bytes())
    lines = unsupported(definition, MachineCaps(nvidia_runtime=False, runtime_detail="no nvidia runtime"))
    if path.stem in CPU_RUNNABLE:
        assert lines == []
    else:
        assert lines, f"{path.stem} should not be runnable on a CPU-only machine without tunnels"
        assert all(line.startswith("unsupported: ") for line in lines)


def test_gpu_job_is_runnable_when_the_runtime_is_there() -> None:
    definition = parse_job_definition((COMPAT_DIR / "gpu.json").read_bytes())
    assert unsupported(definition, MachineCaps(nvidia_runtime=True, runtime_detail="nvidia")) == []
    missing = unsupported(definition, MachineCaps(nvidia_runtime=False, runtime_detail="no nvidia runtime"))
    assert missing == ["unsupported: op gpu: args.gpu: cannot run GPU job: no nvidia runtime"]


def test_string_cmd_runs_through_sh() -> None:
    definition = parse_job_definition((COMPAT_DIR / "count.json").read_bytes())
    op = definition.ops[0]
    assert isinstance(op, RunOp)
    assert effective_command(op.args) == ["/bin/sh", "-c", "for i in `seq 1 10`; do echo $i; sleep 1; done"]


def test_global_defaults_are_merged_into_ops() -> None:
    definition = parse_job_definition((COMPAT_DIR / "job-definition.json").read_bytes())
    ops = [op for op in definition.ops if isinstance(op, RunOp)]
    assert ops[0].args.work_dir == "/home/podman"  # the op's own value wins
    assert ops[1].args.work_dir == "/home"
    assert all(op.args.env == {"DEBUG": "1"} for op in ops)


def test_global_image_fills_missing_images_and_missing_image_is_an_error() -> None:
    definition = parse_job_definition(
        {"global": {"image": "ubuntu"}, "ops": [{"type": "container/run", "id": "a", "args": {}}]}
    )
    assert definition.ops[0].args.image == "ubuntu"  # type: ignore[union-attr]
    with pytest.raises(JobDefinitionError) as caught:
        parse_job_definition({"ops": [{"type": "container/run", "id": "a", "args": {}}]})
    assert caught.value.errors == [("$.ops[0].args.image", "missing (and no global.image)")]


def test_errors_list_every_problem_with_its_path() -> None:
    bad = {"ops": [{"type": "container/run", "id": "a", "args": {"image": "ubuntu", "cap_add": ["ALL"], "gpu": "yes"}}]}
    with pytest.raises(JobDefinitionError) as caught:
        parse_job_definition(json.dumps(bad))
    paths = dict(caught.value.errors)
    assert "unknown field 'cap_add'" in paths["$.ops[0].args.cap_add"]
    assert "$.ops[0].args.gpu" in paths


def test_depends_on_orders_ops() -> None:
    definition = parse_job_definition(
        {
            "ops": [
                {"type": "container/run", "id": "b", "args": {"image": "ubuntu"}, "execution": {"depends_on": ["a"]}},
                {"type": "container/run", "id": "a", "args": {"image": "ubuntu"}},
            ]
        }
    )
    assert [op.id for op in execution_order(definition)] == ["a", "b"]


def test_literals_resolve_from_globals_and_earlier_results() -> None:
    definition = parse_job_definition((COMPAT_DIR / "job-literals.json").read_bytes())
    setter, selected = definition.ops
    assert isinstance(setter, RunOp) and isinstance(selected, RunOp)
    assert "%%global.variables.MODEL%%" not in " ".join(
        resolve_run_args(setter.args, definition, {}).cmd or []  # type: ignore[arg-type]
    ).replace("%%global.host%%", "")
    with pytest.raises(LiteralError):
        resolve_run_args(selected.args, definition, {})
    results = {"literal-setter": {"cmd": ["--model"], "env_json": ['{"MODEL": "m1", "HOST": "h"}'], "entrypoint": []}}
    resolved = resolve_run_args(selected.args, definition, results)
    assert resolved.cmd == ["hello", "--model", "test test"]
    assert resolved.env == {
        "Random_Var": "static_value",
        "MODEL": "m1",
        "HOST": "h",
        "ANOTHER_VAR": "another_static_value",
    }
    assert resolved.entrypoint is None  # __remove-if-empty__ with nothing left


def test_gpu_requirements() -> None:
    definition = parse_job_definition((COMPAT_DIR / "nginx-multiple-expose.json").read_bytes())
    assert gpu_requirements(definition).gpu is True
    assert gpu_requirements(definition).min_vram_mb == 44 * 1024
    assert gpu_requirements(parse_job_definition((COMPAT_DIR / "hello-world.json").read_bytes())).gpu is False


def test_registry_password_never_in_stored_json() -> None:
    definition = parse_job_definition(
        {
            "ops": [
                {
                    "type": "container/run",
                    "id": "a",
                    "args": {
                        "image": "ubuntu",
                        "authentication": {"docker": {"username": "u", "password": "hunter2-secret"}},
                    },
                }
            ]
        }
    )
    assert "hunter2-secret" not in redacted_json(definition)
    assert "hunter2-secret" not in repr(definition)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"price_per_second": 1.5},
        {"price_per_second": -1},
        {"timeout_seconds": 0},
        {"timeout_seconds": 10**9},
        {"attempt": 0},
        {"job_id": "../x"},
    ],
)
def test_grid_job_rejects_absurd_terms(kwargs: dict[str, object]) -> None:
    definition = parse_job_definition((COMPAT_DIR / "hello-world.json").read_bytes())
    terms: dict[str, object] = {"job_id": "j1", "attempt": 1, "price_per_second": 10, "timeout_seconds": 60}
    terms.update(kwargs)
    with pytest.raises(ValueError):
        GridJob(definition=definition, **terms)  # type: ignore[arg-type]
