"""The model cache against a real S3-compatible server on loopback (moto's server mode)."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostapp.config.settings import ModelSettings
from hostapp.events import EventBus
from hostapp.jobs.definition import Resource
from hostapp.resources.cache import ModelCache, cache_key
from hostapp.resources.s3 import PART_BYTES, S3Fetcher
from hostapp.resources.spec import ResourceError, ResourceSource, resolve

from .conftest import MB, S3Server

ROOT = Path(__file__).resolve().parents[3]


def s3_source(server: S3Server, bucket: str, prefix: str, **extra: object) -> ResourceSource:
    resource = Resource.model_validate(
        {"type": "S3", "url": f"{server.url}/{bucket}/{prefix}", "target": "/m", **extra}
    )
    return resolve(resource, ModelSettings())


def make_cache(root: Path, **settings: object) -> tuple[ModelCache, list[dict[str, object]]]:
    bus = EventBus()  # the real bus: every event is checked against its declared topic type
    seen: list[dict[str, object]] = []
    bus.subscribe("resource.progress", lambda event: seen.append(event.data))
    return ModelCache(root / "models", ModelSettings(**settings), publish=bus.publish), seen


def test_first_job_fetches_second_hits_the_cache(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket()
    weights = s3_server.put(bucket, "tiny/weights.bin", 40 * MB, multipart=True)
    config = s3_server.put(bucket, "tiny/config.json", 300)
    cache, events = make_cache(tmp_path)
    source = s3_source(s3_server, bucket, "tiny")

    first = cache.prepare("job-1", [source], grid=False)[0]
    assert not first.cached and first.bytes_downloaded == len(weights) + len(config)
    assert (first.path / "weights.bin").read_bytes() == weights
    assert (first.path / "config.json").read_bytes() == config
    assert events[-1] == {
        "job_id": "job-1",
        "resource": source.label,
        "kind": "S3",
        "bytes_done": len(weights) + len(config),
        "bytes_total": len(weights) + len(config),
        "finished": True,
    }
    # Read-only for everyone: a bind mount cannot hand a job a writable copy of the shared entry.
    assert (first.path / "weights.bin").stat().st_mode & 0o222 == 0

    second = cache.prepare("job-2", [source], grid=False)[0]
    assert second.cached and second.bytes_downloaded == 0 and second.path == first.path
    assert cache.pinned() == {first.key}
    cache.release("job-1")
    cache.release("job-2")
    assert cache.pinned() == set()


def test_a_changed_object_is_a_new_entry(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket()
    s3_server.put(bucket, "m/a.bin", 1 * MB)
    cache, _ = make_cache(tmp_path, revalidate_seconds=0)  # every job lists its source again
    before = cache.prepare(None, [s3_source(s3_server, bucket, "m")], grid=False)[0]
    changed = s3_server.put(bucket, "m/a.bin", 1 * MB)
    after = cache.prepare(None, [s3_source(s3_server, bucket, "m")], grid=False)[0]
    assert after.key != before.key and not after.cached
    assert (after.path / "a.bin").read_bytes() == changed


def test_a_recent_listing_is_reused_only_with_the_same_credentials(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket(public=False)
    s3_server.put(bucket, "m/a.bin", 1000)
    keys = {"REGION": "us-east-1", "ACCESS_KEY_ID": "AKIAONE", "SECRET_ACCESS_KEY": "first-secret"}
    cache, _ = make_cache(tmp_path)  # revalidate_seconds=60
    first = cache.prepare(None, [s3_source(s3_server, bucket, "m", IAM=keys)], grid=False)[0]
    s3_server.put(bucket, "m/a.bin", 1000)  # changed, but listed a moment ago: the entry is used as is
    again = cache.prepare(None, [s3_source(s3_server, bucket, "m", IAM=keys)], grid=False)[0]
    assert again.cached and again.key == first.key
    # Other keys (or none) list for themselves and see the change: a listing never lends access.
    other = {**keys, "SECRET_ACCESS_KEY": "second-secret"}
    fresh = cache.prepare(None, [s3_source(s3_server, bucket, "m", IAM=other)], grid=False)[0]
    assert fresh.key != first.key and not fresh.cached


def test_least_recently_used_is_evicted_never_a_pinned_one(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket()
    for name in ("a", "b", "c"):
        s3_server.put(bucket, f"{name}/w.bin", 20 * MB)
    cache, _ = make_cache(tmp_path, budget_mb=45)
    a = cache.prepare("job-a", [s3_source(s3_server, bucket, "a")], grid=False)[0]
    b = cache.prepare(None, [s3_source(s3_server, bucket, "b")], grid=False)[0]
    # a is older, but job-a still runs with it: b goes instead.
    c = cache.prepare(None, [s3_source(s3_server, bucket, "c")], grid=False)[0]
    assert a.path.is_dir() and c.path.is_dir() and not b.path.exists()
    assert {e.key for e in cache.entries()} == {a.key, c.key}
    # With job-a and job-c both holding theirs, a fourth resource cannot fit: refused before fetching.
    cache.prepare("job-c", [s3_source(s3_server, bucket, "c")], grid=False)
    with pytest.raises(ResourceError, match=r"need 20 MB more in the model cache, which has a budget of 45 MB"):
        cache.prepare("job-b", [s3_source(s3_server, bucket, "b")], grid=False)
    assert not (tmp_path / "models" / "partial").exists() or not any((tmp_path / "models" / "partial").iterdir())
    cache.release("job-a")
    cache.prepare("job-b", [s3_source(s3_server, bucket, "b")], grid=False)  # a is free to go now
    assert not a.path.exists()


def test_size_caps_refuse_before_fetching(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket()
    s3_server.put(bucket, "big/w.bin", 3 * MB)
    s3_server.put(bucket, "other/w.bin", 3 * MB)
    cache, events = make_cache(tmp_path, max_resource_mb=2)
    with pytest.raises(
        ResourceError, match=r"is 3 MB, over the per-resource limit of 2 MB \(setting models.max_resource_mb\)"
    ):
        cache.prepare("job", [s3_source(s3_server, bucket, "big")], grid=False)
    cache, events = make_cache(tmp_path, max_job_mb=5)
    with pytest.raises(ResourceError, match=r"are 6 MB, over the per-job limit of 5 MB"):
        cache.prepare("job", [s3_source(s3_server, bucket, "big"), s3_source(s3_server, bucket, "other")], grid=False)
    assert events == [] and cache.entries() == []


_KILLED_FETCH = """
import sys
from pathlib import Path
from hostapp.config.settings import ModelSettings
from hostapp.jobs.definition import Resource
from hostapp.resources.cache import ModelCache
from hostapp.resources.spec import resolve
settings = ModelSettings(concurrency=1)
source = resolve(Resource(type="S3", url=sys.argv[2], target="/m"), settings)
ModelCache(Path(sys.argv[1]), settings).prepare(None, [source], grid=False)
"""


def test_a_killed_fetch_resumes_with_the_parts_it_lacks(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket()
    data = s3_server.put(bucket, "big/w.bin", 4 * PART_BYTES, multipart=True)
    url = f"{s3_server.url}/{bucket}/big"
    root = tmp_path / "models"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_FETCH, str(root), url], cwd=ROOT)
    try:
        sidecars = root / "partial"
        while proc.poll() is None:  # kill it as soon as one part is on disk
            done = [json.loads(p.read_text() or "[]") for p in sidecars.glob("*/w.bin.hostapp-parts")]
            if any(done):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the fetch finished before it could be killed"
    cache = ModelCache(root, ModelSettings())
    stats = cache.prepare(None, [resolve(Resource(type="S3", url=url, target="/m"), ModelSettings())], grid=False)[0]
    assert 0 < stats.bytes_downloaded <= len(data) - PART_BYTES  # at least the finished part was not fetched again
    assert hashlib.sha256((stats.path / "w.bin").read_bytes()).digest() == hashlib.sha256(data).digest()
    assert not any((root / "partial").iterdir())


def test_a_copy_that_does_not_match_its_etag_is_refused_and_removed(s3_server: S3Server, tmp_path: Path) -> None:
    """A single-part object's ETag is its MD5: a partial copy corrupted on disk is caught at the end."""
    bucket = s3_server.bucket()
    data = s3_server.put(bucket, "m/w.bin", 20 * MB)
    source = s3_source(s3_server, bucket, "m")
    listing = S3Fetcher(source, ModelSettings()).listing()
    assert listing.files[0].etag == hashlib.md5(data, usedforsecurity=False).hexdigest()
    partial = tmp_path / "models" / "partial" / cache_key(source, listing)
    partial.mkdir(parents=True)
    (partial / "w.bin").write_bytes(b"\0" * len(data))  # every part "done", every byte wrong
    (partial / "w.bin.hostapp-parts").write_text(json.dumps([0]))
    cache, _ = make_cache(tmp_path)
    with pytest.raises(ResourceError, match="does not match its ETag"):
        cache.prepare("job", [source], grid=False)
    assert not (partial / "w.bin").exists() and cache.entries() == []
    assert cache.pinned() == set()
    fetched = cache.prepare("job", [source], grid=False)[0]  # the next try fetches it anew
    assert (fetched.path / "w.bin").read_bytes() == data


def test_named_files_only_and_missing_ones_say_so(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket()
    s3_server.put(bucket, "m/a.bin", 1000)
    s3_server.put(bucket, "m/sub/b.bin", 2000)
    s3_server.put(bucket, "m/skip.bin", 3000)
    cache, _ = make_cache(tmp_path)
    got = cache.prepare(None, [s3_source(s3_server, bucket, "m", files=["a.bin", "sub/b.bin"])], grid=False)[0]
    assert sorted(str(p.relative_to(got.path)) for p in got.path.rglob("*.bin")) == ["a.bin", "sub/b.bin"]
    with pytest.raises(ResourceError, match=r"nope.bin: NoSuchKey"):
        cache.prepare(None, [s3_source(s3_server, bucket, "m", files=["nope.bin"])], grid=False)
    with pytest.raises(ResourceError, match="NoSuchBucket"):
        cache.prepare(None, [s3_source(s3_server, "no-such-bucket", "m")], grid=False)


def test_grid_jobs_may_not_fetch_from_loopback_unless_trusted(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket()
    s3_server.put(bucket, "m/a.bin", 1000)
    cache, _ = make_cache(tmp_path)
    with pytest.raises(ResourceError, match=r"non-public address 127.0.0.1 .*models.trusted_hosts"):
        cache.prepare("grid-job", [s3_source(s3_server, bucket, "m")], grid=True)
    assert s3_server.url.startswith("http://127.0.0.1:")
    trusted, _ = make_cache(tmp_path, trusted_hosts=[s3_server.url.removeprefix("http://")])
    assert trusted.prepare("grid-job", [s3_source(s3_server, bucket, "m")], grid=True)[0].size == 1000


def test_names_that_would_escape_the_cache_are_refused(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket()
    s3_server.client.put_object(Bucket=bucket, Key="m/../../escape.bin", Body=b"x")
    s3_server.client.put_object(Bucket=bucket, Key="m//abs.bin", Body=b"x")
    cache, _ = make_cache(tmp_path)
    with pytest.raises(ResourceError, match=r"must not contain empty, '.' or '..' components"):
        cache.prepare(None, [s3_source(s3_server, bucket, "m")], grid=False)
    assert not (tmp_path / "escape.bin").exists() and not (tmp_path / "models" / "escape.bin").exists()


def test_the_prefetch_list_is_fetched_and_bad_entries_say_why(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.bucket()
    s3_server.put(bucket, "pre/w.bin", 2 * MB)
    url = f"{s3_server.url}/{bucket}/pre"
    cache, events = make_cache(
        tmp_path,
        prefetch=[
            {"type": "S3", "url": url, "target": "/m"},
            {"type": "Ollama", "model": "llama3.1"},
            {"type": "S3", "target": "/m"},
        ],
    )
    problems = cache.prefetch()
    assert [e.label for e in cache.entries()] == [url]
    assert events[-1]["job_id"] is None and events[-1]["finished"]
    assert problems == {
        "models.prefetch[1]": "Ollama resources are not fetched by this host",
        "models.prefetch[2]": "models.prefetch[2] is not a resource: an S3 resource needs 'url'",
    }
