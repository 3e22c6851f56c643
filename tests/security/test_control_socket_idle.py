"""The control socket drops a connection that sends no request, instead of holding a thread for ever."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from hostapp.control.transport import REQUEST_READ_TIMEOUT_SECONDS, ControlServer, Emit, call


class Answer:
    def handle_control(self, command: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
        return {"headline": f"did {command}"}


@pytest.mark.slow
@pytest.mark.parametrize("sent", [b"", b'{"command": "sta'], ids=["silent", "half-a-line"])
def test_idle_connection_is_closed_by_the_server(tmp_path: Path, sent: bytes) -> None:
    sock_path = tmp_path / "run" / "control.sock"
    server = ControlServer(sock_path, Answer())
    server.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
            idle.connect(str(sock_path))
            idle.sendall(sent)
            # Generous client-side wait: only a server that never gives up runs into it.
            idle.settimeout(REQUEST_READ_TIMEOUT_SECONDS * 3)
            try:
                closed = idle.recv(1) == b""
            except TimeoutError:
                closed = False
            assert closed, f"the server kept an idle connection open for {REQUEST_READ_TIMEOUT_SECONDS * 3:.0f} s"
            assert call(sock_path, "status") == {"headline": "did status"}  # and it still serves others
    finally:
        server.stop()
