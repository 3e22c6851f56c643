"""The control channel where Python has no Unix sockets (Windows): loopback TCP + a per-run token.

Real sockets throughout. The first test runs a Python whose socket module lacks AF_UNIX, as
CPython's on Windows does; tests/windows runs the same code under Wine.
"""

import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from hostapp.control.transport import ControlError, ControlServer, Emit, NotRunning, call


class Echo:
    def handle_control(self, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
        emit({"step": 1})
        return {"did": command, "args": args}


def test_without_af_unix_the_control_channel_imports_and_round_trips(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import socket, sys
        del socket.AF_UNIX  # as in CPython on Windows: socketserver then has no UnixStreamServer
        from pathlib import Path
        from hostapp.control.transport import ControlError, ControlServer, call

        class Echo:
            def handle_control(self, command, args, emit):
                emit({"step": 1})
                return {"did": command}

        path = Path(sys.argv[1])
        server = ControlServer(path, Echo())
        server.start()
        events = []
        print(call(path, "status", on_event=events.append), events)
        try:
            ControlServer(path, Echo()).start()
        except ControlError as exc:
            print("second:", exc)
        server.stop()
        print("left:", path.exists())
        """
    )
    endpoint = tmp_path / "run" / "control.sock"
    result = subprocess.run(
        [sys.executable, "-c", script, str(endpoint)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "{'did': 'status'} [{'step': 1}]"
    assert lines[1].startswith("second: another hostapp is already running")
    assert lines[2] == "left: False"


def test_endpoint_file_is_owner_only_and_a_request_without_the_token_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run" / "control.sock"
    server = ControlServer(path, Echo(), use_tcp=True)
    server.start()
    try:
        assert stat.S_ISREG(path.stat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        endpoint = json.loads(path.read_text())
        assert len(endpoint["token"]) >= 32
        for request in ({"command": "pause"}, {"command": "pause", "token": "guess"}):
            with socket.create_connection(("127.0.0.1", endpoint["port"]), timeout=10) as sock:
                sock.sendall(json.dumps(request).encode() + b"\n")
                answer = json.loads(sock.makefile("rb").readline())
            assert answer == {
                "ok": False,
                "error": "wrong or missing control token; use the hostapp command of this install",
            }
        assert call(path, "pause", {"until": None}) == {"did": "pause", "args": {"until": None}}
    finally:
        server.stop()
    assert not path.exists()


def test_a_stale_endpoint_is_replaced_and_a_garbled_one_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    with socket.socket() as closed:  # a port nobody listens on any more
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    path.write_text(json.dumps({"port": port, "token": "old"}))
    with pytest.raises(NotRunning):
        call(path, "status")
    server = ControlServer(path, Echo(), use_tcp=True)
    server.start()
    try:
        assert call(path, "status")["did"] == "status"
    finally:
        server.stop()

    path.write_text("not json")
    with pytest.raises(NotRunning, match="unreadable control endpoint"):
        call(path, "status")
    path.write_text(json.dumps({"port": "x", "token": 1}))
    with pytest.raises(NotRunning, match="unreadable control endpoint"):
        call(path, "status")


def test_the_endpoint_file_is_never_written_through_an_existing_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    path = tmp_path / "control.sock"
    os.symlink(target, path)  # a dangling link someone planted: start() removes it, never follows it
    server = ControlServer(path, Echo(), use_tcp=True)
    server.start()
    try:
        assert not target.exists()
        assert not path.is_symlink()
    finally:
        server.stop()
    with pytest.raises(ControlError):
        call(path, "status")
