"""The grid's routes for service jobs (docs/services.md): where nodes tunnel to, the posters' URLs, stop.

- GET  /v1/node/tunnel            (node, signed) the SSH edge's host, port and pinned host key;
- GET  /v1/services               (owner) every live service URL with its counters (`?job_id=` for one job);
- POST /v1/jobs/{job_id}/stop     (owner) stop a running service: its node stops it and reports it served.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from hostapp.grid.models import ServiceList, ServiceStopping, TunnelEndpoint
from hostapp.localgrid.store import GridError
from hostapp.localgrid.tunnel_edge import EdgeRunner


def add_service_routes(
    app: FastAPI,
    edge: EdgeRunner,
    store: Any,
    owner: list[Any],
    errors: dict[int | str, dict[str, Any]],
    node_auth_doc: dict[str, Any],
) -> None:
    @app.get("/v1/node/tunnel", response_model=TunnelEndpoint, responses=errors, openapi_extra=node_auth_doc)
    def tunnel_endpoint(request: Request) -> dict[str, Any]:
        if store.node(str(request.state.node)) is None:
            raise GridError(404, "not_registered", "node is not registered: call PUT /v1/node first")
        return edge.endpoint()

    @app.get("/v1/services", response_model=ServiceList, responses=errors, dependencies=owner)
    def services(job_id: str | None = None) -> dict[str, Any]:
        return {"services": edge.services(job_id)}

    @app.post("/v1/jobs/{job_id}/stop", response_model=ServiceStopping, responses=errors, dependencies=owner)
    def stop(job_id: str) -> dict[str, Any]:
        status = store.job_status(job_id)
        if status is None:
            raise GridError(404, "no_job", f"no job {job_id!r} on this grid")
        if status["state"] != "leased" or not edge.services(job_id):
            state = status["state"]
            raise GridError(409, "not_serving", f"job {job_id} is {state} and serves no URL now: nothing to stop")
        edge.edge.stop_service(job_id)
        return {"job_id": job_id, "stopping": True}
