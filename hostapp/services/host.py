"""The runner's hook for service ops: health checks, the tunnel while the op runs, and what its result records.

`started()` is called once the service container runs, `ended()` once it has stopped. Between the two,
on the services loop: the checks gate readiness; once ready the tunnel to the grid's edge opens (when
this process works for a grid that has one) and is re-opened if the connection drops while the job
runs; continuous checks keep watching. Outcomes:
- the service ran until its timeout, or the poster stopped it: the op *succeeded* (it served; billed per
  started second like a batch job);
- it never passed its checks within `startup_seconds`: the job is stopped and the op *failed*;
- stopped by the node (preemption grace over, lease lost, shutdown): *stopped*, as any job.
Events: `service.health` (state, detail), `service.tunnel` (open / closed, with the reason).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hostapp.events import EventBus
from hostapp.jobs.definition import GridJob, ResultsByOp, RunArgs
from hostapp.services.expose import ServicePort, resolved_ports
from hostapp.services.health import READY, UNHEALTHY, HealthMonitor, HealthPolicy
from hostapp.services.loop import LoopThread
from hostapp.services.network import DestinationRefused, checked_destination
from hostapp.services.settings import ServiceSettings
from hostapp.services.tunnel_types import POSTER_STOP, EdgeAddress, Signer, TunnelError, TunnelStats

if TYPE_CHECKING:
    from hostapp.services.tunnel import ServiceTunnel

log = logging.getLogger(__name__)

TRAFFIC_EVERY_SECONDS = 5.0

RECONNECT_MAX_SECONDS = 15.0


@dataclass
class RunningService:
    job_id: str
    attempt: int
    op_id: str
    address: str
    ports: tuple[ServicePort, ...]
    monitor: HealthMonitor
    future: concurrent.futures.Future[None] | None = None
    tunnel: ServiceTunnel | None = None
    closed_stats: TunnelStats = field(default_factory=TunnelStats)  # of tunnels that closed before this one
    stopped_by_poster: bool = False
    never_ready: str | None = None
    tunnel_problem: str | None = None
    image: str = ""  # what it serves, for the tray's "Serving <image> — …" line

    @property
    def stats(self) -> TunnelStats:
        """Connections and bytes through every tunnel of this service so far (for the tray and the result)."""
        return _add(self.closed_stats, self.tunnel.stats) if self.tunnel is not None else self.closed_stats

    def health_summary(self) -> str:
        """`health: starting -> ready -> unhealthy (why)`: every state it went through, the last with its detail."""
        history = self.monitor.history
        if not history:
            return ""
        states = " -> ".join(state for _, state, _ in history)
        return f"health: {states} ({history[-1][2]}); {self.stats.connections} connections"

    def record(self) -> dict[str, Any]:
        stats = self.stats
        return {
            "address": self.address,
            "ports": [port.port for port in self.ports],
            "health": self.monitor.record(),
            "connections": stats.connections,
            "bytes_in": stats.bytes_in,
            "bytes_out": stats.bytes_out,
            "stopped_by_poster": self.stopped_by_poster,
            "tunnel_problem": self.tunnel_problem,
        }


class ServiceHost:
    """Serves the service ops of the jobs one runner runs."""

    def __init__(
        self,
        api: Any,
        bus: EventBus,
        stop_job: Callable[[str], object],
        signer: Signer | None = None,
        edge: Callable[[], EdgeAddress | None] | None = None,
        settings: ServiceSettings | Callable[[], ServiceSettings] | None = None,
    ) -> None:
        self._api = api
        self._bus = bus
        self._stop_job = stop_job
        self._signer = signer
        self._edge = edge
        self._settings = settings if callable(settings) else (lambda: settings or ServiceSettings())
        self._loop: LoopThread | None = None
        self._lock = threading.Lock()
        self._running: dict[str, RunningService] = {}

    def use_grid(self, signer: Signer, backend: object) -> None:
        """Tunnel through `backend`'s edge from now on (the node's grid; a backend without one: no tunnel)."""
        self._signer = signer
        self._edge = lambda: edge_of(backend)

    def settings(self) -> ServiceSettings:
        return self._settings()

    def _loop_thread(self) -> LoopThread:
        with self._lock:
            if self._loop is None:
                self._loop = LoopThread()
            return self._loop

    def running(self, job_id: str) -> RunningService | None:
        with self._lock:
            return self._running.get(job_id)

    # ------------------------------------------------------------ the runner's calls

    def started(
        self,
        job: GridJob,
        op_id: str,
        args: RunArgs,
        container_id: str,
        network: str,
        results: ResultsByOp,
    ) -> RunningService:
        """The container is created (maybe not started yet): check it, then serve it, on the services loop.

        Raises ExposeError (the op fails) when the ports cannot be resolved."""
        settings = self.settings()
        ports = resolved_ports(op_id, args, job.definition, results, settings.max_ports_per_job)
        policy = HealthPolicy(
            settings.health_interval_seconds,
            settings.health_timeout_seconds,
            settings.health_retries,
            settings.startup_seconds,
        )
        service = RunningService(job.job_id, job.attempt, op_id, "", ports, HealthMonitor("", ports, policy))
        service.image = args.image or ""

        def on_change(state: str, detail: str) -> None:
            self._bus.publish("service.health", job_id=job.job_id, op_id=op_id, state=state, detail=detail)

        service.monitor.on_change = on_change
        with self._lock:
            self._running[job.job_id] = service
        service.future = self._loop_thread().submit(self._serve(service, container_id, network))
        return service

    def ended(self, service: RunningService, op_result: Any) -> None:
        """The container has stopped: close the tunnel, record, and say how the service ended."""
        if service.future is not None and self._loop is not None:
            self._loop.loop.call_soon_threadsafe(service.future.cancel)
            with contextlib.suppress(concurrent.futures.CancelledError, concurrent.futures.TimeoutError):
                service.future.result(15)
        with self._lock:
            self._running.pop(service.job_id, None)
        op_result.service = service.record()
        reason = op_result.reason or ""
        if service.never_ready is not None and op_result.status in ("stopped", "failed"):
            op_result.status, op_result.reason = "failed", f"the service never became ready: {service.never_ready}"
        elif service.stopped_by_poster and op_result.status == "stopped":
            op_result.status, op_result.reason = "succeeded", "the service was stopped by the poster"
        elif op_result.status == "failed" and reason.startswith("timed out"):
            op_result.status, op_result.reason = "succeeded", f"the service ran until its timeout ({reason})"
        # The op's reason (stored with it and shown by `hostapp jobs`) carries the health history in short.
        op_result.reason = "; ".join(part for part in (op_result.reason, service.health_summary()) if part)

    # ------------------------------------------------------------ on the services loop

    async def _address(self, container_id: str, network: str) -> str:
        """The container's checked address once it runs (the runner starts it just after `started`)."""
        for _ in range(600):
            try:
                return await asyncio.to_thread(checked_destination, self._api, container_id, network)
            except DestinationRefused as exc:
                if "has no address" not in str(exc):
                    raise
            await asyncio.sleep(0.05)
        raise DestinationRefused(f"container {container_id[:12]} got no address on {network} in 30 s")

    async def _report_traffic(self, service: RunningService) -> None:
        """`service.traffic` every TRAFFIC_EVERY_SECONDS while it serves, when the numbers moved: the
        tray's "Serving <image> — N connections, X MB" line."""
        last: tuple[int, int] | None = None
        while True:
            stats = service.stats
            now = (stats.connections, stats.bytes_in + stats.bytes_out)
            if now != last:
                last = now
                self._bus.publish(
                    "service.traffic",
                    job_id=service.job_id,
                    image=service.image,
                    connections=stats.connections,
                    bytes_in=stats.bytes_in,
                    bytes_out=stats.bytes_out,
                )
            await asyncio.sleep(TRAFFIC_EVERY_SECONDS)

    async def _serve(self, service: RunningService, container_id: str, network: str) -> None:
        watcher: asyncio.Task[None] | None = None
        reporter: asyncio.Task[None] | None = None
        try:
            try:
                service.address = service.monitor.host = await self._address(container_id, network)
            except Exception as exc:  # refused destination, engine error: never serve this container
                service.never_ready = f"no address to serve: {exc}"
                await asyncio.to_thread(self._stop_job, service.job_id)
                return
            if not await service.monitor.wait_ready():
                service.never_ready = service.monitor.history[-1][2]
                await asyncio.to_thread(self._stop_job, service.job_id)
                return
            watcher = asyncio.create_task(service.monitor.watch())
            reporter = asyncio.create_task(self._report_traffic(service))
            await self._tunnel_while_running(service)
        except asyncio.CancelledError:
            pass
        finally:
            for task in (watcher, reporter):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            if service.tunnel is not None:
                await service.tunnel.close()

    async def _tunnel_while_running(self, service: RunningService) -> None:
        if self._edge is None or self._signer is None:
            await asyncio.Event().wait()  # no grid edge (a local run-job): the checks alone, until cancelled
            return
        pause = 0.5
        while True:
            try:
                edge = await asyncio.to_thread(self._edge)
            except Exception as exc:  # the grid is down or has no edge: serve nothing, try again
                edge, service.tunnel_problem = None, f"no tunnel endpoint: {exc}"
            if edge is not None:
                targets = {port.port: service.address for port in service.ports}
                import asyncssh  # here, not at import: a node without service jobs never loads it

                from hostapp.services.tunnel import ServiceTunnel

                tunnel = ServiceTunnel(edge, self._signer, service.job_id, service.attempt, targets)
                service.tunnel = tunnel
                try:
                    await tunnel.open()
                except (OSError, TunnelError, asyncssh.Error) as exc:
                    service.tunnel_problem = f"tunnel: {exc}"
                    log.info("tunnel for %s could not open: %s", service.job_id, exc)
                else:
                    pause = 0.5
                    service.tunnel_problem = None
                    self._bus.publish("service.tunnel", job_id=service.job_id, state="open", ports=list(targets))
                    await tunnel.wait_closed()
                    why = tunnel.closed_reason or "closed"
                    self._bus.publish("service.tunnel", job_id=service.job_id, state="closed", reason=why)
                    if why == POSTER_STOP:
                        service.stopped_by_poster = True
                        await asyncio.to_thread(self._stop_job, service.job_id)
                        return
                service.closed_stats, service.tunnel = _add(service.closed_stats, tunnel.stats), None
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECONNECT_MAX_SECONDS)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()


def edge_of(backend: object) -> EdgeAddress | None:
    """The SSH edge of a grid backend that has one (GridClient.tunnel_endpoint); None otherwise."""
    endpoint = getattr(backend, "tunnel_endpoint", None)
    if endpoint is None:
        return None
    found = endpoint()  # a hostapp.grid.models.TunnelEndpoint
    return EdgeAddress(found.host, found.port, found.host_key)


def _add(total: TunnelStats, more: TunnelStats) -> TunnelStats:
    return TunnelStats(
        total.connections + more.connections,
        total.bytes_in + more.bytes_in,
        total.bytes_out + more.bytes_out,
        total.refused + more.refused,
    )


__all__ = ["READY", "UNHEALTHY", "RunningService", "ServiceHost"]
