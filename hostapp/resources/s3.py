"""S3 and S3-compatible sources through boto3: anonymous, or with the job's own IAM keys.

The keys go into this one client, for this one fetch: they are not stored, logged or put in an error
(a client without keys is UNSIGNED, so the host's own AWS credentials are never used for a job).
Files download in parts of PART_BYTES with HTTP Range into a preallocated partial file; a sidecar
lists the finished parts, so a fetch that was killed resumes with the parts it lacks. A single-part
object's ETag is its MD5 and is checked; every file's size is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hostapp.config.settings import ModelSettings
from hostapp.resources.cache import DownloadTask, Listing, RemoteFile
from hostapp.resources.spec import BUCKET_AT_HOST_ROOT, ResourceError, ResourceSource

# botocore logs every request's headers at DEBUG, the Authorization header (the job's access key id)
# included: its loggers stay at INFO or above whatever level the app logs at.
for _name in ("botocore", "boto3", "s3transfer"):
    _logger = logging.getLogger(_name)
    _logger.setLevel(max(_logger.level, logging.INFO))

PART_BYTES = 32 * 1024 * 1024
# Shared by every client; the job's keys go to the client (this fetch) only, never to the session.
_SESSION: Any = None
_SESSION_LOCK = threading.Lock()
_ANONYMOUS_CLIENTS: dict[tuple[str | None, str | None, bool, float], Any] = {}
CHUNK_BYTES = 1024 * 1024
MAX_FILES = 4096


class S3Fetcher:
    def __init__(self, source: ResourceSource, settings: ModelSettings) -> None:
        self.source = source
        self.settings = settings
        self._client = _client(source, settings)
        self._sidecar_lock = threading.Lock()

    # ------------------------------------------------------------ listing

    def listing(self) -> Listing:
        source = self.source
        prefix = source.prefix
        if source.files is not None:
            return Listing("", tuple(self._head(f"{prefix}/{name}" if prefix else name, name) for name in source.files))
        files: list[RemoteFile] = []
        base = f"{prefix}/" if prefix else ""
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=source.bucket, Prefix=base):
                for item in page.get("Contents") or []:
                    key = str(item["Key"])
                    if key.endswith("/"):
                        continue  # a console-made "folder"
                    files.append(RemoteFile(key[len(base) :], int(item["Size"]), _etag(item.get("ETag")), remote=key))
                    if len(files) > MAX_FILES:
                        raise ResourceError(
                            f"resource {source.label}: more than {MAX_FILES} files; name them in 'files'"
                        )
        except ResourceError:
            raise
        except Exception as exc:
            raise ResourceError(f"resource {source.label}: cannot list it: {_reason(exc)}") from None
        if not files and prefix:  # the URL names one object, not a folder
            return Listing("", (self._head(prefix, prefix.rsplit("/", 1)[-1]),))
        return Listing("", tuple(files))

    def _head(self, key: str, name: str) -> RemoteFile:
        """Size and ETag of one named object, with a one-byte GET: it needs only s3:GetObject (as the
        download does), where some S3-compatible servers refuse an anonymous HEAD; an empty object
        (no byte to range over) falls back to HEAD."""
        try:
            try:
                response = self._client.get_object(Bucket=self.source.bucket, Key=key, Range="bytes=0-0")
                response["Body"].close()
                size = int(str(response["ContentRange"]).rsplit("/", 1)[1])
                return RemoteFile(name, size, _etag(response.get("ETag")), remote=key)
            except Exception as exc:
                if _reason(exc).split(" ", 1)[0] not in ("InvalidRange", "416"):
                    raise
            head = self._client.head_object(Bucket=self.source.bucket, Key=key)
        except Exception as exc:
            raise ResourceError(f"resource {self.source.label}: {name}: {_reason(exc)}") from None
        return RemoteFile(name, int(head["ContentLength"]), _etag(head.get("ETag")), remote=key)

    # ------------------------------------------------------------ downloading

    def tasks(self, file: RemoteFile, partial: Path) -> list[DownloadTask]:
        path = partial / file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        sidecar = _sidecar(path)
        parts = max(1, -(-file.size // PART_BYTES))
        done = _read_done(sidecar) if path.exists() and path.stat().st_size == file.size else set()
        if not done:
            with open(path, "wb") as handle:
                handle.truncate(file.size)
            _write_done(sidecar, set())
        key = file.remote or file.name
        return [
            DownloadTask(
                min(PART_BYTES, file.size - index * PART_BYTES),
                lambda report, index=index: self._part(key, path, file.size, index, report),  # type: ignore[misc]
            )
            for index in range(parts)
            if index not in done
        ]

    def _part(self, key: str, path: Path, size: int, index: int, report: Any) -> None:
        start = index * PART_BYTES
        end = min(size, start + PART_BYTES) - 1
        if size == 0:
            self._mark_done(path, index)
            return
        try:
            response = self._client.get_object(Bucket=self.source.bucket, Key=key, Range=f"bytes={start}-{end}")
            body = response["Body"]
            fd = os.open(path, os.O_WRONLY)
            try:
                offset = start
                for chunk in body.iter_chunks(CHUNK_BYTES):
                    os.pwrite(fd, chunk, offset)
                    offset += len(chunk)
                    report(len(chunk))
            finally:
                os.close(fd)
        except ResourceError:
            raise
        except Exception as exc:
            raise ResourceError(f"resource {self.source.label}: {key}: {_reason(exc)}") from None
        if offset != end + 1:
            raise ResourceError(f"resource {self.source.label}: {key}: the server sent a short part; try again")
        self._mark_done(path, index)

    def _mark_done(self, path: Path, index: int) -> None:
        with self._sidecar_lock:
            sidecar = _sidecar(path)
            done = _read_done(sidecar)
            done.add(index)
            _write_done(sidecar, done)

    def finish(self, file: RemoteFile, partial: Path) -> None:
        path = partial / file.name
        sidecar = _sidecar(path)
        if path.stat().st_size != file.size:
            raise ResourceError(f"resource {self.source.label}: {file.name} has the wrong size after the fetch")
        if file.etag and "-" not in file.etag and len(file.etag) == 32:
            # A single-part upload's ETag is the MD5 of the object (multipart ETags are not: size only).
            digest = hashlib.md5(usedforsecurity=False)
            with open(path, "rb") as handle:
                while chunk := handle.read(8 * CHUNK_BYTES):
                    digest.update(chunk)
            if digest.hexdigest() != file.etag.lower():
                path.unlink(missing_ok=True)
                sidecar.unlink(missing_ok=True)
                raise ResourceError(
                    f"resource {self.source.label}: {file.name} does not match its ETag (MD5 {digest.hexdigest()}, "
                    f"expected {file.etag}); the partial copy was removed, run the job again to fetch it anew"
                )
        sidecar.unlink(missing_ok=True)


def _client(source: ResourceSource, settings: ModelSettings) -> Any:
    """An anonymous client is shared by every fetch from its endpoint (it holds nothing secret); a client
    with the job's keys is made for this fetch alone and dropped with it."""
    if source.credentials is not None:
        return _new_client(source, settings)
    key = (source.endpoint_url, source.region, source.bucket == BUCKET_AT_HOST_ROOT, settings.timeout_seconds)
    with _SESSION_LOCK:
        client = _ANONYMOUS_CLIENTS.get(key)
    if client is None:
        client = _new_client(source, settings)
        with _SESSION_LOCK:
            _ANONYMOUS_CLIENTS[key] = client
    return client


def _new_client(source: ResourceSource, settings: ModelSettings) -> Any:
    import boto3.session
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(
        connect_timeout=settings.timeout_seconds,
        read_timeout=settings.timeout_seconds,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=32,  # the most parallel downloads settings allow (models.concurrency)
        signature_version=None if source.credentials else UNSIGNED,
        s3={"addressing_style": "path"} if source.endpoint_url else None,
    )
    credentials = source.credentials
    with _SESSION_LOCK:  # one botocore session: its loaded service models make a new client ~10 ms, not ~150
        global _SESSION
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        client = _SESSION.client(
            "s3",
            endpoint_url=source.endpoint_url,
            region_name=source.region or "us-east-1",
            aws_access_key_id=credentials.access_key_id if credentials else None,
            aws_secret_access_key=credentials.secret_access_key if credentials else None,
            config=config,
        )
    if source.bucket == BUCKET_AT_HOST_ROOT:
        client.meta.events.register("before-sign.s3", _bucket_at_host_root)
    return client


def _bucket_at_host_root(request: Any, **_: Any) -> None:
    """https://models.example/prefix: the host is the bucket, so the path loses the stand-in bucket name."""
    parts = urlsplit(request.url)
    stand_in = f"/{BUCKET_AT_HOST_ROOT}"
    if parts.path == stand_in or parts.path.startswith(stand_in + "/"):
        path = parts.path[len(stand_in) :] or "/"
        request.url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def _etag(value: Any) -> str | None:
    return str(value).strip('"') if value else None


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".hostapp-parts")


def _read_done(sidecar: Path) -> set[int]:
    try:
        return {int(i) for i in json.loads(sidecar.read_text())}
    except (OSError, ValueError, TypeError):
        return set()


def _write_done(sidecar: Path, done: set[int]) -> None:
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(json.dumps(sorted(done)))
    os.replace(tmp, sidecar)


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        code = error.get("Code", "")
        message = error.get("Message") or {"403": "access denied", "404": "not found"}.get(str(code), "")
        return f"{code} {message}".strip()
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]
