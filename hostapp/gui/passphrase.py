"""Asks for the wallet file's passphrase (machines without a secure keyring) from any thread.

The wallet service asks from worker threads (node start, balances); a dialog must open on the GUI
thread, so the request crosses over a blocking queued signal and the answer comes back to the
asking thread. Asked from the GUI thread itself, the dialog opens directly.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox, QWidget


class PassphrasePrompt(QObject):
    _ask = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__()
        self._parent = parent
        self._answer: str | None = None
        self._lock = threading.Lock()  # one question at a time
        self._ask.connect(self._on_ask, Qt.ConnectionType.BlockingQueuedConnection)

    def __call__(self, new: bool) -> str | None:
        """None when the user cancels (the wallet then reports that it needs the passphrase)."""
        with self._lock:
            app = QApplication.instance()
            if app is not None and QThread.currentThread() is app.thread():
                self._on_ask(new)
            else:
                self._ask.emit(new)
            return self._answer

    @Slot(bool)
    def _on_ask(self, new: bool) -> None:
        self._answer = None
        title = "Wallet passphrase"
        text, ok = QInputDialog.getText(
            self._parent, title, "Passphrase for the wallet key file:", QLineEdit.EchoMode.Password
        )
        if not ok:
            return
        if new:
            again, ok = QInputDialog.getText(self._parent, title, "Repeat the passphrase:", QLineEdit.EchoMode.Password)
            if not ok:
                return
            if again != text:
                QMessageBox.warning(self._parent, title, "The passphrases differ: try again.")
                return
        self._answer = text
