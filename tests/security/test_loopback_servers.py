"""Loopback servers against a web page: DNS rebinding (a foreign Host), simple cross-origin POSTs, no token.

Issue #15 item 5: with `Host: attacker.example` the local grid accepted a job paying 10^15 per second and
listed every job's results; the chain RPC took `text/plain` from any origin (`requestAirdrop` worked).
Everything here goes over real HTTP to the real servers (the LocalGrid and the LocalChain's JSON-RPC).
"""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostapp.chain import LocalChain
from hostapp.localgrid.owner_token import load_or_create, token_path
from hostapp.localgrid.server import GridConfig, LocalGrid
from hostapp.wallet.base58 import b58encode

JOB = {
    "version": "0.1",
    "type": "container",
    "ops": [{"type": "container/run", "id": "hello", "args": {"image": "ubuntu", "cmd": ["echo", "hello"]}}],
}
SUBMISSION = {"definition": JOB, "price_per_second": 10**15, "timeout_seconds": 60}
REBOUND = "attacker.example:{port}"  # what a DNS-rebinding page's requests carry


@pytest.fixture
def local_grid(tmp_path: Path) -> Iterator[LocalGrid]:
    with LocalGrid(tmp_path / "grid", config=GridConfig(demo_feed=False)) as grid:
        yield grid


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[LocalChain]:
    with LocalChain(tmp_path / "chain") as local:
        yield local


def _jobs(grid: LocalGrid) -> list[dict[str, Any]]:
    assert grid.service is not None
    return list(grid.service.store.list_jobs(None, 1000))


def test_grid_refuses_a_foreign_host_even_with_the_token(local_grid: LocalGrid) -> None:
    host = REBOUND.format(port=local_grid.port)
    headers = {"Host": host, **local_grid.owner_headers}
    submitted = httpx.post(local_grid.url + "/v1/jobs", json=SUBMISSION, headers=headers)
    listed = httpx.get(local_grid.url + "/v1/jobs", headers=headers)
    assert (submitted.status_code, listed.status_code) == (421, 421), (submitted.text, listed.text)
    assert "not a loopback address" in submitted.json()["error"]["message"]
    assert _jobs(local_grid) == []


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "127.0.0.1"])
def test_grid_accepts_loopback_hosts_with_the_token(local_grid: LocalGrid, host: str) -> None:
    headers = {"Host": host.format(port=local_grid.port), **local_grid.owner_headers}
    response = httpx.post(local_grid.url + "/v1/jobs", json=SUBMISSION, headers=headers)
    assert response.status_code == 201, response.text


def test_grid_owner_routes_need_the_token(local_grid: LocalGrid) -> None:
    assert local_grid.service is not None
    job_id = local_grid.service.store.submit_job(JOB, 1, 60, gpu=False, min_vram_mb=None, min_cuda=None)
    wrong = {"Authorization": "Bearer not-the-token"}
    calls = [
        httpx.post(local_grid.url + "/v1/jobs", json=SUBMISSION),
        httpx.post(local_grid.url + "/v1/jobs", json=SUBMISSION, headers=wrong),
        httpx.get(local_grid.url + "/v1/jobs"),
        httpx.get(f"{local_grid.url}/v1/jobs/{job_id}", headers=wrong),
    ]
    assert [c.status_code for c in calls] == [401, 401, 401, 401], [c.text for c in calls]
    assert all(c.json()["error"]["code"] == "owner_token" for c in calls)
    assert len(_jobs(local_grid)) == 1  # nothing queued by the refused calls
    assert httpx.get(local_grid.url + "/v1/health").status_code == 200  # health stays open
    listed = httpx.get(local_grid.url + "/v1/jobs", headers=local_grid.owner_headers)
    assert listed.status_code == 200 and [j["job_id"] for j in listed.json()["jobs"]] == [job_id]


def test_grid_refuses_simple_cross_origin_bodies(local_grid: LocalGrid) -> None:
    # A page can POST text/plain (or a form) to any port without a preflight; only JSON reaches the routes.
    headers = {"Content-Type": "text/plain", **local_grid.owner_headers}
    plain = httpx.post(local_grid.url + "/v1/jobs", content=json.dumps(SUBMISSION), headers=headers)
    form = httpx.post(
        local_grid.url + "/v1/jobs", data={"definition": "x"}, headers=local_grid.owner_headers
    )  # application/x-www-form-urlencoded
    foreign_origin = httpx.post(
        local_grid.url + "/v1/jobs",
        json=SUBMISSION,
        headers={"Origin": "http://attacker.example", **local_grid.owner_headers},
    )
    assert (plain.status_code, form.status_code, foreign_origin.status_code) == (415, 415, 403)
    assert _jobs(local_grid) == []
    same_origin = httpx.post(
        local_grid.url + "/v1/jobs", json=SUBMISSION, headers={"Origin": local_grid.url, **local_grid.owner_headers}
    )
    assert same_origin.status_code == 201, same_origin.text


def _airdrop(chain: LocalChain, address: str, **request: Any) -> httpx.Response:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "requestAirdrop", "params": [address, 5 * 10**9]})
    return httpx.post(chain.rpc_url, content=body, **request)


def test_chain_rpc_refuses_text_plain_and_foreign_hosts(chain: LocalChain) -> None:
    address = b58encode(bytes(range(1, 33)))
    plain = _airdrop(chain, address, headers={"Content-Type": "text/plain"})
    port = chain.rpc_url.rsplit(":", 1)[1]
    rebound = _airdrop(chain, address, headers={"Content-Type": "application/json", "Host": REBOUND.format(port=port)})
    assert (plain.status_code, rebound.status_code) == (415, 421), (plain.text, rebound.text)

    def balance() -> int:
        request = {"jsonrpc": "2.0", "id": 2, "method": "getBalance", "params": [address]}
        return int(httpx.post(chain.rpc_url, json=request).json()["result"]["value"])

    assert balance() == 0  # neither airdrop landed
    ok = _airdrop(chain, address, headers={"Content-Type": "application/json"})
    assert ok.status_code == 200 and "result" in ok.json(), ok.text
    assert balance() == 5 * 10**9


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_owner_token_is_private_and_stable(tmp_path: Path) -> None:
    config = tmp_path / "config"
    first = load_or_create(config)
    assert load_or_create(config) == first and len(first) >= 40
    assert stat.S_IMODE(token_path(config).stat().st_mode) == 0o600


def test_owner_tokens_pass_as_a_command_line_value() -> None:
    """`hostapp devgrid submit --token <value>`: a token starting with "-" is read as an option."""
    from hostapp.cli import build_parser
    from hostapp.localgrid.owner_token import new_token

    tokens = [new_token() for _ in range(2000)]  # URL-safe base64 started with "-" once in 64
    assert not [token for token in tokens if token.startswith("-")]
    assert len(set(tokens)) == len(tokens) and all(len(token) == 64 for token in tokens)
    args = build_parser().parse_args(["devgrid", "jobs", "--url", "http://127.0.0.1:1", "--token", tokens[0]])
    assert args.token == tokens[0]
