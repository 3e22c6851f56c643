"""Images for jobs: pulls with progress events and digest checks, and a disk budget for what hostapp pulled.

Only images hostapp itself pulled are tracked (store kv keys `image_cache:<ref>`) and only those are
ever pruned: the user's own images are never touched.

Grid jobs are strangers' code, so their images follow stricter rules (`admit_for_grid`, docs/sandbox.md):
- a pull never carries the user's registry logins (~/.docker/config.json): only the job's own
  credentials, else an explicitly empty auth, which the Docker SDK then does not replace with the user's;
- the registry host must resolve to public addresses only: a reference naming `127.0.0.1:PORT`, a LAN or
  link-local host would make the root daemon send requests there, even for a job with no network
  (hosts listed in `image_cache.trusted_registries` are the user's exception, e.g. a LAN mirror);
- an image already on this machine runs only if a job could have got it itself: hostapp pulled it
  with no credentials, or it never came from a registry under that name (built or tagged here);
  otherwise the job pulls it first, with its own credentials only, and a private image is refused.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from collections.abc import Iterable
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
    # Pulled with no credentials at all: any job could have pulled it, so grid jobs may reuse it.
    public: bool = False


def split_digest(ref: str) -> tuple[str, str | None]:
    if "@" in ref:
        name, digest = ref.split("@", 1)
        return name, digest
    return ref, None


def registry_host(ref: str) -> str | None:
    """The registry `host[:port]` a reference names, or None for Docker Hub (Docker's own parsing rule:
    the first path component is a registry when it has a `.` or `:`, or is `localhost`)."""
    name, _ = split_digest(ref)
    first, slash, _rest = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        return None
    if first in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return None
    return first.lower()


def repository(ref: str) -> str:
    """`docker.io/library/ubuntu:22.04` -> `ubuntu`: the name as the engine lists it in RepoDigests."""
    name, _ = split_digest(ref)
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rfind(":")]
    for prefix in ("docker.io/", "index.docker.io/"):
        name = name.removeprefix(prefix)
    if registry_host(name) is None:
        name = name.removeprefix("library/")
    return name.lower()


def _split_host_port(host: str) -> tuple[str, int]:
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        return address, int(rest.lstrip(":") or 443)
    name, _, port = host.partition(":")
    return name, int(port) if port.isdigit() else 443


def non_public_addresses(host: str) -> list[str]:
    """The addresses `host` resolves to that are not public (loopback, private, link-local, CGNAT, ...).

    Raises OSError when the name does not resolve.
    """
    name, port = _split_host_port(host)
    found = []
    for *_, sockaddr in socket.getaddrinfo(name, port, proto=socket.IPPROTO_TCP):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            found.append(str(address))
    return sorted(set(found))


def non_public_host_problem(host: str, trusted: Iterable[str]) -> str | None:
    """Why grid work may not reach `host` (name or name:port) from this machine ("resolves to …",
    "does not resolve …"), or None.

    The host itself fetches (dockerd for an image, hostapp for a model), so a name that resolves to
    loopback, the LAN or link-local is a way into the user's network; `trusted` names (with or
    without the port) are the user's own servers and exempt.
    """
    allowed = {entry.lower() for entry in trusted}
    if host.lower() in allowed or _split_host_port(host)[0].lower() in allowed:
        return None
    try:
        private = non_public_addresses(host)
    except (OSError, UnicodeError, ValueError) as exc:
        return f"does not resolve ({exc})"
    if private:
        return f"resolves to the non-public address {', '.join(private[:3])} (loopback, LAN or link-local)"
    return None


class ImageCache:
    def __init__(self, api: Any, store: Store, bus: EventBus, budget_mb: int) -> None:
        self._api = api
        self._store = store
        self._bus = bus
        self.budget_bytes = budget_mb * 1024 * 1024
        self.pinned: set[str] = set()  # the pre-pull list: never pruned
        # Registry hosts (host[:port]) grid jobs may pull from although they resolve to a private address.
        self.trusted_registries: set[str] = set()

    # ------------------------------------------------------------ grid jobs

    def admit_for_grid(self, ref: str, auth: dict[str, str] | None, job_id: str | None = None) -> None:
        """Make `ref` ready for a grid job under the rules in the module doc; PullError says why not."""
        import docker.errors

        self.check_registry(ref)
        try:
            info = self._api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            info = None
        except docker.errors.APIError as exc:
            raise PullError(f"cannot inspect image {ref}: {exc.explanation or exc}") from None
        if info is not None and self._reusable_for_grid(ref, info):
            return
        try:
            self.pull(ref, auth, job_id, user_credentials=False)
        except PullError as exc:
            if info is None:
                raise
            raise PullError(
                f"image {ref} is on this machine, but a grid job may use it only if it can pull it itself "
                f"(without your registry logins), and it could not: {exc}"
            ) from None

    def check_registry(self, ref: str) -> None:
        """Refuse a reference whose registry host is not public (unless trusted in the settings)."""
        host = registry_host(ref)
        problem = None if host is None else non_public_host_problem(host, self.trusted_registries)
        if problem is not None:
            raise PullError(
                f"image {ref}: grid jobs may not pull from registry host {host}: it {problem}; to allow a "
                "registry you run yourself, add it to the setting image_cache.trusted_registries"
            )

    def _reusable_for_grid(self, ref: str, info: dict[str, Any]) -> bool:
        """Present locally and a job could have got it without the user's credentials."""
        tracked = self._tracked(ref)
        if tracked is not None and tracked.public and tracked.image_id == info.get("Id"):
            return True
        wanted = repository(ref)
        from_registry = [d for d in info.get("RepoDigests") or [] if repository(d) == wanted]
        return not from_registry  # built or tagged on this machine: never pulled under this name

    def _tracked(self, ref: str) -> CachedImage | None:
        value = self._store.get_kv(_KV_PREFIX + ref)
        if value is None:
            return None
        try:
            return CachedImage(**json.loads(value))
        except (ValueError, TypeError):
            return None

    # ------------------------------------------------------------ pulling

    def pull(
        self,
        ref: str,
        auth: dict[str, str] | None = None,
        job_id: str | None = None,
        *,
        user_credentials: bool = True,
    ) -> str:
        """Pull `ref` (name[:tag][@sha256:…]); publishes job.pull.progress; returns the image id.

        `auth` is the job's own registry login. Without it, `user_credentials=False` sends an explicit
        empty auth: the SDK would otherwise send the user's login from ~/.docker/config.json.
        """
        import docker.errors

        name, digest = split_digest(ref)
        layers: dict[str, tuple[int, int]] = {}
        done: set[str] = set()
        last_publish = 0.0
        auth_config: dict[str, str] | None = auth if auth is not None or user_credentials else {}
        try:
            stream = self._api.pull(
                ref if digest else _with_tag(name), stream=True, decode=True, auth_config=auth_config
            )
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
        public = auth is None and not user_credentials
        self._record(CachedImage(ref, str(info["Id"]), int(info.get("Size") or 0), now, now, public))
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
        """Pull every missing image of the pre-pull list (kept from then on); returns {ref: problem} for failures.

        The list is the user's own (no registry-host check), but it is pulled for grid jobs, so without
        the user's registry logins: a grid job may use only what it could pull itself.
        """
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
                self.pull(ref, user_credentials=False)
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
    refusals = ("denied", "unauthorized", "authentication required", "forbidden", "no basic auth credentials")
    if any(word in lowered for word in refusals):
        return f"pull of {ref} denied by the registry: {message.splitlines()[0][:200]}"
    if "not found" in lowered or "manifest unknown" in lowered:
        return f"image {ref} not found in its registry: {message.splitlines()[0][:200]}"
    return f"cannot pull {ref}: {message.splitlines()[0][:200]}"
