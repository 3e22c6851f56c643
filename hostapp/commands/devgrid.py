"""`hostapp devgrid serve | submit | jobs | stop`: the local grid standalone, for job authors and tests.

Owner calls carry the install's grid owner token (config folder, `grid-owner-token`, 0600): `serve`
creates it, `submit` and `jobs` read it (or take `--token` / $HOSTAPP_DEVGRID_TOKEN for a grid served
from another HOSTAPP_HOME).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

DEFAULT_PORT = 7750
URL_ENV = "HOSTAPP_DEVGRID_URL"
OWNER_KEY_HELP = "the grid's owner token (default $HOSTAPP_DEVGRID_TOKEN, else this install's grid-owner-token file)"


def _default_url() -> str:
    return os.environ.get(URL_ENV) or f"http://127.0.0.1:{DEFAULT_PORT}"


def add_parser(sub: Any) -> None:
    devgrid = sub.add_parser("devgrid", help="run a local grid and submit jobs to it")
    dsub = devgrid.add_subparsers(dest="devgrid_command", required=True)

    serve = dsub.add_parser("serve", help="serve the grid (and its local chain) on 127.0.0.1 until Ctrl-C")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free one")
    serve.add_argument("--state-dir", type=Path, help="where the grid and chain keep their state")
    serve.add_argument("--no-chain", action="store_true", help="credit nodes but do not pay them on a local chain")
    serve.add_argument("--no-demo", action="store_true", help="do not keep a demo inference job queued")
    serve.set_defaults(func=run_serve)

    submit = dsub.add_parser("submit", help="submit a Nosana-format job definition (JSON file)")
    submit.add_argument("file", type=Path)
    submit.add_argument("--price", type=int, default=10, help="price per second in token base units (default 10)")
    submit.add_argument("--timeout", type=int, default=600, help="timeout in seconds (default 600)")
    submit.add_argument("--url", default=None, help=f"grid URL (default ${URL_ENV} or port {DEFAULT_PORT})")
    submit.add_argument("--token", default=None, help=OWNER_KEY_HELP)
    submit.add_argument(
        "--wait-url", type=float, default=30, metavar="S", help="a service job: wait up to S s for its URLs (0: no)"
    )
    submit.set_defaults(func=run_submit)

    stop = dsub.add_parser("stop", help="stop a running service job (it is billed for the time it served)")
    stop.add_argument("job_id")
    stop.add_argument("--url", default=None, help=f"grid URL (default ${URL_ENV} or port {DEFAULT_PORT})")
    stop.add_argument("--token", default=None, help=OWNER_KEY_HELP)
    stop.set_defaults(func=run_stop)

    jobs = dsub.add_parser("jobs", help="list the grid's jobs")
    jobs.add_argument("--url", default=None, help=f"grid URL (default ${URL_ENV} or port {DEFAULT_PORT})")
    jobs.add_argument("--state", choices=["queued", "leased", "succeeded", "failed"])
    jobs.add_argument("--json", action="store_true")
    jobs.add_argument("--token", default=None, help=OWNER_KEY_HELP)
    jobs.set_defaults(func=run_jobs)


def run_serve(args: argparse.Namespace) -> int:
    from hostapp.cli import CliError
    from hostapp.config.paths import default_paths
    from hostapp.localgrid.owner_token import load_or_create
    from hostapp.localgrid.server import GridConfig, LocalGrid

    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port} is not a TCP port (0-65535)", code=2)
    state_dir: Path = args.state_dir or default_paths().data / "devgrid"
    chain: Any = None
    if not args.no_chain:
        from hostapp.chain import LocalChain

        chain = LocalChain(state_dir / "chain")
        rpc_url = chain.start()
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop cleans up like Ctrl-C
    grid = LocalGrid(
        state_dir / "grid",
        chain,
        port=args.port,
        config=GridConfig(demo_feed=not args.no_demo),
        owner_token=load_or_create(default_paths().config),
    )
    try:
        try:
            url = grid.start()
        except OSError as exc:
            raise CliError(
                f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror}): pick another --port, or 0", code=1
            ) from exc
        print(f"grid:  {url}  (OpenAPI: {url}/openapi.json)", flush=True)
        if chain is not None:
            print(f"chain: {rpc_url}  mint {chain.mint}", flush=True)
        print(f"state: {state_dir}", flush=True)
        print("Ctrl-C to stop", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        grid.stop()
        if chain is not None:
            chain.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _owner_token(given: str | None) -> str | None:
    from hostapp.config.paths import default_paths
    from hostapp.localgrid.owner_token import TOKEN_ENV, read_token

    return given or os.environ.get(TOKEN_ENV) or read_token(default_paths().config)


def _call(method: str, url: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
    import httpx

    from hostapp.cli import CliError
    from hostapp.config.paths import default_paths
    from hostapp.localgrid.owner_token import TOKEN_ENV, bearer, token_path

    owner_token = _owner_token(token)
    headers = bearer(owner_token) if owner_token else {}
    try:
        response = httpx.request(method, f"{url.rstrip('/')}{path}", timeout=30, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise CliError(f"no grid answering at {url} ({exc}): start one with `hostapp devgrid serve`") from exc
    try:
        data = response.json()
    except ValueError:
        raise CliError(f"{url} answered {response.status_code} without JSON: is it a hostapp grid?") from None
    if response.status_code == 401:
        where = token_path(default_paths().config)
        problem = (
            "refused this install's owner token" if owner_token else f"needs an owner token and {where} is missing"
        )
        raise CliError(
            f"the grid at {url} {problem}: run `hostapp devgrid serve` as this user (same HOSTAPP_HOME), "
            f"or pass the serving install's token with --token / ${TOKEN_ENV}"
        )
    if response.status_code >= 400:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        lines = [str(error.get("message") or f"grid answered {response.status_code}")]
        lines += [f"  {d.get('path')}: {d.get('reason')}" for d in (error.get("details") or [])[1:]]
        raise CliError("\n".join(lines), code=2 if response.status_code in (400, 422) else 1)
    return data


def run_submit(args: argparse.Namespace) -> int:
    from hostapp.cli import CliError
    from hostapp.jobs.yaml_text import YamlDefinitionError, is_yaml_file, load_yaml_definition

    try:
        if is_yaml_file(args.file):  # Nosana's CLI reads YAML job files too: sent on as the same JSON
            definition = load_yaml_definition(args.file.read_bytes())
        else:
            definition = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {args.file}: {exc}", code=2) from exc
    except json.JSONDecodeError as exc:
        raise CliError(f"{args.file} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", code=2) from exc
    except YamlDefinitionError as exc:
        raise CliError(f"{args.file}: invalid: {exc.path}: {exc.reason}", code=2) from exc
    if not isinstance(definition, dict):
        raise CliError(f"{args.file} must hold a JSON object (a job definition)", code=2)
    body = {"definition": definition, "price_per_second": args.price, "timeout_seconds": args.timeout}
    job = _call("POST", args.url or _default_url(), "/v1/jobs", args.token, json=body)
    print(job["job_id"], flush=True)
    if args.wait_url > 0 and any("expose" in (op.get("args") or {}) for op in definition.get("ops") or []):
        _print_urls(args.url or _default_url(), args.token, job["job_id"], args.wait_url)
    return 0


def _print_urls(url: str, token: str | None, job_id: str, wait: float) -> None:
    """A service's URLs, one `url PORT URL` line each, once a node serves it (or a note after `wait` s)."""
    import time

    deadline = time.monotonic() + wait
    while not (services := _call("GET", url, "/v1/services", token, params={"job_id": job_id})["services"]):
        if time.monotonic() >= deadline:
            print(f"no URL yet after {wait:g} s (no node serves it yet): `hostapp devgrid jobs` lists it later")
            return
        time.sleep(0.25)
    for service in services:
        print(f"url {service['port']} {service['url']}")


def _services(url: str, token: str | None) -> list[dict[str, Any]]:
    """Every live service URL; none from a grid without a tunnel edge (it has no /v1/services)."""
    from hostapp.cli import CliError

    try:
        return list(_call("GET", url, "/v1/services", token).get("services", []))
    except CliError:
        return []


def run_stop(args: argparse.Namespace) -> int:
    _call("POST", args.url or _default_url(), f"/v1/jobs/{args.job_id}/stop", args.token, json={})
    print(f"stopping {args.job_id}")
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    params = {"state": args.state} if args.state else {}
    data = _call("GET", args.url or _default_url(), "/v1/jobs", args.token, params=params)
    jobs = data.get("jobs", [])
    urls: dict[str, list[dict[str, Any]]] = {}
    for service in _services(args.url or _default_url(), args.token):
        urls.setdefault(service["job_id"], []).append(service)
    for job in jobs:
        job["services"] = urls.get(job["job_id"], [])
    if args.json:
        print(json.dumps(jobs, indent=2))
        return 0
    if not jobs:
        print("no jobs")
        return 0
    print(f"{'JOB':<26} {'STATE':<10} {'TRIES':>5} {'PRICE/S':>8} {'SECONDS':>8} {'AMOUNT':>10}  NODE")
    for job in jobs:
        seconds = "" if job.get("seconds_billed") is None else str(job["seconds_billed"])
        amount = "" if job.get("amount") is None else str(job["amount"])
        node = (job.get("node") or "")[:12]
        print(
            f"{job['job_id']:<26} {job['state']:<10} {job['attempts']:>5} {job['price_per_second']:>8} "
            f"{seconds:>8} {amount:>10}  {node}"
        )
        for service in job["services"]:
            mb = (service["bytes_in"] + service["bytes_out"]) / 1e6
            print(f"  port {service['port']}: {service['url']}  ({service['connections']} connections, {mb:.1f} MB)")
    return 0
