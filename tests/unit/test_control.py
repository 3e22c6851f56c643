"""The control socket over a real Unix socket, and the CLI when nothing runs."""

import contextlib
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hostapp.commands.control import parse_duration, parse_until
from hostapp.control.transport import ClientGone, ControlError, ControlServer, Emit, NotRunning, call


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def handle_control(self, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
        if command == "bad":
            raise ValueError("bad request: no such thing")
        if command == "count":  # a long command: streams progress, then answers
            for n in range(int(args["to"])):
                emit({"n": n})
            return {"counted": args["to"]}
        with self.lock:
            self.calls.append((command, args))
        return {"headline": f"did {command}", "state": "waiting"}


def test_round_trip_and_owner_only_permissions(tmp_path: Path) -> None:
    sock = tmp_path / "run" / "control.sock"
    recorder = Recorder()
    server = ControlServer(sock, recorder)
    server.start()
    try:
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
        assert call(sock, "pause", {"until": None}) == {"headline": "did pause", "state": "waiting"}
        with pytest.raises(ControlError, match="no such thing"):
            call(sock, "bad")
        assert recorder.calls == [("pause", {"until": None})]
        # A second server on the same socket refuses instead of stealing it.
        with pytest.raises(ControlError, match="already running"):
            ControlServer(sock, recorder).start()
    finally:
        server.stop()
    assert not sock.exists()


@contextlib.contextmanager
def serving(sock: Path, handler: Any) -> Iterator[None]:
    server = ControlServer(sock, handler)
    server.start()
    try:
        yield
    finally:
        server.stop()


def first_reply(sock: Path, request: bytes) -> bytes:
    """Send raw bytes as a client would, read the first reply, hang up."""
    import socket

    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(sock))
        client.sendall(request)
        return client.recv(4096)


def test_garbage_request_gets_an_error_not_a_crash(tmp_path: Path) -> None:
    sock = tmp_path / "c.sock"
    with serving(sock, Recorder()):
        assert b'"ok": false' in first_reply(sock, b"[1, 2\n")
        assert call(sock, "status")["state"] == "waiting"  # still serving


def test_a_long_command_streams_events_before_its_answer(tmp_path: Path) -> None:
    sock = tmp_path / "c.sock"
    with serving(sock, Recorder()):
        seen: list[dict[str, Any]] = []
        assert call(sock, "count", {"to": 500}, timeout=None, on_event=seen.append) == {"counted": 500}
        assert seen == [{"n": n} for n in range(500)]
        assert call(sock, "count", {"to": 3}) == {"counted": 3}  # a caller without on_event skips them


def test_a_client_that_hangs_up_makes_emit_raise(tmp_path: Path) -> None:
    """What lets `run-job` stop the job of a CLI that was interrupted (Ctrl-C) instead of running on."""
    hung_up, outcome = threading.Event(), []

    class Streamer:
        def handle_control(self, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
            emit({"n": 0})
            hung_up.wait(10)
            try:
                for n in range(10_000):  # the kernel buffers a little; a closed peer fails soon after
                    emit({"n": n, "pad": "x" * 1000})
            except ClientGone:
                outcome.append("client gone")
            return {}

    sock = tmp_path / "c.sock"
    with serving(sock, Streamer()):
        assert b'"event"' in first_reply(sock, b'{"command": "stream"}\n')
        hung_up.set()
        deadline = time.monotonic() + 10
        while not outcome and time.monotonic() < deadline:
            time.sleep(0.01)
        assert outcome == ["client gone"]


def test_a_server_that_dies_mid_command_is_an_error_not_a_hang(tmp_path: Path) -> None:
    import socket

    sock = tmp_path / "c.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock))
    listener.listen(1)

    def answer_half() -> None:
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.sendall(b'{"event": {"n": 0}}\n')
        conn.close()

    thread = threading.Thread(target=answer_half)
    thread.start()
    seen: list[dict[str, Any]] = []
    with pytest.raises(ControlError, match="closed the connection without an answer"):
        call(sock, "run-job", timeout=None, on_event=seen.append)
    thread.join()
    listener.close()
    assert seen == [{"n": 0}]


def test_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    import socket

    sock = tmp_path / "c.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock))
    stale.close()  # file stays, nobody listens: what a crashed app leaves
    with pytest.raises(NotRunning, match="stale control socket"):
        call(sock, "status")
    server = ControlServer(sock, Recorder())
    server.start()
    assert call(sock, "status")["headline"] == "did status"
    server.stop()


def test_cli_says_nothing_is_running(hostapp_home: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hostapp", "status"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert out.returncode == 1
    expected = "hostapp is not running (no control socket): start it with `hostapp` or `hostapp node`"
    assert out.stderr.strip() == f"hostapp: error: {expected}"


def test_duration_and_until_parsing() -> None:
    assert parse_duration("1h30m") == timedelta(hours=1, minutes=30)
    assert parse_duration("2d") == timedelta(days=2)
    for bad in ("", "h", "2 hours", "-1h"):
        with pytest.raises(ValueError, match="cannot read duration"):
            parse_duration(bad)
    now = datetime(2026, 11, 23, 22, 0).astimezone()
    assert parse_until("21:30", now) == (now + timedelta(days=1)).replace(hour=21, minute=30)
    assert parse_until("23:15", now).hour == 23
    with pytest.raises(ValueError, match="HH:MM"):
        parse_until("9pm", now)
