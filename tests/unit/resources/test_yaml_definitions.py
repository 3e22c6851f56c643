"""YAML job definitions: the same plan as their JSON, the same errors and paths, bombs and tags refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hostapp.jobs.definition import JobDefinitionError, parse_job_definition
from hostapp.jobs.limits import MAX_DEFINITION_BYTES
from hostapp.jobs.local import plan
from hostapp.jobs.yaml_text import MAX_EXPANDED_NODES, YamlDefinitionError, load_yaml_definition
from tests.support import JOBS_DIR

ROOT = Path(__file__).resolve().parents[3]
JOBS = sorted(JOBS_DIR.glob("*.json"))


@pytest.mark.parametrize("path", JOBS, ids=lambda p: p.stem)
def test_every_project_job_file_as_yaml_gives_the_same_definition_and_plan(path: Path) -> None:
    data = json.loads(path.read_text())
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    assert text.lstrip()[0] != "{"  # block style, as people write YAML
    from_json = parse_job_definition(path.read_bytes())
    from_yaml = parse_job_definition(load_yaml_definition(text.encode()))
    assert from_yaml == from_json
    assert plan(from_yaml, network=False) == plan(from_json, network=False)


def test_errors_carry_the_same_json_paths() -> None:
    text = """
ops:
  - type: container/run
    id: run
    args:
      image: busybox
      privileged: true
      env:
        DEBUG: yes
"""
    with pytest.raises(JobDefinitionError) as from_yaml:
        parse_job_definition(load_yaml_definition(text))
    paths = {path for path, _ in from_yaml.value.errors}
    assert paths == {"$.ops[0].args.privileged", "$.ops[0].args.env.DEBUG"}  # `yes` is YAML 1.1's true


def test_dates_stay_strings_as_in_json() -> None:
    data = load_yaml_definition("meta:\n  trigger: 2024-01-31\nops: []\n")
    assert data["meta"]["trigger"] == "2024-01-31"


BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    + [f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (BOMB, f"expand to more than {MAX_EXPANDED_NODES} values"),
        ("a: &a [*a]", "refers to itself"),
        (
            "ops: !!python/object/apply:os.system ['touch /tmp/pwned']",
            "tag:yaml.org,2002:python/object/apply:os.system is not allowed",
        ),
        ("ops: !!binary aGVsbG8=", "is not allowed"),
        ("ops: !!set {a, b}", "is not allowed"),
        ("ops: !custom x", "is not allowed"),
        ("ops: [\n", "not valid YAML"),
        ("1: x\nops: []", "the key 1 is not a string"),
        ("a:\n" + "".join(f"{' ' * (2 * i)}- \n" for i in range(1, 60)), "nested deeper"),
    ],
    ids=["alias-bomb", "recursive-alias", "python-tag", "binary", "set", "custom-tag", "broken", "int-key", "deep"],
)
def test_hostile_yaml_is_refused_with_one_line(text: str, reason: str) -> None:
    with pytest.raises(YamlDefinitionError) as caught:
        load_yaml_definition(text)
    assert reason in caught.value.reason
    assert "\n" not in str(caught.value)


def test_size_limit_before_parsing() -> None:
    with pytest.raises(YamlDefinitionError, match="bytes; the limit is"):
        load_yaml_definition(b"x: " + b"y" * MAX_DEFINITION_BYTES)
    with pytest.raises(YamlDefinitionError, match="not UTF-8"):
        load_yaml_definition(b"x: \xff\xfe")


def test_cli_dry_run_of_a_yaml_file(tmp_path: Path) -> None:
    data = json.loads((JOBS_DIR / "model-resources.json").read_text())
    job = tmp_path / "model-resources.yml"
    job.write_text(yaml.safe_dump(data))
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    env = {"HOSTAPP_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(
        [sys.executable, "-m", "hostapp", "run-job", "--dry-run", "--standalone", str(job)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "plan:   resource HF example/tiny -> /models/tiny (all files; read-only)" in ok.stdout
    assert "plan:   resource S3 s3://bucket/model -> /models/s3 (all files; read-only)" in ok.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "hostapp", "run-job", "--dry-run", "--standalone", str(bomb)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "invalid: $: YAML aliases expand to more than" in refused.stderr
