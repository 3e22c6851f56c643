"""Every hostile definition is rejected with a reason, before anything touches the engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hostapp.jobs.definition import MAX_DEFINITION_BYTES, JobDefinitionError, parse_job_definition

HOSTILE_DIR = Path(__file__).parent / "hostile"
HOSTILE = sorted(HOSTILE_DIR.glob("*.json"))
ROOT = Path(__file__).resolve().parents[2]


def test_the_corpus_is_there() -> None:
    assert len(HOSTILE) >= 40


@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p.stem)
def test_hostile_definition_is_rejected_with_a_path_and_reason(path: Path) -> None:
    with pytest.raises(JobDefinitionError) as caught:
        parse_job_definition(path.read_bytes())
    assert caught.value.errors
    for json_path, reason in caught.value.errors:
        assert json_path.startswith("$")
        assert reason.strip()
    # one line per error, each naming its path
    assert len(str(caught.value).splitlines()) == len(caught.value.errors)


@pytest.mark.parametrize(
    ("name", "expected_path"),
    [
        ("privileged", "$.ops[0].args.privileged"),
        ("cap-add", "$.ops[0].args.cap_add"),
        ("devices", "$.ops[0].args.devices"),
        ("network-host", "$.ops[0].args.network_mode"),
        ("bind-docker-sock", "$.ops[0].args.volumes[0].name"),
        ("volume-not-created", "$.ops[0].args.volumes[0].name"),
        ("security-opt-seccomp", "$.ops[0].args.security_opt"),
        ("op-level-privileged", "$.ops[0].privileged"),
        ("global-privileged", "$.global.privileged"),
        ("output-traversal", "$.ops[0].args.output"),
        ("unicode-rtl-id", "$.ops[0].id"),
        ("too-many-ops", "$.ops"),
        ("resource-file-traversal", "$.ops[0].args.resources[0].files"),
        ("resource-target-sys", "$.ops[0].args.resources[0].target"),
    ],
)
def test_rejection_names_the_offending_field(name: str, expected_path: str) -> None:
    with pytest.raises(JobDefinitionError) as caught:
        parse_job_definition((HOSTILE_DIR / f"{name}.json").read_bytes())
    assert expected_path in [p for p, _ in caught.value.errors], caught.value.errors


def test_ten_thousand_ops_rejected_quickly() -> None:
    ops = [{"type": "container/run", "id": f"o{i}", "args": {"image": "busybox"}} for i in range(10_000)]
    with pytest.raises(JobDefinitionError, match="at most 64"):
        parse_job_definition(json.dumps({"ops": ops}))


def test_multi_megabyte_definition_rejected() -> None:
    blob = json.dumps({"ops": [], "meta": {"pad": "x" * (MAX_DEFINITION_BYTES + 1)}})
    with pytest.raises(JobDefinitionError, match="bytes; the limit is"):
        parse_job_definition(blob.encode())


def test_very_deep_json_rejected_without_crashing() -> None:
    with pytest.raises(JobDefinitionError, match="nested deeper"):
        parse_job_definition("[" * 200_000 + "]" * 200_000)


@pytest.mark.docker
def test_cli_rejects_hostile_file_and_starts_nothing(docker_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [sys.executable, "-m", "hostapp", "run-job", str(HOSTILE_DIR / "privileged.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"HOSTAPP_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "$.ops[0].args.privileged: unknown field 'privileged'" in proc.stderr
    assert "Traceback" not in proc.stderr
    # Other tests share the engine: look for a container of this job id, which the CLI would name.
    ours = docker_client.containers.list(all=True, filters={"label": "hostapp.job_id"})
    assert not [c for c in ours if c.labels["hostapp.job_id"].startswith("local-privileged-")]
