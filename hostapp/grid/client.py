"""The node's grid client: signed calls over httpx, with retries and backoff (a `GridBackend`).

Every attempt of every call is signed afresh (new timestamp and nonce), so a retry is never a
replay. Transport failures, 5xx, 408 and 429 are retried with exponential backoff and full jitter;
other 4xx are final and published as "grid.rejected". After the retries the grid is "offline"
(published once per transition, with the reason) until a call gets through ("grid.online").

Bodies and answers are the shared models of hostapp/grid/models.py, the ones the server validates
against: a request is built as a model (so a field the grid would refuse fails here, in a test, not
on a user's machine) and every answer is parsed into one (a malformed answer is a GridRejected).

It delivers one result at a time (`deliver_result`); keeping results until the grid has answered
is the node's outbox (hostapp/node/outbox.py), whichever backend it works for.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ValidationError

from hostapp.grid.models import (
    Credits,
    Heartbeat,
    HeartbeatResponse,
    JobResult,
    LeaseRequest,
    LeaseResponse,
    NodeInfo,
    NodeRegistration,
    Release,
    Released,
    ResultAccepted,
    TunnelEndpoint,
)
from hostapp.grid.signing import Signer, sign_request
from hostapp.jobs.limits import MAX_DEFINITION_BYTES

if TYPE_CHECKING:
    from hostapp.events import EventBus
    from hostapp.jobs.definition import GridJob

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429})
# Largest answer read from a grid: a lease carries one definition (at most MAX_DEFINITION_BYTES of
# compact JSON) and a few fields, so a grid that sends more is refused before it fills the node's memory.
MAX_RESPONSE_BYTES = 4 * MAX_DEFINITION_BYTES
Answer = TypeVar("Answer", bound=BaseModel)

# What the user does about a refusal, by the grid's error code (docs/grid-protocol.md lists them).
REJECTION_FIXES = {
    "invalid_request": "this hostapp and the grid disagree on the protocol: update hostapp "
    "(or the grid, if you run it), then restart it",
    "stale": "set this machine's clock right (enable NTP time sync), then restart hostapp",
    "bad_signature": "the wallet key changed under the running app: restart hostapp",
    "replayed": "restart hostapp; if it persists, check for a second hostapp using the same wallet",
    "not_registered": "restart hostapp so it registers again",
    "too_large": "update hostapp: it sent more than the grid accepts",
}
DEFAULT_REJECTION_FIX = "check the grid URL in Settings; if it persists, export a diagnostics bundle and report it"


class GridUnavailable(Exception):
    """The grid could not be reached (or kept failing) after the retries."""


class GridRejected(Exception):
    """The grid answered and refused the call; retrying the same call will not help."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"grid refused the request ({status} {code}): {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def fix(self) -> str:
        return REJECTION_FIXES.get(self.code, DEFAULT_REJECTION_FIX)


class LeaseLost(GridRejected):
    """The lease is gone (expired and re-offered, or completed elsewhere): stop the job."""


@dataclass
class Lease:
    """A job leased to this node. Expiry is tracked on the local monotonic clock, immune to clock skew."""

    job_id: str
    attempt: int
    price_per_second: int
    timeout_seconds: int
    definition: dict[str, Any]
    gpu_uuid: str | None
    lease_seconds: int
    heartbeat_seconds: int
    expires_monotonic: float = field(default=0.0)

    def expires_in(self) -> float:
        return self.expires_monotonic - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.expires_in() <= 0

    def heartbeat_due(self) -> bool:
        return self.expires_in() <= self.lease_seconds - self.heartbeat_seconds

    def grid_job(self) -> GridJob:
        """The definition parsed for the runner; raises JobDefinitionError if this node cannot read it."""
        from hostapp.jobs.definition import GridJob, parse_job_definition

        return GridJob(
            job_id=self.job_id,
            attempt=self.attempt,
            price_per_second=self.price_per_second,
            timeout_seconds=self.timeout_seconds,
            definition=parse_job_definition(self.definition),
        )


class GridClient:
    def __init__(
        self,
        base_url: str,
        signer: Signer,
        *,
        bus: EventBus | None = None,
        timeout: float = 10.0,
        retries: int = 4,
        backoff_base: float = 0.25,
        backoff_max: float = 8.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.bus = bus
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._http = httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(timeout))
        self._online: bool | None = None
        self._state_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GridClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def online(self) -> bool | None:
        """None until the first call; then whether the last call reached the grid."""
        return self._online

    # ------------------------------------------------------------ calls

    def register(self, registration: NodeRegistration | None = None) -> NodeInfo:
        """PUT /v1/node: no registration registers a CPU-only node with nothing but its key."""
        body = registration or NodeRegistration()
        return self._parse(NodeInfo, self._request("PUT", "/v1/node", body))

    def node_info(self) -> NodeInfo:
        """What the grid knows of this node (payout address, GPUs, versions)."""
        return self._parse(NodeInfo, self._request("GET", "/v1/node"))

    def lease(
        self,
        wait_seconds: float = 20.0,
        free_gpus: list[str] | None = None,
        accept_cpu_jobs: bool = True,
        held_resources: list[str] | None = None,
    ) -> Lease | None:
        """Long-polls up to `wait_seconds` for a job; None when none came. `held_resources`: the model
        cache's resource ids, so the grid can give this node a job whose models it already holds."""
        body = LeaseRequest(
            wait_seconds=wait_seconds,
            free_gpus=free_gpus or [],
            accept_cpu_jobs=accept_cpu_jobs,
            held_resources=held_resources or [],
        )
        response = self._request("POST", "/v1/node/lease", body, read_timeout=wait_seconds + self.timeout)
        if response.status_code == 204:
            return None
        received = time.monotonic()
        wire = self._parse(LeaseResponse, response)
        fields = wire.model_dump(exclude={"lease_expires_at"})
        return Lease(**fields, expires_monotonic=received + wire.lease_seconds)

    def heartbeat(
        self,
        lease: Lease,
        *,
        progress: float | None = None,
        state: str | None = None,
        telemetry: dict[str, int | float | str | None] | None = None,
    ) -> Lease:
        """Extends the lease; raises LeaseLost when the grid gave the job to someone else."""
        body = Heartbeat(progress=progress, state=state, telemetry=telemetry)
        sent = time.monotonic()
        # Retrying past the lease's expiry is pointless: the job is being re-offered by then.
        response = self._request("POST", _attempt_path(lease, "heartbeat"), body, deadline=lease.expires_monotonic)
        lease.expires_monotonic = sent + self._parse(HeartbeatResponse, response).lease_seconds
        return lease

    def release(self, lease: Lease, reason: str = "") -> Released:
        body = Release(reason=reason[:512])
        return self._parse(Released, self._request("POST", _attempt_path(lease, "release"), body))

    def tunnel_endpoint(self) -> TunnelEndpoint:
        """The grid's SSH edge for service jobs: host, port and its host key to pin (docs/services.md)."""
        return self._parse(TunnelEndpoint, self._request("GET", "/v1/node/tunnel"))

    def credits(self) -> Credits:
        return self._parse(Credits, self._request("GET", "/v1/node/credits"))

    def deliver_result(self, job_id: str, attempt: int, result: JobResult) -> ResultAccepted:
        """PUT one result. Keeping it until the grid answers is the node's outbox (hostapp/node/outbox.py)."""
        path = f"/v1/node/jobs/{job_id}/attempts/{attempt}/result"
        response = self._request("PUT", path, raw_body=result.model_dump_json().encode("utf-8"))
        return self._parse(ResultAccepted, response)

    # ------------------------------------------------------------ transport

    def _request(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        *,
        raw_body: bytes | None = None,
        params: dict[str, str] | None = None,
        read_timeout: float | None = None,
        deadline: float | None = None,
    ) -> httpx.Response:
        content = raw_body if raw_body is not None else (b"" if body is None else _canonical_json(body))
        query = urlencode(params or {})
        url = f"{path}?{query}" if query else path
        timeout = httpx.Timeout(self.timeout, read=read_timeout) if read_timeout else None
        reason = ""
        for attempt in range(self.retries + 1):
            headers = sign_request(self.signer, method, path, query, content)
            if content:
                headers["Content-Type"] = "application/json"
            retry_after: float | None = None
            try:
                response = _send_capped(
                    self._http, method, url, content or None, headers, timeout or httpx.USE_CLIENT_DEFAULT
                )
            except httpx.TimeoutException as exc:
                reason = f"grid at {self.base_url} timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                reason = f"grid at {self.base_url} unreachable: {exc or type(exc).__name__}"
            else:
                status = response.status_code
                if status < 400:
                    self._set_online()
                    return response
                code, message = _error_of(response)
                if status >= 500 or status in RETRYABLE_STATUS:
                    reason = f"grid at {self.base_url} answered {status} {code}: {message}"
                    retry_after = _retry_after(response)
                else:
                    self._set_online()
                    self._publish("grid.rejected", status=status, code=code, message=message, path=path)
                    error = LeaseLost if code in ("lease_lost", "no_lease") else GridRejected
                    raise error(status, code, message)
            if attempt == self.retries:
                break
            delay = random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))
            if retry_after is not None:
                delay = min(self.backoff_max, max(delay, retry_after))
            if deadline is not None and time.monotonic() + delay >= deadline:
                break
            log.debug("grid call %s %s failed (%s); retrying in %.2f s", method, path, reason, delay)
            time.sleep(delay)
        self._set_offline(reason)
        raise GridUnavailable(reason)

    def _set_online(self) -> None:
        with self._state_lock:
            changed = self._online is not True
            self._online = True
        if changed:
            self._publish("grid.online")

    def _set_offline(self, reason: str) -> None:
        with self._state_lock:
            changed = self._online is not False
            self._online = False
        if changed:
            log.warning("grid offline: %s", reason)
            self._publish("grid.offline", reason=reason)

    def _publish(self, topic: str, **data: Any) -> None:
        if self.bus is not None:
            self.bus.publish(topic, url=self.base_url, **data)

    def _parse(self, model: type[Answer], response: httpx.Response) -> Answer:
        """The answer as the route's declared model; a malformed one is a refusal, not a KeyError."""
        try:
            data = response.json()
        except ValueError:
            raise GridRejected(response.status_code, "bad_response", "grid answered with non-JSON") from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or model.__name__
            raise GridRejected(
                response.status_code, "bad_response", f"malformed {model.__name__}: {where}: {first.get('msg', '')}"
            ) from None


def _send_capped(
    http: httpx.Client, method: str, url: str, content: bytes | None, headers: dict[str, str], timeout: Any
) -> httpx.Response:
    """The grid's answer, read up to MAX_RESPONSE_BYTES; GridRejected("too_large") past that."""
    request = http.build_request(method, url, content=content, headers=headers, timeout=timeout)
    response = http.send(request, stream=True)
    chunks: list[bytes] = []
    try:
        declared = response.headers.get("content-length", "0")
        size = int(declared) if declared.isdigit() else 0
        for chunk in response.iter_bytes() if size <= MAX_RESPONSE_BYTES else ():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                break
            chunks.append(chunk)
    finally:
        response.close()
    if size > MAX_RESPONSE_BYTES:
        raise GridRejected(response.status_code, "too_large", f"grid answered with over {MAX_RESPONSE_BYTES} bytes")
    kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _BODY_FRAMING]
    return httpx.Response(response.status_code, headers=kept, content=b"".join(chunks), request=request)


# The body above is already decoded and whole: these headers described the bytes on the wire.
_BODY_FRAMING = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _attempt_path(lease: Lease, action: str) -> str:
    return f"/v1/node/jobs/{lease.job_id}/attempts/{lease.attempt}/{action}"


def _canonical_json(body: BaseModel) -> bytes:
    return json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode("utf-8")


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error", {})
        return str(error.get("code", f"http_{response.status_code}")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        return f"http_{response.status_code}", response.text[:200]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
