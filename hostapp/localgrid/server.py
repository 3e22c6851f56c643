"""The grid server: FastAPI over the SQLite `GridStore`. The embedded default and `hostapp devgrid serve`.

Node calls (/v1/node/...) are authenticated by `SignatureMiddleware` before FastAPI sees them, so
an unsigned or replayed request is a 401 whatever its body. Owner calls (/v1/jobs) need the
install's owner token (`Authorization: Bearer …`, see `hostapp.localgrid.owner_token`): the server listens
on 127.0.0.1, which every local process and, through the browser, every web page can reach.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import anyio
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from hostapp import __version__
from hostapp.config.atomic import write_private
from hostapp.grid import models
from hostapp.grid.signing import DEFAULT_WINDOW_SECONDS, SignatureRejected, verify_request
from hostapp.localgrid.asgi_body import ASGIApp, BodyTooLarge, Receive, Scope, Send, read_body, replay
from hostapp.localgrid.demo import (
    DEMO_PRICE_PER_SECOND,
    DEMO_SERVICE_EVERY,
    DEMO_SERVICE_SECONDS,
    DEMO_TIMEOUT_SECONDS,
    FEE_FUNDING_LAMPORTS,
    demo_definition,
    demo_service_definition,
    demo_token_price,
)
from hostapp.localgrid.demo_poster import DemoPoster
from hostapp.localgrid.owner_token import bearer, new_token
from hostapp.localgrid.payouts import PayoutSink, PayoutWorker
from hostapp.localgrid.service_routes import add_service_routes
from hostapp.localgrid.store import GridError, GridStore
from hostapp.localgrid.tunnel_edge import EdgeRunner, GridStoreLeases
from hostapp.localgrid.validation import validate_definition
from hostapp.localgrid.yaml_submission import YamlSubmissionMiddleware

log = logging.getLogger(__name__)

NODE_PREFIX = "/v1/node"
ENDPOINT_FILE = "endpoint.json"  # {"url", "pid"} of a running LocalGrid (0600), in its state folder
MAX_BODY_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class GridConfig:
    lease_seconds: int = 30
    heartbeat_seconds: int = 10
    signature_window_seconds: int = DEFAULT_WINDOW_SECONDS
    demo_feed: bool = False
    # SOL given once to each newly registered node so it can pay withdrawal fees (0: none).
    fee_funding_lamports: int = 0


@runtime_checkable
class FeeFunder(Protocol):
    """A chain with a faucet (hostapp.chain.LocalChain): how the embedded grid funds new nodes' fees."""

    def airdrop(self, pubkey: str, lamports: int) -> str: ...


class JobSignal:
    """Wakes long-polling lease calls when a job becomes available (safe to fire from any thread)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def current(self) -> asyncio.Event:
        """The event to wait on; take it *before* looking for a job so a job queued meanwhile is not missed."""
        if self._event is None:
            self._loop = asyncio.get_running_loop()
            self._event = asyncio.Event()
        return self._event

    def notify(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        if self._event is not None:
            self._event.set()
        self._event = asyncio.Event()


class GridService:
    """What the HTTP layer calls: store, matching, payouts and the demo feed, with no HTTP in it."""

    def __init__(self, store: GridStore, config: GridConfig, payouts: PayoutSink | None = None) -> None:
        self.store = store
        self.config = config
        self.signal = JobSignal()
        self.payouts = PayoutWorker(store, payouts) if payouts is not None else None
        self.funder = payouts if isinstance(payouts, FeeFunder) else None
        self._demo_lock = threading.Lock()
        self._demo_fed = 0

    def start(self) -> None:
        if self.payouts:
            self.payouts.start()
        self.feed_demo()

    def stop(self) -> None:
        if self.payouts:
            self.payouts.stop()

    def feed_demo(self) -> None:
        if not self.config.demo_feed:
            return
        with self._demo_lock:
            if self.store.queued_count(demo=True) == 0:
                self._demo_fed += 1
                service = self._demo_fed % DEMO_SERVICE_EVERY == 0
                definition = demo_service_definition() if service else demo_definition()
                _, requirements = validate_definition(definition)
                self.store.submit_job(
                    definition,
                    DEMO_PRICE_PER_SECOND,
                    DEMO_SERVICE_SECONDS if service else DEMO_TIMEOUT_SECONDS,
                    gpu=requirements.gpu,
                    min_vram_mb=requirements.min_vram_mb,
                    min_cuda=requirements.min_cuda,
                    demo=True,
                )
                self.signal.notify()

    def submit(self, submission: models.JobSubmission) -> str:
        definition, requirements = validate_definition(submission.definition)
        job_id = self.store.submit_job(
            definition,
            submission.price_per_second,
            submission.timeout_seconds,
            gpu=requirements.gpu,
            min_vram_mb=requirements.min_vram_mb,
            min_cuda=requirements.min_cuda,
        )
        self.signal.notify()
        return job_id

    async def lease(self, node: str, request: models.LeaseRequest) -> models.LeaseResponse | None:
        deadline = time.monotonic() + request.wait_seconds
        while True:
            event = self.signal.current()
            lease = await anyio.to_thread.run_sync(
                lambda: self.store.claim(
                    node,
                    request.free_gpus,
                    request.accept_cpu_jobs,
                    self.config.lease_seconds,
                    time.time(),
                    request.held_resources,
                )
            )
            if lease is not None:
                if lease.demo:
                    await anyio.to_thread.run_sync(self.feed_demo)
                return models.LeaseResponse(
                    job_id=lease.job_id,
                    attempt=lease.attempt,
                    price_per_second=lease.price_per_second,
                    timeout_seconds=lease.timeout_seconds,
                    definition=lease.definition,
                    gpu_uuid=lease.gpu_uuid,
                    lease_seconds=self.config.lease_seconds,
                    heartbeat_seconds=self.config.heartbeat_seconds,
                    lease_expires_at=int(lease.expires_at),
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # Wake on a new job, or after a second to look again for leases that expired meanwhile.
            try:
                await asyncio.wait_for(event.wait(), timeout=min(remaining, 1.0))
            except TimeoutError:
                pass

    def register(self, node: str, registration: models.NodeRegistration) -> dict[str, Any]:
        """Registers (or updates) a node; a new one gets SOL for withdrawal fees where this grid can give it:
        payouts come in the grid token only, and without SOL the user could never move them."""
        new = self.store.node(node) is None
        info = self.store.upsert_node(node, registration.model_dump(), time.time())
        if new and self.funder is not None and self.config.fee_funding_lamports > 0:
            try:
                self.funder.airdrop(node, self.config.fee_funding_lamports)
            except Exception:  # funding is a courtesy: a failure must not refuse the node
                log.warning("could not fund node %s with SOL for fees", node, exc_info=True)
        return info

    def health(self) -> models.Health:
        demo = self.config.demo_feed  # the demo grid declares its demo rate and its demo job's price
        now = int(time.time())
        return models.Health(
            status="ok",
            version=__version__,
            time=now,
            jobs_queued=self.store.queued_count(),
            token_price=models.TokenPrice(**demo_token_price(now)) if demo else None,
            offered_price_per_second=DEMO_PRICE_PER_SECOND if demo else None,
        )

    def record_result(self, node: str, job_id: str, attempt: int, result: models.JobResult) -> dict[str, Any]:
        accepted, credit = self.store.record_result(node, job_id, attempt, result.model_dump(), time.time())
        if result.status == "stopped":
            self.signal.notify()
        if credit is not None and self.payouts:
            self.payouts.notify()
        return accepted


def _error(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


class BodyLimitMiddleware:
    """Every route's request body is read here first, up to MAX_BODY_BYTES, then replayed to the app.

    FastAPI itself reads a body whole before validating it: a 400 MB job submission once took the
    grid to 2.3 GB of memory. A declared Content-Length over the limit is refused before reading.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = _error(413, "too_large", f"request body over {MAX_BODY_BYTES} bytes")
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            await too_large(scope, receive, send)
            return
        try:
            body = await read_body(receive, MAX_BODY_BYTES)
        except BodyTooLarge:
            await too_large(scope, receive, send)
            return
        if body is not None:
            await self.app(scope, replay(body, receive), send)


class SignatureMiddleware:
    """Verifies the signature of every /v1/node request over its exact bytes, then replays the body."""

    def __init__(self, app: ASGIApp, store: GridStore, window_seconds: int) -> None:
        self.app = app
        self.store = store
        self.window_seconds = window_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(NODE_PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, MAX_BODY_BYTES)
        except BodyTooLarge as exc:
            await _error(413, "too_large", str(exc))(scope, receive, send)
            return
        if body is None:
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            verified = await anyio.to_thread.run_sync(
                lambda: verify_request(
                    headers,
                    scope["method"],
                    scope["path"],
                    scope.get("query_string", b"").decode("latin-1"),
                    body,
                    self.store,
                    window_seconds=self.window_seconds,
                )
            )
        except SignatureRejected as exc:
            await _error(401, exc.reason, str(exc))(scope, receive, send)
            return
        scope.setdefault("state", {})["node"] = verified.node
        await self.app(scope, replay(body, receive), send)


def create_app(service: GridService, owner_token: str | None = None, edge: EdgeRunner | None = None) -> FastAPI:
    """The HTTP app; owner routes accept only `owner_token` (None: a random one nobody knows, so closed)."""
    expected = (owner_token or new_token()).encode()
    scheme = HTTPBearer(auto_error=False, description="the install's grid owner token (hostapp devgrid reads it)")

    # A default, not Annotated[...]: postponed annotations cannot see the local `scheme`.
    def require_owner(credentials: HTTPAuthorizationCredentials | None = Depends(scheme)) -> None:  # noqa: B008
        given = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(given, expected):
            raise GridError(
                401,
                "owner_token",
                "owner calls need this install's grid owner token (Authorization: Bearer …): "
                "`hostapp devgrid` sends it, read from the config folder's grid-owner-token",
            )

    owner = [Depends(require_owner)]
    app = FastAPI(
        title="hostapp grid",
        version=__version__,
        description="The hostapp grid protocol: see docs/grid-protocol.md. Node calls are signed (Ed25519).",
    )
    errors: dict[int | str, dict[str, Any]] = {
        400: {"model": models.ErrorResponse},
        401: {"model": models.ErrorResponse, "description": "unsigned, forged, stale or replayed request"},
        404: {"model": models.ErrorResponse},
        409: {"model": models.ErrorResponse},
        422: {"model": models.ErrorResponse},
    }

    @app.exception_handler(GridError)
    async def grid_error(request: Request, exc: GridError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"path": ".".join(str(p) for p in err.get("loc", ())), "reason": str(err.get("msg", ""))}
            for err in exc.errors()
        ]
        first = details[0] if details else {"path": "", "reason": "invalid request"}
        return _error(422, "invalid_request", f"{first['path']}: {first['reason']}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, f"http_{exc.status_code}", str(exc.detail))

    node_auth_doc: dict[str, Any] = {
        "parameters": [
            {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
            for h in ("X-Hostapp-Node", "X-Hostapp-Timestamp", "X-Hostapp-Nonce", "X-Hostapp-Signature")
        ]
    }

    def node_of(request: Request) -> str:
        return str(request.state.node)

    @app.get("/v1/health", response_model=models.Health)
    def health() -> models.Health:
        return service.health()

    # ------------------------------------------------------------ owner calls

    @app.post("/v1/jobs", status_code=201, response_model=models.JobStatus, responses=errors, dependencies=owner)
    def submit_job(submission: models.JobSubmission) -> dict[str, Any]:
        job_id = service.submit(submission)
        status = service.store.job_status(job_id)
        assert status is not None
        return status

    @app.get("/v1/jobs", response_model=models.JobList, responses=errors, dependencies=owner)
    def list_jobs(
        state: models.JobState | None = None, limit: int = Query(default=100, ge=1, le=1000)
    ) -> dict[str, Any]:
        return {"jobs": service.store.list_jobs(state, limit)}

    @app.get("/v1/jobs/{job_id}", response_model=models.JobStatus, responses=errors, dependencies=owner)
    def job_status(job_id: str) -> dict[str, Any]:
        status = service.store.job_status(job_id)
        if status is None:
            raise GridError(404, "no_job", f"no job {job_id!r} on this grid")
        return status

    # ------------------------------------------------------------ node calls (signed)

    @app.put("/v1/node", response_model=models.NodeInfo, responses=errors, openapi_extra=node_auth_doc)
    def register(registration: models.NodeRegistration, request: Request) -> dict[str, Any]:
        return service.register(node_of(request), registration)

    @app.get("/v1/node", response_model=models.NodeInfo, responses=errors, openapi_extra=node_auth_doc)
    def node_info(request: Request) -> dict[str, Any]:
        found = service.store.node(node_of(request))
        if found is None:
            raise GridError(404, "not_registered", "node is not registered: call PUT /v1/node first")
        return found

    @app.post(
        "/v1/node/lease",
        response_model=models.LeaseResponse,
        responses={**errors, 204: {"description": "no job for this node within wait_seconds"}},
        openapi_extra=node_auth_doc,
    )
    async def lease(lease_request: models.LeaseRequest, request: Request) -> Any:
        leased = await service.lease(node_of(request), lease_request)
        return leased if leased is not None else Response(status_code=204)

    @app.post(
        "/v1/node/jobs/{job_id}/attempts/{attempt}/heartbeat",
        response_model=models.HeartbeatResponse,
        responses=errors,
        openapi_extra=node_auth_doc,
    )
    def heartbeat(job_id: str, attempt: int, beat: models.Heartbeat, request: Request) -> models.HeartbeatResponse:
        expires_at = service.store.heartbeat(
            node_of(request), job_id, attempt, beat.model_dump(), service.config.lease_seconds, time.time()
        )
        return models.HeartbeatResponse(lease_expires_at=int(expires_at), lease_seconds=service.config.lease_seconds)

    @app.post(
        "/v1/node/jobs/{job_id}/attempts/{attempt}/release",
        response_model=models.Released,
        responses=errors,
        openapi_extra=node_auth_doc,
    )
    def release(job_id: str, attempt: int, body: models.Release, request: Request) -> models.Released:
        state = service.store.release(node_of(request), job_id, attempt, time.time())
        service.signal.notify()
        return models.Released(job_id=job_id, attempt=attempt, job_state=state)  # type: ignore[arg-type]

    @app.put(
        "/v1/node/jobs/{job_id}/attempts/{attempt}/result",
        response_model=models.ResultAccepted,
        responses=errors,
        openapi_extra=node_auth_doc,
    )
    def submit_result(job_id: str, attempt: int, result: models.JobResult, request: Request) -> dict[str, Any]:
        return service.record_result(node_of(request), job_id, attempt, result)

    @app.get("/v1/node/credits", response_model=models.Credits, responses=errors, openapi_extra=node_auth_doc)
    def credits(request: Request) -> dict[str, Any]:
        return service.store.credits(node_of(request))

    if edge is not None:  # service jobs: tunnel endpoint, URLs, stop (hostapp/localgrid/service_routes.py)
        add_service_routes(app, edge, service.store, owner, errors, node_auth_doc)
    app.add_middleware(
        SignatureMiddleware,
        store=service.store,
        window_seconds=service.config.signature_window_seconds,
    )
    # POST /v1/jobs with a YAML body becomes the JSON submission (after the size cap, before the route).
    app.add_middleware(YamlSubmissionMiddleware, owner_token=expected)
    app.add_middleware(BodyLimitMiddleware)  # added last: runs first, on every route
    return app


class LocalGrid:
    """The grid server in this process: uvicorn in a thread on 127.0.0.1, state in `state_dir`.

    `port=0` picks a free port; pass the previous port to come back at the same URL after `stop()`.
    """

    def __init__(
        self,
        state_dir: Path,
        chain: PayoutSink | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        config: GridConfig | None = None,
        owner_token: str | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.chain = chain
        self.host = host
        self.port = port
        self.config = config or GridConfig(demo_feed=True, fee_funding_lamports=FEE_FUNDING_LAMPORTS)
        # The install's token (hostapp.localgrid.owner_token) for the app and devgrid; tests get a fresh one.
        self.owner_token = owner_token or new_token()
        self._server: Any = None
        self.service: GridService | None = None
        self.edge: EdgeRunner | None = None
        self.poster: DemoPoster | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def owner_headers(self) -> dict[str, str]:
        """Headers for owner calls (POST/GET /v1/jobs)."""
        return bearer(self.owner_token)

    def start(self, timeout: float = 15.0) -> str:
        from hostapp.localgrid.loopback import JSON_BODIES, YAML_BODIES, LoopbackServer

        self.state_dir.mkdir(parents=True, exist_ok=True)
        store = GridStore(self.state_dir / "grid.sqlite3")
        self.service = GridService(store, self.config, self.chain)
        self.service.start()
        self.edge = EdgeRunner(GridStoreLeases(store))  # the SSH edge service jobs tunnel to (docs/services.md)
        self.edge.start()
        if self.config.demo_feed:
            self.poster = DemoPoster(self.edge)
            self.poster.start()
        try:
            self._server = LoopbackServer(
                create_app(self.service, self.owner_token, self.edge),
                "local-grid",
                self.host,
                self.port,
                body_types=JSON_BODIES | YAML_BODIES,  # POST /v1/jobs takes YAML (yaml_submission.py)
                log_level="warning",
                timeout_graceful_shutdown=2,
            )
        except OSError:
            self.edge.stop()
            self.service.stop()
            store.close()
            self.service = None
            raise
        self.port = self._server.port
        self._server.start(timeout)
        # Where other processes of this install (`hostapp wallet balance`) read this grid's rate.
        write_private(self.state_dir / ENDPOINT_FILE, json.dumps({"url": self.url, "pid": os.getpid()}).encode())
        log.info("local grid listening on %s (state in %s)", self.url, self.state_dir)
        return self.url

    def stop(self) -> None:
        if self.poster is not None:
            self.poster.stop()
            self.poster = None
        if self._server is not None:
            self._server.stop()
            (self.state_dir / ENDPOINT_FILE).unlink(missing_ok=True)
        if self.edge is not None:
            self.edge.stop()
            self.edge = None
        if self.service is not None:
            self.service.stop()
            self.service.store.close()
        self._server = self.service = None

    def __enter__(self) -> LocalGrid:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def openapi_document(state_dir: Path) -> str:
    """The OpenAPI document as JSON text (for docs and tooling)."""
    store = GridStore(state_dir / "grid.sqlite3")
    try:
        return json.dumps(create_app(GridService(store, GridConfig())).openapi(), indent=2)
    finally:
        store.close()
