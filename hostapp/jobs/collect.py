"""Copying a job's output dir out of its container: capped in bytes and in entries, regular files and folders only.

The archive comes from the engine (`GET /containers/{id}/archive`), which the job controls the
content of: members that are links, devices, absolute or `..` paths are skipped and reported, and
every file is created with O_NOFOLLOW|O_EXCL below the destination, so nothing can escape it.
Empty files cost no bytes but an inode and a directory entry each, so the number of entries (files,
folders and skipped members alike) is capped too: reading stops at `max_entries`.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


@dataclass
class CollectedOutput:
    directory: Path
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)  # "name: why"
    truncated: bool = False  # the byte cap was reached
    entries: int = 0  # archive members read (files, folders, skipped ones)
    too_many_entries: bool = False  # reading stopped at the entry cap


class _CappedStream:
    """A file-like view of the engine's chunk iterator that stops after `limit` bytes."""

    def __init__(self, chunks: Iterable[bytes], limit: int) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = b""
        self._read = 0
        self._limit = limit
        self.exceeded = False

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                break
            self._read += len(chunk)
            if self._read > self._limit:
                self.exceeded = True
                raise _LimitExceeded
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


class _LimitExceeded(Exception):
    pass


def extract_output(
    chunks: Iterable[bytes], destination: Path, max_bytes: int, max_entries: int | None = None
) -> CollectedOutput:
    """Extract the archive of one folder (its top entry is the folder itself) into `destination`.

    Stops at `max_bytes` of file content and after `max_entries` archive members (None: no entry cap).
    """
    destination.mkdir(parents=True, exist_ok=True, mode=0o700)
    root = destination.resolve()
    out = CollectedOutput(directory=root)
    # Tar headers and padding add up to ~1 KiB per file; the slack keeps small outputs from tripping it.
    stream = _CappedStream(chunks, max_bytes + 4 * 1024 * 1024)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:  # type: ignore[call-overload]
            for member in archive:
                if max_entries is not None and out.entries >= max_entries:
                    out.too_many_entries = True
                    break
                out.entries += 1
                _extract_member(archive, member, root, max_bytes, out)
    except _LimitExceeded:
        out.truncated = True
    except tarfile.TarError as exc:
        out.skipped.append(f"(archive): unreadable ({exc})")
    return out


def _extract_member(archive: Any, member: tarfile.TarInfo, root: Path, max_bytes: int, out: CollectedOutput) -> None:
    name = member.name
    parts = [p for p in name.split("/") if p not in ("", ".")]
    relative_parts = parts[1:]  # drop the output folder's own name
    if name.startswith("/") or ".." in parts:
        out.skipped.append(f"{name}: path escapes the output folder")
        return
    if not relative_parts:
        return
    relative = posixpath.join(*relative_parts)
    if member.issym() or member.islnk():
        out.skipped.append(f"{relative}: links are not collected")
        return
    if member.isdir():
        _safe_dir(root, relative_parts)
        return
    if not member.isfile():
        out.skipped.append(f"{relative}: not a regular file")
        return
    if out.bytes + member.size > max_bytes:
        out.truncated = True
        out.skipped.append(f"{relative}: over the output size cap ({max_bytes} bytes)")
        return
    parent = _safe_dir(root, relative_parts[:-1])
    source: IO[bytes] | None = archive.extractfile(member)
    if source is None:
        return
    fd = os.open(parent / relative_parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as target:
        while chunk := source.read(1024 * 1024):
            target.write(chunk)
    out.bytes += member.size
    out.files.append(relative)


def _safe_dir(root: Path, parts: list[str]) -> Path:
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise tarfile.TarError(f"{current} is a link")
        current.mkdir(exist_ok=True, mode=0o700)
    if not current.resolve().is_relative_to(root):
        raise tarfile.TarError(f"{current} escapes {root}")
    return current
