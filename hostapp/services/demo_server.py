"""The demo service job's server (image hostapp/demo-service:1, built by scripts/build-images.sh).

Python's standard library only, so it runs on the local hostapp/python:3 image. It listens on every port in
$PORTS (default 8080) and answers:
  GET  /             a greeting                    GET /health   200, or 503 while /tmp/unhealthy exists
  GET  /infer?q=...  a tiny "inference" (JSON)     GET /stream   ?n= lines, one every ?ms= (chunked)
  GET  /bytes?n=N    N bytes (throughput tests)    POST /echo    the request body back
  GET  /ws           websocket: a greeting, then every text message echoed
This file runs inside the container; hostapp itself never imports it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socketserver
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

GREETING = "hostapp demo service\n"
WS_GREETING = "hostapp-demo ready"
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CHUNK = 1 << 20


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle holds the body back for
    # the client's delayed ACK (~40 ms per keep-alive request).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # quiet: the node keeps the job's log bounded
        return

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/":
            self._send(200, GREETING.encode())
        elif url.path == "/health":
            unhealthy = os.path.exists("/tmp/unhealthy")
            self._send(503 if unhealthy else 200, b"unhealthy\n" if unhealthy else b"ok\n")
        elif url.path == "/infer":
            words = query.get("q", "").split()
            answer = {"prompt": query.get("q", ""), "completion": " ".join(reversed(words)), "tokens": len(words)}
            self._send(200, json.dumps(answer).encode(), "application/json")
        elif url.path == "/stream":
            self._stream(int(query.get("n", "5")), int(query.get("ms", "100")))
        elif url.path == "/bytes":
            self._bytes(int(query.get("n", "0")))
        elif url.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
        else:
            self._send(404, b"not found\n")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if urlsplit(self.path).path == "/echo":
            self._send(200, body, self.headers.get("Content-Type") or "application/octet-stream")
        else:
            self._send(404, b"not found\n")

    def _stream(self, lines: int, pause_ms: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index in range(lines):
            data = f"line {index} at {time.time():.3f}\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            time.sleep(pause_ms / 1000)
        self.wfile.write(b"0\r\n\r\n")

    def _bytes(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = b"x" * _CHUNK
        while size > 0:
            part = block[: min(size, _CHUNK)]
            self.wfile.write(part)
            size -= len(part)

    def _websocket(self) -> None:
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()  # noqa: S324 (RFC 6455)
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self._ws_send(WS_GREETING)
        while True:
            message = self._ws_read()
            if message is None:
                return
            self._ws_send(message)

    def _ws_send(self, text: str) -> None:
        data = text.encode()
        head = bytes([0x81, len(data)]) if len(data) < 126 else bytes([0x81, 126]) + struct.pack("!H", len(data))
        self.wfile.write(head + data)
        self.wfile.flush()

    def _ws_read(self) -> str | None:
        head = self.rfile.read(2)
        if len(head) < 2 or head[0] & 0x0F == 8:
            return None
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", self.rfile.read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self.rfile.read(8))[0]
        mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
        payload = self.rfile.read(length)
        return bytes(b ^ mask[i % 4] for i, b in enumerate(payload)).decode("utf-8", "replace")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main() -> None:
    # PID 1 in the container ignores SIGTERM unless it handles it: stop promptly when the node stops the job.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ports = [int(p) for p in os.environ.get("PORTS", "8080").split(",") if p.strip()]
    delay = float(os.environ.get("START_DELAY", "0"))  # a slow model load, for readiness tests
    time.sleep(delay)
    servers: list[socketserver.BaseServer] = [Server(("0.0.0.0", port), Handler) for port in ports]  # noqa: S104
    print(f"serving on {ports}", flush=True)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
