"""Hugging Face repositories through huggingface_hub, at `models.hf_endpoint`, $HF_ENDPOINT or the Hub.

The listing pins the revision to its commit (the cache key holds it, so a moved branch is a new
entry); files download with `hf_hub_download` into the partial folder, whose own `.incomplete` files
and HTTP Range make an interrupted fetch resume. The token is the job's `accessToken` or the
`models.hf_token` setting, else none: a token stored on this machine (`hf auth login`) is never sent
on a job's behalf. LFS files are checked against their sha256, every file against its size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hostapp.config.settings import ModelSettings
from hostapp.resources.cache import DownloadTask, Listing, RemoteFile
from hostapp.resources.spec import ResourceError, ResourceSource, hf_endpoint

MAX_FILES = 4096


class HfFetcher:
    def __init__(self, source: ResourceSource, settings: ModelSettings) -> None:
        self.source = source
        self.settings = settings
        self.endpoint = hf_endpoint(settings)
        self._commit = source.revision

    def _token(self) -> str | bool:
        return self.source.token or False

    def listing(self) -> Listing:
        from huggingface_hub import HfApi

        api = HfApi(endpoint=self.endpoint, token=self._token())
        try:
            info = api.model_info(
                self.source.repo,
                revision=self.source.revision,
                files_metadata=True,
                timeout=self.settings.timeout_seconds,
            )
        except Exception as exc:
            raise ResourceError(f"resource {self.source.label}: {_reason(exc)}") from None
        self._commit = str(info.sha or self.source.revision)
        siblings = {s.rfilename: s for s in info.siblings or []}
        names = list(self.source.files) if self.source.files is not None else sorted(siblings)
        if len(names) > MAX_FILES:
            raise ResourceError(f"resource {self.source.label}: more than {MAX_FILES} files; name them in 'files'")
        files = []
        for name in names:
            sibling = siblings.get(name)
            if sibling is None:
                raise ResourceError(
                    f"resource {self.source.label}: no file {name!r} at revision {self.source.revision}"
                )
            if sibling.size is None:
                raise ResourceError(f"resource {self.source.label}: the server gives no size for {name!r}")
            sha256 = sibling.lfs.sha256 if sibling.lfs is not None else None
            files.append(RemoteFile(name, int(sibling.size), sha256=sha256))
        return Listing(self._commit, tuple(files))

    def tasks(self, file: RemoteFile, partial: Path) -> list[DownloadTask]:
        path = partial / file.name
        if path.is_file() and path.stat().st_size == file.size:
            return []  # finished before an interruption
        return [DownloadTask(file.size, lambda report: self._download(file, partial, report))]

    def _download(self, file: RemoteFile, partial: Path, report: Callable[[int], None]) -> None:
        from huggingface_hub import hf_hub_download

        try:
            hf_hub_download(
                self.source.repo,
                file.name,
                revision=self._commit,
                local_dir=partial,
                endpoint=self.endpoint,
                token=self._token(),
                etag_timeout=self.settings.timeout_seconds,
                tqdm_class=_reporter(report),
            )
        except Exception as exc:
            raise ResourceError(f"resource {self.source.label}: {file.name}: {_reason(exc)}") from None

    def finish(self, file: RemoteFile, partial: Path) -> None:
        path = partial / file.name
        if not path.is_file() or path.stat().st_size != file.size:
            raise ResourceError(f"resource {self.source.label}: {file.name} has the wrong size after the fetch")
        if file.sha256:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                while chunk := handle.read(8 * 1024 * 1024):
                    digest.update(chunk)
            if digest.hexdigest() != file.sha256:
                path.unlink()
                raise ResourceError(
                    f"resource {self.source.label}: {file.name} does not match its sha256; the copy was removed, "
                    "run the job again to fetch it anew"
                )


def _reporter(report: Callable[[int], None]) -> Any:
    """A tqdm class for huggingface_hub that draws nothing and hands each chunk's size to `report`."""
    from tqdm.auto import tqdm

    class _Report(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            if n:
                report(int(n))
            return None

    return _Report


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__
