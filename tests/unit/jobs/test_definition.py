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
from tests.support import JOBS_DIR, job_file

JOBS = sorted(JOBS_DIR.glob("*.json"))
# What a CPU-only machine without tunnels runs; each other file names what it lacks.
CPU_RUNNABLE = {
    "count",
    "count-two-ops",
    "depends-on",
    "entrypoint-env-workdir",
    "globals-and-volume",
    "hello-world",
    "literals",
    "model-resources",  # S3 and HF resources are fetched into the model cache (hostapp/resources/)
    "output",
    "private-registry",
    "restart-policy",
    "results",
}
NOT_HERE = {
    "confidential": ["job: logistics", "job: ops"],
    "expose-service": ["op web: args.gpu"],  # exposed ports are served (hostapp/services/)
    "gpu": ["op gpu: args.gpu"],
}


def test_the_project_job_files_cover_every_feature() -> None:
    assert {p.stem for p in JOBS} == CPU_RUNNABLE | set(NOT_HERE)
    raw = [json.loads(p.read_text()) for p in JOBS]
    ops = [op for job in raw for op in job["ops"]]
    args = {key for op in ops for key in op.get("args", {})}
    assert {
        "cmd",
        "entrypoint",
        "env",
        "work_dir",
        "output",
        "volumes",
        "gpu",
        "required_vram",
        "restart_policy",
        "authentication",
        "expose",
        "resources",
    } <= args
    assert {"container/run", "container/create-volume"} <= {op["type"] for op in ops}
    assert {str, list} <= {type(op["args"]["cmd"]) for op in ops if "cmd" in op.get("args", {})}
    filters = [spec for op in ops for spec in (op.get("results") or {}).values()]
    assert {str, dict} <= {type(spec) for spec in filters}
    assert any(op.get("execution", {}).get("depends_on") for op in ops)
    assert {"global", "meta", "logistics"} <= {key for job in raw for key in job}
    text = " ".join(p.read_text() for p in JOBS)
    for literal in ("%%global.variables.", "%%global.host%%", "%%ops.", "__spread__", "__remove-if-empty__"):
        assert literal in text, literal


@pytest.mark.parametrize("path", JOBS, ids=lambda p: p.stem)
def test_job_file_parses_and_says_what_does_not_run_here(path: Path) -> None:
    definition = parse_job_definition(path.read_bytes())
    lines = unsupported(definition, MachineCaps(nvidia_runtime=False, runtime_detail="no nvidia runtime"))
    if path.stem in CPU_RUNNABLE:
        assert lines == []
    else:
        expected = NOT_HERE[path.stem]
        assert len(lines) == len(expected), lines
        for line, names in zip(lines, expected, strict=True):
            assert line.startswith(f"unsupported: {names}"), line


def test_gpu_job_is_runnable_when_the_runtime_is_there() -> None:
    definition = parse_job_definition(job_file("gpu").read_bytes())
    assert unsupported(definition, MachineCaps(nvidia_runtime=True, runtime_detail="nvidia")) == []
    missing = unsupported(definition, MachineCaps(nvidia_runtime=False, runtime_detail="no nvidia runtime"))
    assert missing == ["unsupported: op gpu: args.gpu: cannot run GPU job: no nvidia runtime"]


def test_string_cmd_runs_through_sh() -> None:
    definition = parse_job_definition(job_file("count").read_bytes())
    op = definition.ops[0]
    assert isinstance(op, RunOp)
    assert effective_command(op.args) == ["/bin/sh", "-c", "for i in 1 2 3 4 5; do echo $i; sleep 0.2; done"]
    listed = parse_job_definition(job_file("hello-world").read_bytes()).ops[0]
    assert isinstance(listed, RunOp) and effective_command(listed.args) == ["echo", "hello", "world"]


def test_global_defaults_are_merged_into_ops() -> None:
    definition = parse_job_definition(job_file("globals-and-volume").read_bytes())
    ops = [op for op in definition.ops if isinstance(op, RunOp)]
    assert ops[0].args.work_dir == "/tmp"  # the op's own value wins
    assert ops[1].args.work_dir == "/srv"
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
    definition = parse_job_definition(job_file("literals").read_bytes())
    setter, selected = definition.ops
    assert isinstance(setter, RunOp) and isinstance(selected, RunOp)
    setter_cmd = " ".join(resolve_run_args(setter.args, definition, {}).cmd or [])
    assert "arg: tiny-model" in setter_cmd and "host: localhost" in setter_cmd and "%%" not in setter_cmd
    with pytest.raises(LiteralError):
        resolve_run_args(selected.args, definition, {})
    env_json = '{"MODEL": "m1", "N": 2}'
    results = {"setter": {"arg": ["--model", "m1"], "host": ["localhost"], "env_json": [env_json], "entrypoint": []}}
    resolved = resolve_run_args(selected.args, definition, results)
    assert resolved.cmd == [
        "/bin/sh",
        "-c",
        'echo "model=$MODEL threads=$THREADS fixed=$FIXED args=$0 $1"',
        "--model",  # a result's first match
        "localhost",
    ]
    assert resolved.env == {"FIXED": "yes", "MODEL": "m1", "N": "2"}
    assert resolved.entrypoint is None  # __remove-if-empty__ with nothing left


def test_gpu_requirements() -> None:
    definition = parse_job_definition(job_file("expose-service").read_bytes())
    assert gpu_requirements(definition).gpu is True
    assert gpu_requirements(definition).min_vram_mb == 44 * 1024
    # meta.system_requirements raises the op's own required_vram; the lowest CUDA listed is the minimum
    gpu = gpu_requirements(parse_job_definition(job_file("gpu").read_bytes()))
    assert (gpu.gpu, gpu.min_vram_mb, gpu.min_cuda) == (True, 16 * 1024, (11, 8))
    assert gpu_requirements(parse_job_definition(job_file("hello-world").read_bytes())).gpu is False


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
    definition = parse_job_definition(job_file("hello-world").read_bytes())
    terms: dict[str, object] = {"job_id": "j1", "attempt": 1, "price_per_second": 10, "timeout_seconds": 60}
    terms.update(kwargs)
    with pytest.raises(ValueError):
        GridJob(definition=definition, **terms)  # type: ignore[arg-type]
