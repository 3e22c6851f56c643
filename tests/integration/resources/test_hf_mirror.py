"""Hugging Face resources through the real huggingface_hub client, against a test mirror on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostapp.config.settings import ModelSettings
from hostapp.jobs.definition import Resource
from hostapp.resources.cache import ModelCache
from hostapp.resources.spec import ResourceError, resolve
from tests.fixtures.hf_test_mirror import COMMIT, HfTestMirror

REPO = "test-org/tiny-model"
FILES = {
    "config.json": b'{"model_type": "tiny"}',
    "model.safetensors": os.urandom(3 * 1024 * 1024),
    "tokenizer/vocab.txt": b"a\nb\nc\n" * 500,
}


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[HfTestMirror]:
    with HfTestMirror(REPO, dict(FILES)) as served:
        monkeypatch.setenv("HF_ENDPOINT", served.url)  # as a user pointing at a mirror would
        monkeypatch.setenv("HF_TOKEN", "hf_the_users_own_token_never_sent_for_a_job")
        yield served


def hf(**fields: object) -> Resource:
    return Resource.model_validate({"type": "HF", "repo": REPO, "target": "/models", **fields})


def test_a_repo_is_fetched_through_the_mirror_then_served_from_the_cache(mirror: HfTestMirror, tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "models", ModelSettings())
    first = cache.prepare("job-1", [resolve(hf(), ModelSettings())], grid=False)[0]
    assert {str(p.relative_to(first.path)) for p in first.path.rglob("*") if p.is_file()} == set(FILES)
    for name, data in FILES.items():
        assert (first.path / name).read_bytes() == data
    assert not (first.path / ".cache").exists()  # the client's download metadata is not part of the model
    downloads = [path for method, path, _ in mirror.requests if method == "GET" and "/resolve/" in path]
    assert sorted(downloads) == sorted(f"/{REPO}/resolve/{COMMIT}/{name}" for name in FILES)  # pinned to the commit

    mirror.requests.clear()
    second = cache.prepare("job-2", [resolve(hf(), ModelSettings())], grid=False)[0]
    assert second.cached and second.path == first.path
    assert not [r for r in mirror.requests if "/resolve/" in r[1]]  # only the revision was asked


def test_only_the_named_files(mirror: HfTestMirror, tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "models", ModelSettings())
    got = cache.prepare(None, [resolve(hf(files=["config.json"], revision="main"), ModelSettings())], grid=False)[0]
    assert [p.name for p in got.path.iterdir()] == ["config.json"]
    with pytest.raises(ResourceError, match=r"no file 'nope.bin' at revision main"):
        cache.prepare(None, [resolve(hf(files=["nope.bin"]), ModelSettings())], grid=False)


def test_a_file_that_does_not_match_its_sha256_is_refused(mirror: HfTestMirror, tmp_path: Path) -> None:
    mirror.corrupt.add("model.safetensors")
    cache = ModelCache(tmp_path / "models", ModelSettings())
    with pytest.raises(ResourceError, match=r"model.safetensors does not match its sha256"):
        cache.prepare("job", [resolve(hf(), ModelSettings())], grid=False)
    assert cache.entries() == [] and cache.pinned() == set()


def test_the_token_is_the_jobs_or_the_settings_never_the_machines(mirror: HfTestMirror, tmp_path: Path) -> None:
    seen: list[str | None] = []
    original = mirror._handler()

    class Recording(original):  # type: ignore[misc, valid-type]
        def _serve(self, body: bool) -> None:
            seen.append(self.headers.get("Authorization"))
            super()._serve(body)

    mirror._server.RequestHandlerClass = Recording
    cache = ModelCache(tmp_path / "models", ModelSettings())
    cache.prepare(None, [resolve(hf(files=["config.json"]), ModelSettings())], grid=False)
    assert seen and not any(seen)  # HF_TOKEN of this machine was not sent on the job's behalf
    seen.clear()
    settings = ModelSettings(hf_token="hf_setting_token")
    ModelCache(tmp_path / "models2", settings).prepare(None, [resolve(hf(files=["config.json"]), settings)], grid=False)
    assert "Bearer hf_setting_token" in seen
