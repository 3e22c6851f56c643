"""One tray app per user: a second launch asks the first to show its window, then exits."""

from __future__ import annotations

import hashlib
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

RAISE_MESSAGE = b"raise\n"


def server_name(key: str) -> str:
    """Per user and per data folder, so tests with their own HOSTAPP_HOME do not collide."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return f"hostapp-{uid}-{digest}"


class SingleInstance(QObject):
    """`claim()` is True for the first instance; later launches send RAISE and get False."""

    raise_requested = Signal()

    def __init__(self, key: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(key)
        self._server: QLocalServer | None = None

    def claim(self, timeout_ms: int = 500) -> bool:
        if self._ask_running_instance(timeout_ms):
            return False
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # A crashed instance left its socket file behind: nobody answered above, so reclaim it.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                return True  # cannot guard; running twice beats not running at all
        server.newConnection.connect(self._on_connection)
        self._server = server
        return True

    def _ask_running_instance(self, timeout_ms: int) -> bool:
        socket = QLocalSocket(self)
        try:
            socket.connectToServer(self.name)
            if not socket.waitForConnected(timeout_ms):
                return False
            socket.write(RAISE_MESSAGE)
            socket.waitForBytesWritten(timeout_ms)
            socket.disconnectFromServer()
            return True
        finally:
            socket.abort()
            socket.setParent(None)
            socket.deleteLater()

    def _on_connection(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            # The message is one short line sent right after connecting: read it here.
            if socket.bytesAvailable() or socket.waitForReadyRead(200):
                if bytes(socket.readAll().data()).startswith(RAISE_MESSAGE.strip()):
                    self.raise_requested.emit()
            socket.abort()
            socket.deleteLater()

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
