"""`resources` in job definitions: every shape in use parses, bad ones name their field, sources resolve."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hostapp.config.settings import ModelSettings
from hostapp.jobs import sandbox
from hostapp.jobs.definition import (
    JobDefinitionError,
    MachineCaps,
    Resource,
    parse_job_definition,
    redacted_json,
    resources,
    unsupported,
)
from hostapp.jobs.local import plan
from hostapp.resources.s3 import S3Fetcher
from hostapp.resources.spec import BUCKET_AT_HOST_ROOT, ResourceError, resolve


def job(*items: object) -> dict[str, object]:
    return {"ops": [{"type": "container/run", "id": "serve", "args": {"image": "busybox", "resources": list(items)}}]}


IAM = {"REGION": "eu-west-1", "ACCESS_KEY_ID": "AKIAEXAMPLE", "SECRET_ACCESS_KEY": "not-to-be-seen"}
SHAPES = [
    {"type": "S3", "url": "s3://bucket/prefix", "target": "/models/"},
    {"type": "S3", "url": "https://models.example/sd/1.5", "target": "/m", "files": ["a.safetensors", "sub/b.bin"]},
    {"type": "S3", "url": "https://s3.eu-west-1.amazonaws.com/bucket/p", "target": "/m", "IAM": IAM},
    {"type": "S3", "url": "https://minio.example:9000", "bucket": "models", "target": "/m", "allowWrite": True},
    {"type": "HF", "repo": "org/name", "target": "/root/.cache/hf"},
    {"type": "HF", "repo": "org/name", "revision": "v1.0", "files": ["config.json"], "target": "/m"},
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s['type']}-{s.get('url', s.get('repo'))}")
def test_every_s3_and_hf_shape_parses_and_runs_here(shape: dict[str, object]) -> None:
    definition = parse_job_definition(job(shape))
    assert unsupported(definition, MachineCaps()) == []
    ((op, index, resource),) = resources(definition)
    assert (op.id, index, resource.type) == ("serve", 0, shape["type"])
    resolve(resource, ModelSettings())


def test_ollama_and_literal_resources_say_what_is_not_fetched() -> None:
    definition = parse_job_definition(
        job({"type": "Ollama", "model": "llama3.1:8b"}, {"__spread__": "%%ops.x.results.y%%"})
    )
    assert unsupported(definition, MachineCaps()) == [
        "unsupported: op serve: args.resources[0]: Ollama model 'llama3.1:8b' is not fetched by this host "
        "(no Ollama registry client yet); name the weights as an HF or S3 resource instead",
        "unsupported: op serve: args.resources[1]: a resource list from a literal (__spread__) is not fetched "
        "by this host",
    ]
    assert resources(definition) == []


@pytest.mark.parametrize(
    ("item", "path", "reason"),
    [
        ({"type": "S3", "target": "/m"}, "$.ops[0].args.resources[0]", "an S3 resource needs 'url'"),
        ({"type": "HF", "repo": "o/n"}, "$.ops[0].args.resources[0]", "an HF resource needs 'target'"),
        ({"type": "Ollama"}, "$.ops[0].args.resources[0]", "an Ollama resource needs 'model'"),
        (
            {"type": "HF", "repo": "o/n", "target": "/m", "IAM": IAM},
            "$.ops[0].args.resources[0]",
            "'IAM' is not a field",
        ),
        (
            {"type": "S3", "url": "s3://b", "target": "/proc/x"},
            "$.ops[0].args.resources[0].target",
            "must not be under /proc",
        ),
        ({"type": "S3", "url": "s3://b", "target": "m"}, "$.ops[0].args.resources[0].target", "absolute path"),
        ({"type": "HF", "repo": "o/n", "target": "/m", "files": ["../x"]}, "$.ops[0].args.resources[0].files", "'..'"),
        (
            {"type": "HF", "repo": "o/n", "target": "/m", "files": ["/etc/passwd"]},
            "$.ops[0].args.resources[0].files",
            "relative",
        ),
        (
            {"type": "S3", "url": "s3://b", "target": "/m", "IAM": {"TOKEN": "x"}},
            "$.ops[0].args.resources[0].IAM",
            "unknown IAM keys",
        ),
        (
            {"type": "S3", "url": "s3://b", "target": "/m", "extra": 1},
            "$.ops[0].args.resources[0].extra",
            "unknown field",
        ),
        (
            {"type": "FTP", "url": "ftp://x", "target": "/m"},
            "$.ops[0].args.resources[0].type",
            "'S3', 'HF' or 'Ollama'",
        ),
        (7, "$.ops[0].args.resources[0]", "a resource must be an object with a type"),
    ],
)
def test_a_bad_resource_names_its_field(item: object, path: str, reason: str) -> None:
    with pytest.raises(JobDefinitionError) as caught:
        parse_job_definition(job(item))
    assert [p for p, _ in caught.value.errors] == [path], caught.value.errors
    assert reason in caught.value.errors[0][1]


def test_keys_and_tokens_are_never_stored_or_planned() -> None:
    definition = parse_job_definition(
        job(SHAPES[2], {"type": "HF", "repo": "o/n", "target": "/m", "accessToken": "hf_secret_token"})
    )
    stored = redacted_json(definition)
    assert "not-to-be-seen" not in stored and "AKIAEXAMPLE" not in stored and "hf_secret_token" not in stored
    assert '"REGION": "eu-west-1"' in stored
    shown = json.dumps(plan(definition, network=False))
    assert "not-to-be-seen" not in shown and "hf_secret_token" not in shown
    assert plan(definition, network=False)[0]["resources"][1] == {
        "type": "HF",
        "source": "o/n",
        "target": "/m",
        "files": None,
        "writable": False,
    }
    assert "not-to-be-seen" not in repr(resolve(definition.ops[0].args.resources[0], ModelSettings()))  # type: ignore[index, arg-type]


@pytest.mark.parametrize(
    ("url", "extra", "endpoint", "bucket", "prefix", "job_host"),
    [
        ("s3://nos-ai-models/hf/llama/", {}, None, "nos-ai-models", "hf/llama", None),
        (
            "https://s3.us-east-1.amazonaws.com/b/p/q",
            {},
            "https://s3.us-east-1.amazonaws.com",
            "b",
            "p/q",
            "s3.us-east-1.amazonaws.com:443",
        ),
        ("http://127.0.0.1:9000/b/p", {}, "http://127.0.0.1:9000", "b", "p", "127.0.0.1:9000"),
        (
            "https://minio.example:9000/p",
            {"bucket": "models"},
            "https://minio.example:9000",
            "models",
            "p",
            "minio.example:9000",
        ),
        (
            "https://models.nosana.io/stable-diffusion/1.5",
            {},
            "https://models.nosana.io",
            BUCKET_AT_HOST_ROOT,
            "stable-diffusion/1.5",
            "models.nosana.io:443",
        ),
    ],
)
def test_s3_urls_resolve(
    url: str, extra: dict[str, str], endpoint: str | None, bucket: str, prefix: str, job_host: str | None
) -> None:
    source = resolve(Resource.model_validate({"type": "S3", "url": url, "target": "/m", **extra}), ModelSettings())
    assert (source.endpoint_url, source.bucket, source.prefix, source.job_host) == (endpoint, bucket, prefix, job_host)


@pytest.mark.parametrize("url", ["ftp://host/b/p", "s3:///p", "https://user:pw@host/b/p"])
def test_unusable_s3_urls_say_why(url: str) -> None:
    with pytest.raises(ResourceError, match="S3 resource"):
        resolve(Resource.model_validate({"type": "S3", "url": url, "target": "/m"}), ModelSettings())


def test_a_host_that_serves_its_bucket_at_the_root_is_asked_at_the_root() -> None:
    """models.nosana.io-style URLs: the listing goes to https://host/?list-type=2&prefix=…, no bucket in the path."""
    seen: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = resolve(Resource(type="S3", url="https://models.example/sd/1.5", target="/m"), ModelSettings())
        local = source.__class__(**{**source.__dict__, "endpoint_url": f"http://127.0.0.1:{server.server_address[1]}"})
        with pytest.raises(ResourceError):
            S3Fetcher(local, ModelSettings(timeout_seconds=5)).listing()
    finally:
        server.shutdown()
        server.server_close()
    assert seen and seen[0].startswith("/?list-type=2&prefix=sd%2F1.5%2F"), seen


def test_the_sandbox_mounts_only_entries_of_the_model_cache(tmp_path: Path) -> None:
    entries = tmp_path / "models" / "entries"
    (entries / "abc").mkdir(parents=True)
    assert sandbox.model_mount_source(str(entries / "abc"), str(entries)) == str((entries / "abc").resolve())
    (entries / "link").symlink_to(tmp_path)  # a link inside the cache that leads out of it
    for outside in (
        str(tmp_path),
        "/etc",
        str(entries / "link"),
        str(entries / "abc" / ".." / ".." / "x"),
        str(entries),
    ):
        with pytest.raises(sandbox.SandboxError, match="not an entry of the model cache"):
            sandbox.model_mount_source(outside, str(entries))
    with pytest.raises(sandbox.SandboxError):
        sandbox.model_mount_source(str(entries / "abc"), None)
