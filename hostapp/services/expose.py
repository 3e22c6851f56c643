"""Every `expose` shape of the job format as a typed plan: which container ports a service op serves, with
which health checks.

Shapes (Nosana's): a port number, a range string "9100-9102", a `%%…%%` literal (a port, a JSON list or a
port object, resolved at run time from earlier ops' results), a `{"__spread__": …}` list spliced in, port
objects `{"port", "type", "health_checks"}`, or a list mixing them. Duplicates are merged (first wins).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hostapp.jobs.definition.literals import LiteralError, ResultsByOp, substitute
from hostapp.jobs.definition.schema import (
    ExposedPort,
    HttpHealthCheck,
    JobDefinition,
    RunArgs,
    RunOp,
    SpreadMarker,
    WebSocketHealthCheck,
)
from hostapp.services.settings import DEFAULT_MAX_PORTS  # services.max_ports_per_job


class ExposeError(ValueError):
    """The `expose` value cannot be served: the message says why and what to change."""


@dataclass(frozen=True)
class HttpCheck:
    """An http health check: `method path` with headers and body must answer `expected_status`."""

    path: str
    method: str
    expected_status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    continuous: bool = False

    def describe(self) -> str:
        every = ", continuous" if self.continuous else ""
        return f"http {self.method} {self.path} -> {self.expected_status}{every}"


@dataclass(frozen=True)
class WebSocketCheck:
    """A websocket health check: after the upgrade on `/`, the first message must contain `expected_response`."""

    expected_response: str
    continuous: bool = False

    def describe(self) -> str:
        every = ", continuous" if self.continuous else ""
        return f"websocket / expects {self.expected_response!r}{every}"


Check = HttpCheck | WebSocketCheck


@dataclass(frozen=True)
class ServicePort:
    port: int
    kind: str | None = None  # Nosana's `type`: web, api, webapi, websocket, none (informative)
    checks: tuple[Check, ...] = ()

    @property
    def continuous(self) -> bool:
        return any(check.continuous for check in self.checks)


@dataclass(frozen=True)
class ServicePlan:
    """What one run op serves; `pending` lists literals only resolved at run time (shown by a dry run)."""

    op_id: str
    ports: tuple[ServicePort, ...]
    pending: tuple[str, ...] = ()


def _check(model: HttpHealthCheck | WebSocketHealthCheck) -> Check:
    if isinstance(model, WebSocketHealthCheck):
        return WebSocketCheck(model.expected_response, model.continuous)
    body: bytes | None = None
    headers = dict(model.headers or {})
    if model.body is not None:
        # Nosana sends a JSON body as JSON; a string body as it is.
        if isinstance(model.body, str):
            body = model.body.encode("utf-8")
        else:
            body = json.dumps(model.body).encode("utf-8")
            if not any(key.lower() == "content-type" for key in headers):
                headers["Content-Type"] = "application/json"
    path = model.path if model.path.startswith("/") else f"/{model.path}"
    if any(c in path for c in "\r\n ") or any(c in key + value for key, value in headers.items() for c in "\r\n"):
        raise ExposeError(f"health check {model.path!r}: path and headers must not contain spaces or line breaks")
    return HttpCheck(path, model.method, model.expected_status, tuple(sorted(headers.items())), body, model.continuous)


def _range(text: str, where: str) -> list[int]:
    first, _, last = text.partition("-")
    low, high = int(first), int(last)
    if not 1 <= low <= high <= 65_535:
        raise ExposeError(f"{where}: port range {text!r} must be low-high with 1 <= low <= high <= 65535")
    return list(range(low, high + 1))


def _from_value(value: Any, where: str) -> list[ServicePort]:
    """A parsed shape (model or plain JSON from a literal) as ports."""
    if isinstance(value, bool):
        raise ExposeError(f"{where}: {value!r} is not a port")
    if isinstance(value, int):
        if not 1 <= value <= 65_535:
            raise ExposeError(f"{where}: port {value} is outside 1..65535")
        return [ServicePort(value)]
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _from_value(int(text), where)
        if "-" in text and all(part.strip().isdigit() for part in text.split("-", 1)):
            return [ServicePort(port) for port in _range(text.replace(" ", ""), where)]
        try:
            decoded = json.loads(text)
        except ValueError:
            raise ExposeError(f"{where}: {value!r} is not a port, a range or JSON") from None
        return _from_value(decoded, where)
    if isinstance(value, ExposedPort):
        checks = tuple(_check(item) for item in value.health_checks or [])
        ports = _from_value(value.port, where)
        return [ServicePort(p.port, value.type, checks) for p in ports]
    if isinstance(value, Mapping):
        try:
            model = ExposedPort.model_validate(dict(value), strict=False)
        except ValueError as exc:
            raise ExposeError(f"{where}: not a port object ({str(exc).splitlines()[0]})") from None
        return _from_value(model, where)
    if isinstance(value, list | tuple):
        return [port for index, item in enumerate(value) for port in _from_value(item, f"{where}[{index}]")]
    raise ExposeError(f"{where}: {type(value).__name__} is not an expose shape")


def _merge(ports: Sequence[ServicePort], max_ports: int, where: str) -> tuple[ServicePort, ...]:
    seen: dict[int, ServicePort] = {}
    for port in ports:
        seen.setdefault(port.port, port)
    if len(seen) > max_ports:
        raise ExposeError(
            f"{where}: {len(seen)} ports; this host serves at most {max_ports} per job "
            "(setting services.max_ports_per_job)"
        )
    return tuple(seen.values())


def _items(expose: Any) -> list[Any]:
    return list(expose) if isinstance(expose, list) else [expose]


def static_plan(op: RunOp, max_ports: int = DEFAULT_MAX_PORTS) -> ServicePlan:
    """The ports known before the job runs; literals and spreads are listed as `pending`."""
    where = f"op {op.id}: args.expose"
    ports: list[ServicePort] = []
    pending: list[str] = []
    for item in _items(op.args.expose):
        if isinstance(item, SpreadMarker):
            pending.append(item.spread)
        elif isinstance(item, str) and item.startswith("%%"):
            pending.append(item)
        else:
            ports += _from_value(item, where)
    return ServicePlan(op.id, _merge(ports, max_ports, where), tuple(pending))


def resolved_ports(
    op_id: str, args: RunArgs, definition: JobDefinition, results: ResultsByOp, max_ports: int = DEFAULT_MAX_PORTS
) -> tuple[ServicePort, ...]:
    """Every port of the op, literals resolved against earlier ops' results (at run time)."""
    where = f"op {op_id}: args.expose"
    ports: list[ServicePort] = []
    for item in _items(args.expose):
        try:
            if isinstance(item, SpreadMarker):
                spliced = json.loads(substitute(item.spread, definition, results) or "[]")
                ports += _from_value(spliced if isinstance(spliced, list) else [spliced], where)
            elif isinstance(item, str) and item.startswith("%%"):
                ports += _from_value(substitute(item, definition, results), where)
            else:
                ports += _from_value(item, where)
        except (LiteralError, ValueError) as exc:
            raise ExposeError(f"{where}: {exc}") from None
    return _merge(ports, max_ports, where)


def service_plans(definition: JobDefinition, max_ports: int = DEFAULT_MAX_PORTS) -> list[ServicePlan]:
    """One plan per run op that exposes ports (raises ExposeError for a shape this host cannot serve)."""
    return [static_plan(op, max_ports) for op in definition.ops if isinstance(op, RunOp) and op.args.expose is not None]


def is_service(definition: JobDefinition) -> bool:
    return any(isinstance(op, RunOp) and op.args.expose is not None for op in definition.ops)


def expose_problems(op: RunOp, max_ports: int = DEFAULT_MAX_PORTS) -> list[str]:
    """`unsupported:` lines for an op's `expose` (empty: served here)."""
    if op.args.expose is None:
        return []
    try:
        static_plan(op, max_ports)
    except ExposeError as exc:
        return [f"unsupported: {exc}"]
    return []


def plan_entry(plan: ServicePlan) -> list[dict[str, Any]]:
    """What `run-job --dry-run` shows of a service op: each port with its checks."""
    shown: list[dict[str, Any]] = [
        {"port": port.port, "type": port.kind, "checks": [check.describe() for check in port.checks]}
        for port in plan.ports
    ]
    shown += [{"port": literal, "type": None, "checks": ["resolved at run time"]} for literal in plan.pending]
    return shown
