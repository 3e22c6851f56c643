"""The wallet-file passphrase dialog, asked from a worker thread as the wallet service does."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QInputDialog

from hostapp.gui.passphrase import PassphrasePrompt


def answer_dialogs(answers: list[str | None]) -> None:
    """Types each answer into the next passphrase dialog (None: cancel), as a user would."""

    def step() -> None:
        dialog = next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, QInputDialog) and w.isVisible()), None
        )
        if dialog is None:
            QTimer.singleShot(20, step)
            return
        answer = answers.pop(0)
        if answer is None:
            dialog.reject()
        else:
            dialog.setTextValue(answer)
            dialog.accept()
        if answers:
            QTimer.singleShot(20, step)

    QTimer.singleShot(20, step)


def ask_from_worker(prompt: PassphrasePrompt, new: bool, qtbot: Any) -> list[str | None]:
    got: list[str | None] = []
    worker = threading.Thread(target=lambda: got.append(prompt(new)))
    worker.start()
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    worker.join()
    return got


def test_worker_thread_gets_the_typed_passphrase(qtbot: Any) -> None:
    prompt = PassphrasePrompt()
    answer_dialogs(["correct horse battery"])
    assert ask_from_worker(prompt, False, qtbot) == ["correct horse battery"]


def test_new_passphrase_must_be_typed_twice_alike(qtbot: Any, monkeypatch: Any) -> None:
    from PySide6.QtWidgets import QMessageBox

    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text: warned.append(text))
    prompt = PassphrasePrompt()
    answer_dialogs(["one passphrase", "another one"])
    assert ask_from_worker(prompt, True, qtbot) == [None]
    assert warned == ["The passphrases differ: try again."]
    answer_dialogs(["same words here", "same words here"])
    assert ask_from_worker(prompt, True, qtbot) == ["same words here"]


def test_cancel_gives_none(qtbot: Any) -> None:
    prompt = PassphrasePrompt()
    answer_dialogs([None])
    assert ask_from_worker(prompt, False, qtbot) == [None]
