"""Results survive the grid being down: kept in the node's outbox (hostapp/node/outbox.py, over its store),
delivered after the grid returns, credited once; a refused one leaves the outbox."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hostapp.events import Event, EventBus
from hostapp.grid.client import GridClient, GridRejected, GridUnavailable
from hostapp.grid.models import JobResult
from hostapp.localgrid.server import GridConfig, LocalGrid
from hostapp.node.outbox import Outbox
from hostapp.store import Store

from .conftest import KeypairSigner, job, submit


def test_result_delivered_after_the_grid_returns_is_credited_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "node.sqlite3")
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe("*", events.append)
    grid = LocalGrid(tmp_path / "grid", config=GridConfig(lease_seconds=30))
    grid.start()
    client = GridClient(grid.url, KeypairSigner(), bus=bus, timeout=2, retries=2, backoff_base=0.01)
    outbox = Outbox(store, client)
    try:
        client.register()
        job_id = submit(grid, price=11)
        lease = client.lease(wait_seconds=2)
        assert lease is not None
        port = grid.port

        grid.stop()  # the grid goes away mid-job; the node keeps working
        with pytest.raises(GridUnavailable):
            client.heartbeat(lease)
        time.sleep(1.1)
        outcome = outbox.submit(job_id, lease.attempt, JobResult(status="succeeded", run_seconds=1))
        assert not outcome.delivered
        assert outbox.size() == 1
        assert outbox.flush().remaining == 1  # still down: kept
        row = store.query("SELECT tries, last_error FROM outbox")[0]
        assert row["tries"] >= 2 and "unreachable" in row["last_error"]

        grid = LocalGrid(tmp_path / "grid", port=port, config=GridConfig(lease_seconds=30))
        grid.start()
        report = outbox.flush()
        assert (report.delivered, report.rejected, report.remaining) == (1, 0, 0)
        # Delivering the same result again (e.g. the app died before deleting the row) changes nothing.
        again = outbox.submit(job_id, lease.attempt, JobResult(status="succeeded", run_seconds=1))
        assert again.accepted is not None and again.accepted.duplicate is True
        credits = client.credits()
        assert credits.credited == 11 and len(credits.entries) == 1
        assert job(grid, job_id)["state"] == "succeeded"
    finally:
        client.close()
        grid.stop()
        store.close()
    topics = [e.topic for e in events if e.topic.startswith("grid.")]
    assert topics == ["grid.online", "grid.offline", "grid.online"]
    offline = next(e for e in events if e.topic == "grid.offline")
    assert "unreachable" in offline.data["reason"] and offline.data["url"].startswith("http://127.0.0.1:")


def test_rejected_result_leaves_the_outbox_and_is_published(tmp_path: Path) -> None:
    store = Store(tmp_path / "node.sqlite3")
    bus = EventBus()
    rejected: list[Event] = []
    bus.subscribe("grid.rejected", rejected.append)
    with LocalGrid(tmp_path / "grid", config=GridConfig()) as grid:
        client = GridClient(grid.url, KeypairSigner(), bus=bus, retries=0)
        client.register()
        with pytest.raises(GridRejected, match="no_lease"):
            Outbox(store, client).submit("job-unknown", 1, JobResult(status="succeeded", run_seconds=1))
        client.close()
    assert store.query("SELECT COUNT(*) FROM outbox")[0][0] == 0
    assert rejected and rejected[0].data["status"] == 404 and rejected[0].data["code"] == "no_lease"
    store.close()


def test_server_errors_are_retried_with_backoff_then_offline(tmp_path: Path) -> None:
    """A grid answering 503 (here: a real HTTP server that always fails) is retried, then reported offline."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    calls: list[str] = []

    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append(self.headers["X-Hostapp-Nonce"])
            body = b'{"error":{"code":"busy","message":"try later"}}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bus = EventBus()
    offline: list[Event] = []
    bus.subscribe("grid.offline", offline.append)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with GridClient(url, KeypairSigner(), bus=bus, retries=3, backoff_base=0.01) as client:
            with pytest.raises(GridUnavailable, match="503 busy"):
                client.credits()
    finally:
        server.shutdown()
        server.server_close()
    assert len(calls) == 4 and len(set(calls)) == 4  # every retry freshly signed
    assert len(offline) == 1 and "503" in offline[0].data["reason"]
