"""Grid jobs and registries: never the user's registry logins, no private registry hosts, no borrowed images.

Issue #15 item 2: a pull without job credentials sent the user's ~/.docker/config.json login (a fake
registry logged `Authorization: Basic victimuser:victim-registry-password`), so a grid job could run
the user's private image; and a reference naming `127.0.0.1:PORT` made the root daemon send requests
to services on the host's loopback, even for a job without network.

Real parts: the real engine pulls from a real registry (Debian's docker-registry) behind a small
loopback proxy that demands Basic auth and logs every Authorization header it is sent; the user's
login lives in a real Docker config file (DOCKER_CONFIG) the Docker SDK reads.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hostapp.config.paths import AppPaths
from hostapp.config.settings import JobLimits
from hostapp.events import EventBus
from hostapp.jobs.definition import GridJob, parse_job_definition
from hostapp.jobs.engine import connect
from hostapp.jobs.images import PullError, non_public_addresses, registry_host, repository
from hostapp.jobs.runner import JobResult, JobRunner
from hostapp.store import Store
from tests.support import push_fresh_image

pytestmark = pytest.mark.docker

USER_LOGIN = "victimuser:victim-registry-password"


class LoggingRegistryProxy:
    """A registry front on 127.0.0.1: Basic auth required (USER_LOGIN), then forwarded to `upstream`."""

    def __init__(self, upstream: str | None) -> None:
        self.upstream = upstream
        self.requests: list[tuple[str, str | None]] = []  # (path, Authorization header)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                authorization = self.headers.get("Authorization")
                proxy.requests.append((self.path, authorization))
                expected = "Basic " + base64.b64encode(USER_LOGIN.encode()).decode()
                if proxy.upstream is None or authorization != expected:
                    body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="hostapp-test"')
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if not head:
                        self.wfile.write(body)
                    return
                host, port = proxy.upstream.rsplit(":", 1)
                upstream = http.client.HTTPConnection(host, int(port), timeout=30)
                try:  # closed also when the client hangs up mid-stream
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "range")}
                    upstream.request(self.command, self.path, headers=forwarded)
                    response = upstream.getresponse()
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in ("connection", "transfer-encoding", "keep-alive"):
                            self.send_header(key, value)
                    self.end_headers()
                    while not head and (chunk := response.read(65536)):
                        self.wfile.write(chunk)
                finally:
                    upstream.close()

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def authorizations(self) -> list[str]:
        return [header for _, header in self.requests if header]


@pytest.fixture
def user_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's own registry logins, where the Docker CLI keeps them (filled in by the tests)."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    return folder


def _login(config: Path, host: str) -> None:
    auth = base64.b64encode(USER_LOGIN.encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))


@pytest.fixture
def runner_with_user_login(app_paths: AppPaths, user_docker_config: Path) -> Iterator[JobRunner]:
    """A runner on a fresh engine client, created after the user's config is in place (the SDK reads it)."""
    client = connect()
    store = Store(app_paths.database)
    instance = f"test-{secrets.token_hex(4)}"
    runner = JobRunner(client, JobLimits(stop_grace_seconds=1), app_paths, EventBus(), store, instance)
    yield runner
    for container in client.containers.list(all=True, filters={"label": f"hostapp.instance={instance}"}):
        container.remove(force=True)
    store.close()
    client.close()


def _run(runner: JobRunner, image: str, source: str = "grid") -> JobResult:
    definition = parse_job_definition(
        {"ops": [{"type": "container/run", "id": "p", "args": {"image": image, "cmd": ["echo", "ran"]}}]}
    )
    return runner.run(GridJob(f"reg-{secrets.token_hex(4)}", 1, 1, 60, definition), source=source)


def test_grid_jobs_never_pull_or_run_with_the_users_registry_login(
    registry: str, docker_client: Any, busybox_image: str, user_docker_config: Path, runner_with_user_login: JobRunner
) -> None:
    proxy = LoggingRegistryProxy(upstream=registry)
    _login(user_docker_config, proxy.host)
    runner = runner_with_user_login
    runner.images.trusted_registries.add(proxy.host)  # the host rule is not what this test is about
    pushed = push_fresh_image(docker_client, busybox_image, f"{registry}/hostapp-test/private:v")
    private = proxy.host + "/" + pushed.removeprefix(registry + "/").split("@")[0] + ":v"
    try:
        # 1. A grid job naming the user's private image: pulled without any login, so the registry refuses.
        first = _run(runner, private)
        assert first.status == "failed", first.ops[0].log_tail
        assert "denied" in (first.reason or "") or "unauthorized" in (first.reason or "").lower(), first.reason
        assert proxy.requests, "the engine never asked the registry"
        assert proxy.authorizations() == [], "the user's registry login was sent for a grid job"

        # 2. The user's own job (run-job) may use the user's login: the login is real and works.
        mine = _run(runner, private, source="local")
        assert mine.status == "succeeded", mine.reason
        assert proxy.authorizations(), "the user's own job did not use the user's login"

        # 3. Now the private image is on this machine; a grid job still cannot run it.
        sent_before = len(proxy.authorizations())
        again = _run(runner, private)
        assert again.status == "failed" and again.ops[0].log_tail == "", again.reason
        assert "may use it only if it can pull it itself" in (again.reason or ""), again.reason
        assert len(proxy.authorizations()) == sent_before  # the re-check went without the login too
    finally:
        proxy.close()
        for image in docker_client.images.list(name=private.rsplit(":", 1)[0]):
            docker_client.images.remove(image.id, force=True)


def test_grid_jobs_cannot_make_the_daemon_call_host_loopback(runner_with_user_login: JobRunner) -> None:
    listener = LoggingRegistryProxy(upstream=None)  # any loopback service the user runs
    runner = runner_with_user_login
    try:
        result = _run(runner, f"{listener.host}/internal/admin:latest")
        assert result.status == "failed"
        assert f"may not pull from registry host {listener.host}" in (result.reason or ""), result.reason
        assert "127.0.0.1" in (result.reason or "") and "image_cache.trusted_registries" in (result.reason or "")
        assert listener.requests == [], "the daemon was sent to a loopback service"
        for host in ("169.254.169.254", "10.1.2.3:5000", "192.168.1.10", "100.64.0.1", "localhost:5000"):
            refused = _run(runner, f"{host}/x/y:1")
            assert refused.status == "failed" and "non-public address" in (refused.reason or ""), (host, refused)
        # The user's own job (run-job of their file) may use a registry they run on loopback.
        local = _run(runner, f"{listener.host}/internal/admin:latest", source="local")
        assert local.status == "failed" and "non-public" not in (local.reason or "")
        assert listener.requests, "run-job of the user's own file is not restricted"
    finally:
        listener.close()


def test_reference_parsing() -> None:
    assert registry_host("ubuntu:22.04") is None
    assert registry_host("docker.io/library/ubuntu") is None
    assert registry_host("myuser/app:1") is None
    assert registry_host("127.0.0.1:5000/a/b:1") == "127.0.0.1:5000"
    assert registry_host("localhost/a") == "localhost"
    assert registry_host("ghcr.io/org/img@sha256:" + "0" * 64) == "ghcr.io"
    assert repository("docker.io/library/ubuntu:22.04") == "ubuntu"
    assert repository("127.0.0.1:5000/a/b:1") == "127.0.0.1:5000/a/b"
    assert repository("ubuntu@sha256:" + "0" * 64) == "ubuntu"


def test_unresolvable_registry_is_refused_with_a_reason(runner_with_user_login: JobRunner) -> None:
    with pytest.raises(PullError, match="does not resolve"):
        runner_with_user_login.images.check_registry("no-such-host.invalid/x/y:1")
    assert non_public_addresses("localhost") and non_public_addresses("[::1]:5000") == ["::1"]
