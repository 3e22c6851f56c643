"""hostapp/jobs/local.py: the checks and plan `hostapp run-job` gives, whichever process runs the job."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hostapp.jobs.definition import JobDefinition, MachineCaps
from hostapp.jobs.local import LocalJobRequest, local_job_id, run_local_job
from hostapp.jobs.runner import JobRunner

GPU = "GPU-00000000-test-0000-0000-000000000000"


def definition(*ops: dict[str, Any]) -> str:
    return json.dumps({"version": "0.1", "type": "container", "ops": list(ops)})


def op(op_id: str, gpu: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": "container/run", "id": op_id, "args": {"image": "ubuntu", "cmd": "true", "gpu": gpu}, **extra}


def no_runner() -> JobRunner:
    raise AssertionError("nothing may run for a check or a dry run")


def check(text: str, caps: MachineCaps | None = None, **request: Any) -> dict[str, Any]:
    return run_local_job(
        LocalJobRequest(text, **request), lambda _d: caps or MachineCaps(nvidia_runtime=True), no_runner, print
    )


def test_invalid_definition_lists_each_error_with_its_path() -> None:
    answer = check(json.dumps({"ops": [{"type": "container/run", "id": "a", "args": {"image": "x", "cap_add": []}}]}))
    assert answer["outcome"] == "invalid"
    assert answer["errors"] == [
        ["$.ops[0].args.cap_add", "unknown field 'cap_add': not part of the job format (rejected, not ignored)"]
    ]


def test_dry_run_plans_ops_in_dependency_order() -> None:
    text = definition(op("second", execution={"depends_on": ["first"]}), op("first"))
    answer = check(text, dry_run=True, network=True)
    assert answer["outcome"] == "planned"
    assert [(s["op"], s["network"]) for s in answer["plan"]] == [("first", "own bridge"), ("second", "own bridge")]
    assert answer["plan"][1]["depends_on"] == ["first"]


def test_gpu_ops_need_a_gpu_uuid_and_one_that_is_free() -> None:
    text = definition(op("cpu"), op("train", gpu=True))
    missing = check(text, dry_run=True)
    assert missing["outcome"] == "unsupported"
    assert missing["unsupported"] == [
        "unsupported: op train: args.gpu: cannot run GPU job: no --gpu UUID given (`hostapp gpu` lists them)"
    ]
    claims: list[str] = []

    def busy(uuid: str) -> str:
        claims.append(uuid)
        return f"GPU {uuid} is running grid job g-1"

    taken = run_local_job(
        LocalJobRequest(text, gpu=GPU), lambda _d: MachineCaps(nvidia_runtime=True), no_runner, print, claim_gpu=busy
    )
    assert taken["unsupported"] == [f"unsupported: op train: args.gpu: GPU {GPU} is running grid job g-1"]
    assert claims == [GPU]


def test_a_job_refused_for_other_reasons_claims_no_gpu_and_says_each_reason_once() -> None:
    text = definition(op("train", gpu=True))
    claimed: list[str] = []
    answer = run_local_job(
        LocalJobRequest(text, gpu=GPU),
        lambda _d: MachineCaps(nvidia_runtime=False, runtime_detail="no nvidia runtime"),
        no_runner,
        print,
        claim_gpu=lambda uuid: claimed.append(uuid),  # type: ignore[func-returns-value]
        engine_problem="Docker engine not reachable",
    )
    assert answer["unsupported"] == [
        "unsupported: job: Docker engine not reachable",
        "unsupported: op train: args.gpu: cannot run GPU job: no nvidia runtime",
    ]
    assert claimed == []


def test_caps_are_asked_only_of_a_valid_definition() -> None:
    asked: list[JobDefinition] = []

    def caps(d: JobDefinition) -> MachineCaps:
        asked.append(d)
        return MachineCaps()

    run_local_job(LocalJobRequest("{"), caps, no_runner, print)
    assert asked == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "'definition' must be the definition's text"),
        ({"definition": "{}", "gpu": 3}, "'name' and 'gpu' must be strings"),
        ({"definition": "{}", "timeout_seconds": 0}, "'timeout_seconds' must be an integer 1..604800"),
        ({"definition": "{}", "timeout_seconds": True}, "'timeout_seconds' must be an integer"),
        ({"definition": "{}", "network": "yes"}, "'network' and 'dry_run' must be true or false"),
    ],
)
def test_a_malformed_control_request_is_refused_with_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LocalJobRequest.from_json(fields)


def test_a_control_request_reads_every_field_and_job_ids_are_plain() -> None:
    wire = {"definition": "{}", "name": "x", "gpu": GPU, "network": True, "timeout_seconds": 60, "dry_run": True}
    assert LocalJobRequest.from_json(wire) == LocalJobRequest("{}", "x", GPU, True, 60, True)
    assert LocalJobRequest.from_json({"definition": "{}"}) == LocalJobRequest("{}")  # the defaults
    job_id = local_job_id("my job/../x")
    assert job_id[: -len("abcd1234")] == "local-my-job-..-x-" and "/" not in job_id
    assert local_job_id("///").startswith("local-job-")
