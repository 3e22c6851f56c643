"""`POST /v1/jobs` with a YAML body, against the real local grid over loopback HTTP with the owner token."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hostapp.grid.client import GridClient
from hostapp.grid.models import NodeRegistration
from hostapp.jobs.limits import MAX_DEFINITION_BYTES
from hostapp.localgrid.server import GridConfig, LocalGrid
from tests.support import FreshKeystore

MODEL_JOB: dict[str, Any] = {
    "version": "0.1",
    "type": "container",
    "meta": {"trigger": "cli"},
    "ops": [
        {
            "type": "container/run",
            "id": "infer",
            "args": {
                "image": "ubuntu",
                "cmd": ["ls", "/models"],
                "resources": [
                    {"type": "S3", "url": "s3://models/tiny", "target": "/models/"},
                    {"type": "HF", "repo": "org/tiny", "target": "/hf/", "files": ["config.json"]},
                ],
            },
        }
    ],
}
QUERY = "?price_per_second=4&timeout_seconds=900"


@pytest.fixture
def grid(tmp_path: Path) -> Iterator[LocalGrid]:
    with LocalGrid(tmp_path / "grid", config=GridConfig()) as local:
        yield local


def post_yaml(grid: LocalGrid, text: str | bytes, query: str = QUERY, **headers: str) -> httpx.Response:
    sent = {**grid.owner_headers, "Content-Type": "application/yaml", **headers}
    return httpx.post(f"{grid.url}/v1/jobs{query}", content=text, headers=sent)


def post_json(grid: LocalGrid, definition: dict[str, Any]) -> httpx.Response:
    body = {"definition": definition, "price_per_second": 4, "timeout_seconds": 900}
    return httpx.post(f"{grid.url}/v1/jobs", json=body, headers=grid.owner_headers)


def test_a_yaml_definition_is_queued_as_its_json(grid: LocalGrid) -> None:
    response = post_yaml(grid, yaml.safe_dump(MODEL_JOB), **{"Content-Type": "text/yaml; charset=utf-8"})
    assert response.status_code == 201, response.text
    status = response.json()
    assert (status["state"], status["price_per_second"], status["timeout_seconds"]) == ("queued", 4, 900)
    client = GridClient(grid.url, FreshKeystore(), timeout=5, retries=1, backoff_base=0.05)
    try:
        client.register(NodeRegistration(app_version="test"))
        lease = client.lease(wait_seconds=0)
    finally:
        client.close()
    assert lease is not None and lease.job_id == status["job_id"]
    assert lease.definition == MODEL_JOB  # what a node gets is exactly the JSON form


def test_an_invalid_yaml_definition_gets_the_same_error_and_paths_as_json(grid: LocalGrid) -> None:
    broken = copy.deepcopy(MODEL_JOB)
    broken["ops"][0]["args"]["resources"][0]["type"] = "FTP"
    as_json = post_json(grid, broken)
    as_yaml = post_yaml(grid, yaml.safe_dump(broken))
    assert as_json.status_code == as_yaml.status_code == 422
    assert as_yaml.json() == as_json.json()
    paths = [detail["path"] for detail in as_yaml.json()["error"]["details"]]
    assert "$.ops[0].args.resources[0].type" in paths, paths


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        ("ops: !!python/object/apply:os.system ['true']\n", "$", "the tag"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                for p, c in zip("abcdef", "bcdefg", strict=True)
            ),
            "$",
            "alias bomb",
        ),
        ("version: '0.1'\nops: [\n", "$", "not valid YAML"),
        ("- just\n- a list\n", "$", "a job definition is a mapping"),
        ("version: '0.1'\nops:\n  - {1: x}\n", "$.ops[0]", "is not a string"),
    ],
)
def test_hostile_or_malformed_yaml_is_refused_with_a_path(grid: LocalGrid, text: str, path: str, words: str) -> None:
    response = post_yaml(grid, text)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_definition" and error["details"] == [
        {"path": path, "reason": error["details"][0]["reason"]}
    ]
    assert words in error["message"] and error["message"].startswith(f"job definition is invalid at {path}: ")


def test_the_size_limit_is_the_json_one(grid: LocalGrid) -> None:
    padded = yaml.safe_dump(MODEL_JOB) + "# " + "x" * MAX_DEFINITION_BYTES + "\n"
    response = post_yaml(grid, padded)
    assert response.status_code == 422
    assert f"the limit is {MAX_DEFINITION_BYTES}" in response.json()["error"]["message"]


def test_price_and_time_limit_come_from_the_query(grid: LocalGrid) -> None:
    missing = post_yaml(grid, yaml.safe_dump(MODEL_JOB), query="?timeout_seconds=60")
    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["path"] == "query.price_per_second"
    assert "?price_per_second=" in missing.json()["error"]["message"]
    words = post_yaml(grid, yaml.safe_dump(MODEL_JOB), query="?price_per_second=1.5&timeout_seconds=60")
    assert words.status_code == 422 and "must be a whole number, got '1.5'" in words.json()["error"]["message"]
    too_long = post_yaml(grid, yaml.safe_dump(MODEL_JOB), query="?price_per_second=1&timeout_seconds=99999999999")
    assert too_long.status_code == 422  # the route's own range check, as for JSON
    assert too_long.json()["error"]["details"][0]["path"] == "body.timeout_seconds"


def test_without_the_owner_token_yaml_is_never_parsed(grid: LocalGrid) -> None:
    bomb = "a: &a [x, x]\nb: !!python/object/apply:os.system ['true']\n"
    response = httpx.post(f"{grid.url}/v1/jobs{QUERY}", content=bomb, headers={"Content-Type": "application/yaml"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "owner_token"
