"""The extra tier: Nosana's published job examples, when a copy of them is at hand.

The corpus lives outside this repository (HOSTAPP_COMPAT_DIR; by default the folder
shared/compat/nosana-job-examples beside the repository, where CI lays it). Without it every test here is
skipped with the reason; the project's own job files (tests/fixtures/jobs) cover each feature in
any case. With it: every file parses, what does not run here says so in `unsupported:` lines, and
the files a CPU-only machine can run run for real in Docker.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from hostapp.jobs.definition import GridJob, MachineCaps, parse_job_definition, unsupported

ROOT = Path(__file__).resolve().parents[2]
COMPAT_DIR = Path(os.environ.get("HOSTAPP_COMPAT_DIR") or ROOT.parent / "shared" / "compat" / "nosana-job-examples")
CORPUS = sorted(COMPAT_DIR.glob("*.json")) if COMPAT_DIR.is_dir() else []
# The examples a CPU-only machine runs (Nosana's file names): services that expose a port included,
# served through the grid's tunnel (docs/services.md); their images need a registry to pull from.
SERVICES = {"nginx", "nginx-multi-ops", "ollama", "open-ai-chat-ui", "test-node-server"}
CPU_RUNNABLE = SERVICES | {
    "count",
    "count-multiple",
    "hello-world",
    "job-definition",
    "output",
    "private-docker",
    "restart-policy",
    "result-extracting",
    "volume-demo-test",  # its S3 resource is fetched into the model cache (hostapp/resources/)
}

pytestmark = [
    pytest.mark.compat,
    pytest.mark.skipif(
        not CORPUS,
        reason=f"no Nosana job corpus at {COMPAT_DIR} (optional tier: set HOSTAPP_COMPAT_DIR to a copy of it)",
    ),
]


def example(name: str) -> bytes:
    return (COMPAT_DIR / f"{name}.json").read_bytes()


def grid_job(raw: bytes, timeout: int = 120) -> GridJob:
    return GridJob(f"compat-{secrets.token_hex(5)}", 1, 7, timeout, parse_job_definition(raw))


@pytest.mark.parametrize("path", CORPUS or [COMPAT_DIR / "absent.json"], ids=lambda p: p.stem)
def test_example_parses_and_says_what_does_not_run_here(path: Path) -> None:
    definition = parse_job_definition(path.read_bytes())
    lines = unsupported(definition, MachineCaps(nvidia_runtime=False, runtime_detail="no nvidia runtime"))
    if path.stem in CPU_RUNNABLE:
        assert lines == []
    else:
        assert lines, f"{path.stem} should not be runnable on a CPU-only machine"
        assert all(line.startswith("unsupported: ") for line in lines)


def test_the_runnable_examples_are_all_there() -> None:
    assert CPU_RUNNABLE <= {p.stem for p in CORPUS}


@pytest.mark.docker
def test_hello_world_and_output(make_runner) -> None:  # type: ignore[no-untyped-def]
    runner, _ = make_runner()
    hello = runner.run(grid_job(example("hello-world")))
    assert hello.status == "succeeded", hello.reason
    assert hello.ops[0].log_tail == "hello world"
    output = runner.run(grid_job(example("output")))
    assert output.status == "succeeded", output.reason
    assert output.ops[0].output_files == ["file.txt"]
    assert runner.run(grid_job(example("private-docker"))).status == "succeeded"


@pytest.mark.docker
def test_result_extracting(make_runner) -> None:  # type: ignore[no-untyped-def]
    runner, _ = make_runner()
    result = runner.run(grid_job(example("result-extracting")))
    assert result.status == "succeeded", result.reason
    results = result.ops[0].results
    assert results is not None
    assert results["detected-gpu-stderr"] == ["Device 0: NVIDIA GeForce RTX 3070, compute capability 8.6, VMM: yes"]
    assert sorted(results["detected-gpu-all-std"]) == [  # type: ignore[type-var]
        "Device 0: NVIDIA GeForce RTX 3070, compute capability 8.6, VMM: yes",
        "Device 1: NVIDIA GeForce RTX 3080, compute capability 8.6, VMM: yes",
    ]
    assert results["empty-result"] == []
    assert str(results["throw-error"]).startswith("SyntaxError")


@pytest.mark.docker
def test_job_definition_with_volume_and_globals(make_runner, docker_client) -> None:  # type: ignore[no-untyped-def]
    runner, _ = make_runner()
    job = grid_job(example("job-definition"))
    result = runner.run(job)
    assert result.status == "succeeded", result.reason
    assert [op.status for op in result.ops] == ["succeeded"] * 3
    assert "/home" in result.ops[2].log_tail  # global work_dir applied to the op without its own
    assert not docker_client.volumes.list(filters={"label": f"hostapp.job_id={job.job_id}"})


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("name", ["count", "count-multiple"])
def test_counting_examples(make_runner, name: str) -> None:  # type: ignore[no-untyped-def]
    runner, _ = make_runner()
    result = runner.run(grid_job(example(name)))
    assert result.status == "succeeded", result.reason
    assert all(op.log_tail.split() == [str(i) for i in range(1, 11)] for op in result.ops)


@pytest.mark.docker
@pytest.mark.slow
def test_restart_policy_example(make_runner) -> None:  # type: ignore[no-untyped-def]
    runner, _ = make_runner()
    result = runner.run(grid_job(example("restart-policy")))
    assert result.status == "failed"
    assert result.ops[0].restarts == 3
    assert result.ops[0].log_tail.count("Natural exit") == 4
