"""`hostapp devgrid submit job.yaml`: the same submission as the JSON file; hostile YAML never leaves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hostapp.cli import run
from tests.integration.grid.conftest import HELLO
from tests.integration.grid.test_devgrid_cli import served  # noqa: F401  (the fixture: a real devgrid process)


def test_a_yaml_file_is_submitted_as_its_json(served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    job_file = tmp_path / "hello.yml"
    job_file.write_text(yaml.safe_dump(HELLO))
    assert run(["devgrid", "submit", str(job_file), "--price", "3", "--url", served]) == 0
    job_id = capsys.readouterr().out.strip()
    assert run(["devgrid", "jobs", "--url", served, "--json"]) == 0
    (listed,) = [job for job in json.loads(capsys.readouterr().out) if job["job_id"] == job_id]
    assert listed["price_per_second"] == 3


def test_hostile_yaml_is_refused_before_any_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job_file = tmp_path / "job.yaml"
    job_file.write_text("ops: !!python/object/apply:os.system ['touch /tmp/pwned']\n")
    assert run(["devgrid", "submit", str(job_file), "--url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "invalid: $: not valid YAML: the tag" in err and "Traceback" not in err
