"""A minimal RFC 6455 client for the tests: upgrade, then masked text frames (no library between us and the bytes)."""

from __future__ import annotations

import base64
import os
import socket
import struct
from urllib.parse import urlsplit


class WebSocket:
    def __init__(self, url: str, path: str = "/ws", timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("closed during the upgrade")
            head += chunk
        self.status = int(head.split(b" ", 2)[1])

    def _exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("closed mid-frame")
            data += chunk
        return data

    def send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        short = len(data) < 126
        head = bytes([0x81, 0x80 | len(data)]) if short else bytes([0x81, 0xFE]) + struct.pack("!H", len(data))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self) -> str:
        _, second = self._exact(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._exact(2))[0]
        return self._exact(length).decode()

    def close(self) -> None:
        self.sock.close()
