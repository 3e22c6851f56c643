"""Every `expose` shape of the job format as a typed plan, and what `unsupported()` says of it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hostapp.jobs.definition import MachineCaps, RunOp, parse_job_definition, unsupported
from hostapp.services.expose import (
    ExposeError,
    HttpCheck,
    ServicePort,
    WebSocketCheck,
    expose_problems,
    plan_entry,
    resolved_ports,
    service_plans,
    static_plan,
)


def job(expose: Any, **extra: Any) -> Any:
    ops: list[dict[str, Any]] = [
        {"type": "container/run", "id": "web", "args": {"image": "ubuntu", "cmd": "serve", "expose": expose}}
    ]
    ops += extra.get("ops", [])
    return parse_job_definition({"version": "0.1", "type": "container", "ops": ops})


def op_of(definition: Any) -> RunOp:
    op = definition.ops[0]
    assert isinstance(op, RunOp)
    return op


NGINX_CHECK = {"type": "http", "path": "/", "method": "GET", "expected_status": 200, "continuous": True}


@pytest.mark.parametrize(
    ("expose", "ports"),
    [
        (8000, [8000]),
        ([3000, 2333], [3000, 2333]),
        ("9100-9102", [9100, 9101, 9102]),
        ([{"port": 3000}, {"port": 2333}], [3000, 2333]),
        ([{"port": 80, "health_checks": [NGINX_CHECK]}], [80]),
        ([8080, 8080, {"port": 8080, "type": "web"}], [8080]),  # duplicates merge, the first wins
        ([{"port": "7000-7001", "type": "api"}], [7000, 7001]),
    ],
)
def test_static_shapes(expose: Any, ports: list[int]) -> None:
    plan = static_plan(op_of(job(expose)))
    assert [p.port for p in plan.ports] == ports
    assert plan.pending == ()
    assert unsupported(job(expose), MachineCaps()) == []


def test_health_checks_become_typed_checks() -> None:
    expose = [
        {
            "port": 8080,
            "type": "webapi",
            "health_checks": [
                {
                    "type": "http",
                    "path": "health",
                    "method": "POST",
                    "headers": {"X-Probe": "1"},
                    "body": {"ping": True},
                    "expected_status": 204,
                    "continuous": True,
                },
                {"type": "websocket", "expected_response": "ready"},
            ],
        }
    ]
    (port,) = static_plan(op_of(job(expose))).ports
    http, ws = port.checks
    assert http == HttpCheck(
        "/health", "POST", 204, (("Content-Type", "application/json"), ("X-Probe", "1")), b'{"ping": true}', True
    )
    assert ws == WebSocketCheck("ready", False)
    assert port.kind == "webapi" and port.continuous
    assert plan_entry(static_plan(op_of(job(expose)))) == [
        {
            "port": 8080,
            "type": "webapi",
            "checks": ["http POST /health -> 204, continuous", "websocket / expects 'ready'"],
        }
    ]


def test_literals_are_pending_until_run_time_then_resolved() -> None:
    setter = {"type": "container/run", "id": "setter", "args": {"image": "ubuntu", "cmd": "x"}}
    definition = job([1000, {"__spread__": "%%ops.setter.results.ports%%"}, "%%ops.setter.results.one%%"], ops=[setter])
    plan = static_plan(op_of(definition))
    assert [p.port for p in plan.ports] == [1000]
    assert plan.pending == ("%%ops.setter.results.ports%%", "%%ops.setter.results.one%%")
    ports_json = json.dumps([2000, {"port": 3000, "health_checks": [NGINX_CHECK]}])
    results = {"setter": {"ports": [ports_json], "one": ["4000"]}}
    ports = resolved_ports("web", op_of(definition).args, definition, results)
    assert [p.port for p in ports] == [1000, 2000, 3000, 4000]
    assert ports[2].checks == (HttpCheck("/", "GET", 200, (), None, True),)
    with pytest.raises(ExposeError, match="has not produced results"):
        resolved_ports("web", op_of(definition).args, definition, {})


@pytest.mark.parametrize(
    ("expose", "reason"),
    [
        ("1-100", "at most 8 per job"),
        ("90-80", "low-high"),
    ],
)
def test_shapes_this_host_refuses_say_why(expose: Any, reason: str) -> None:
    definition = job(expose)
    lines = unsupported(definition, MachineCaps())
    assert len(lines) == 1 and lines[0].startswith("unsupported: op web: args.expose") and reason in lines[0]
    assert expose_problems(op_of(definition)) == lines


def test_the_cap_is_a_setting() -> None:
    definition = job("1-20")
    assert len(static_plan(op_of(definition), max_ports=20).ports) == 20
    assert [plan.op_id for plan in service_plans(definition, max_ports=20)] == ["web"]
    assert ServicePort(1).checks == ()
