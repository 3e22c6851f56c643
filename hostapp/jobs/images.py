"""Images for jobs: pulls with progress events and digest checks, and a disk budget for what hostapp pulled.

Only images hostapp itself pulled are tracked (store kv keys `image_cache:<ref>`) and only those are
ever pruned: the user's own images are never touched.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from hostapp.events import EventBus
from hostapp.store import Store

log = logging.getLogger(__name__)

_KV_PREFIX = "image_cache:"
PROGRESS_INTERVAL = 0.25


class PullError(Exception):
    """The pull failed; the message is for the user (never contains credentials)."""


@dataclass(frozen=True)
class CachedImage:
    ref: str
    image_id: str
    size: int
    pulled_at: float
    last_used: float


def split_digest(ref: str) -> tuple[str, str | None]:
    if "@" in ref:
        name, digest = ref.split("@", 1)
        return name, digest
    return ref, None


class ImageCache:
    def __init__(self, api: Any, store: Store, bus: EventBus, budget_mb: int) -> None:
        self._api = api
        self._store = store
        self._bus = bus
        self.budget_bytes = budget_mb * 1024 * 1024
        self.pinned: set[str] = set()  # the pre-pull list: never pruned

    # ------------------------------------------------------------ pulling

    def pull(self, ref: str, auth: dict[str, str] | None = None, job_id: str | None = None) -> str:
        """Pull `ref` (name[:tag][@sha256:…]); publishes job.pull.progress; returns the image id."""
        import docker.errors

        name, digest = split_digest(ref)
        layers: dict[str, tuple[int, int]] = {}
        done: set[str] = set()
        last_publish = 0.0
        try:
            stream = self._api.pull(ref if digest else _with_tag(name), stream=True, decode=True, auth_config=auth)
            for event in stream:
                if "error" in event:
                    raise PullError(_pull_reason(ref, str(event.get("error"))))
                layer = event.get("id")
                status = str(event.get("status", ""))
                detail = event.get("progressDetail") or {}
                if layer and status in ("Downloading", "Extracting") and detail.get("total"):
                    if status == "Downloading":
                        layers[layer] = (int(detail.get("current", 0)), int(detail["total"]))
                if layer and status in ("Download complete", "Pull complete", "Already exists"):
                    done.add(layer)
                    if layer in layers:
                        layers[layer] = (layers[layer][1], layers[layer][1])
                now = time.monotonic()
                if now - last_publish >= PROGRESS_INTERVAL or status == "Pull complete":
                    last_publish = now
                    self._publish_progress(ref, job_id, layers, done, finished=False)
        except docker.errors.ImageNotFound as exc:
            raise PullError(_pull_reason(ref, str(exc.explanation or exc))) from None
        except docker.errors.APIError as exc:
            raise PullError(_pull_reason(ref, str(exc.explanation or exc))) from None
        self._publish_progress(ref, job_id, layers, done, finished=True)
        try:
            info = self._api.inspect_image(ref if digest else _with_tag(name))
        except docker.errors.APIError as exc:
            raise PullError(f"image {ref} not present after the pull ({exc.explanation or exc})") from None
        if digest and not any(d.endswith("@" + digest) for d in info.get("RepoDigests") or []):
            raise PullError(f"image {ref}: the pulled image does not carry digest {digest}")
        now = time.time()
        self._record(CachedImage(ref, str(info["Id"]), int(info.get("Size") or 0), now, now))
        self._fit_budget(keep=ref)
        return str(info["Id"])

    def _publish_progress(
        self, ref: str, job_id: str | None, layers: dict[str, tuple[int, int]], done: set[str], finished: bool
    ) -> None:
        self._bus.publish(
            "job.pull.progress",
            job_id=job_id,
            image=ref,
            layers_total=len(set(layers) | done),
            layers_done=len(done),
            bytes_done=sum(current for current, _ in layers.values()),
            bytes_total=sum(total for _, total in layers.values()),
            finished=finished,
        )

    def prepull(self, refs: list[str]) -> dict[str, str]:
        """Pull every missing image of the pre-pull list (kept from then on); returns {ref: problem} for failures."""
        import docker.errors

        self.pinned.update(refs)
        problems: dict[str, str] = {}
        for ref in refs:
            try:
                self._api.inspect_image(ref)
                continue
            except docker.errors.ImageNotFound:
                pass
            except docker.errors.APIError as exc:
                problems[ref] = str(exc.explanation or exc)
                continue
            try:
                self.pull(ref)
            except PullError as exc:
                problems[ref] = str(exc)
        return problems

    # ------------------------------------------------------------ the budget

    def tracked(self) -> list[CachedImage]:
        rows = self._store.query("SELECT key, value FROM kv WHERE key LIKE ?", (_KV_PREFIX + "%",))
        images = []
        for row in rows:
            try:
                data = json.loads(row["value"])
                images.append(CachedImage(**data))
            except (ValueError, TypeError):
                log.warning("ignoring unreadable image cache entry %s", row["key"])
        return images

    def touch(self, ref: str) -> None:
        """Mark a tracked image used (LRU); untracked (the user's own) images are not recorded."""
        value = self._store.get_kv(_KV_PREFIX + ref)
        if value is None:
            return
        try:
            data = json.loads(value)
        except ValueError:
            return
        data["last_used"] = time.time()
        self._store.set_kv(_KV_PREFIX + ref, json.dumps(data))

    def prune(self, keep: set[str] | None = None) -> list[str]:
        """Remove least recently used hostapp-pulled images until they fit the budget (pinned ones stay)."""
        import docker.errors

        keep = (keep or set()) | self.pinned
        images = sorted(self.tracked(), key=lambda image: image.last_used)
        total = sum(image.size for image in images)
        removed: list[str] = []
        for image in images:
            if total <= self.budget_bytes:
                break
            if image.ref in keep:
                continue
            try:
                self._api.remove_image(image.ref)
            except docker.errors.ImageNotFound:
                pass
            except docker.errors.APIError as exc:  # in use by a container: keep it
                log.info("image %s kept: %s", image.ref, exc.explanation or exc)
                continue
            self._store.execute("DELETE FROM kv WHERE key = ?", (_KV_PREFIX + image.ref,))
            total -= image.size
            removed.append(image.ref)
        return removed

    def _fit_budget(self, keep: str) -> None:
        """After a pull: back within the budget; images in use by containers stay (the engine refuses)."""
        try:
            removed = self.prune(keep={keep})
        except Exception as exc:  # a cache that cannot shrink now must not fail the pull that fills it
            log.warning("image cache pruning failed: %s", exc)
            return
        if removed:
            log.info("image cache over budget: removed %s", ", ".join(removed))

    def _record(self, image: CachedImage) -> None:
        self._store.set_kv(_KV_PREFIX + image.ref, json.dumps(image.__dict__))


def _with_tag(name: str) -> str:
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def _pull_reason(ref: str, message: str) -> str:
    lowered = message.lower()
    if "no space left" in lowered:
        # Pruning after each pull keeps only hostapp's own images in budget: name the disk and what to do.
        return (
            f"not enough disk space to pull {ref} (no space left on device): free space on the disk that holds "
            "Docker's data (`docker info` shows it as Docker Root Dir, `docker system df` shows what uses it), "
            "then retry"
        )
    if any(word in lowered for word in ("denied", "unauthorized", "authentication required", "forbidden")):
        return f"pull of {ref} denied by the registry: {message.splitlines()[0][:200]}"
    if "not found" in lowered or "manifest unknown" in lowered:
        return f"image {ref} not found in its registry: {message.splitlines()[0][:200]}"
    return f"cannot pull {ref}: {message.splitlines()[0][:200]}"
