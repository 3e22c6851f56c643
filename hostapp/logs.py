"""Logging: a rotating file in the logs dir (size-capped), every record passed through the secret
redactor, and a warning that repeats (the same problem on every retry) written once per window."""

from __future__ import annotations

import hashlib
import logging
import logging.handlers
import re
import threading
import time
from pathlib import Path

REDACTED = "[REDACTED]"

# Shapes that are secrets whatever registered them: base58 ed25519 secrets (64 bytes -> 86-88
# chars), solana-keygen JSON arrays of 64 byte values, 128-hex-digit keys, and password-like fields.
_PATTERNS = (
    re.compile(r"\b[1-9A-HJ-NP-Za-km-z]{85,90}\b"),
    re.compile(r"\[\s*(?:\d{1,3}\s*,\s*){63}\d{1,3}\s*\]"),
    re.compile(r"\b[0-9a-fA-F]{128}\b"),
    re.compile(r"(?i)(\"?(?:password|passphrase|secret|token|auth|mnemonic|seed)\"?\s*[:=]\s*)(\"[^\"]*\"|\S+)"),
    re.compile(r"(?i)(authorization:\s*)(\S+(?:\s+\S+)?)"),
)


# Forms of a key that registered digests are checked against: 32-byte hex and base58 (the seed half).
_DIGEST_CANDIDATES = re.compile(r"\b[0-9a-fA-F]{64}\b|\b[1-9A-HJ-NP-Za-km-z]{43,44}\b")
_WORD = re.compile(r"[A-Za-z]+")


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class SecretRedactor(logging.Filter):
    """Replaces registered secrets and secret-shaped strings in every message and argument.

    Secrets registered with `register_hidden` / `register_phrase` are kept only as SHA-256 digests, so
    this filter does not keep a copy of the key's text forms or of a seed phrase in memory for the
    life of the process (a memory dump would show them); candidates in a message are hashed and compared.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._digests: set[bytes] = set()
        self._phrases: set[tuple[int, bytes]] = set()  # (word count, digest of the lower-case words)

    def register(self, *secrets: str) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if s and len(s) >= 6)

    def register_hidden(self, *secrets: str) -> None:
        """Redact these strings where _DIGEST_CANDIDATES finds them, keeping only their digests."""
        with self._lock:
            self._digests.update(_digest(s) for s in secrets if s)

    def register_phrase(self, phrase: str) -> None:
        """Redact this word sequence (a seed phrase) wherever it appears, keeping only its digest."""
        words = phrase.lower().split()
        if words:
            with self._lock:
                self._phrases.add((len(words), _digest(" ".join(words))))

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = self._redact_digests(text)
        for pattern in _PATTERNS:
            if pattern.groups >= 2:
                text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
            else:
                text = pattern.sub(REDACTED, text)
        return text

    def _redact_digests(self, text: str) -> str:
        with self._lock:
            digests, phrases = set(self._digests), set(self._phrases)
        if digests:
            text = _DIGEST_CANDIDATES.sub(lambda m: REDACTED if _digest(m.group()) in digests else m.group(), text)
        for count, digest in phrases:
            while (window := _find_phrase(text, count, digest)) is not None:
                text = text[: window[0]] + REDACTED + text[window[1] :]
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def _find_phrase(text: str, count: int, digest: bytes) -> tuple[int, int] | None:
    """(start, end) of the first run of `count` words whose lower-case form hashes to `digest`."""
    words = list(_WORD.finditer(text))
    for start in range(len(words) - count + 1):
        window = words[start : start + count]
        if _digest(" ".join(w.group().lower() for w in window)) == digest:
            return window[0].start(), window[-1].end()
    return None


redactor = SecretRedactor()

# The log file's cap: LOG_FILE_BYTES per file, LOG_BACKUPS old files kept, so at most 6 × 5 MiB on disk.
LOG_FILE_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5
REPEAT_WINDOW_SECONDS = 3600.0
_MAX_REPEAT_KEYS = 1000


class RepeatedWarnings(logging.Filter):
    """Writes a warning (or worse) from one place in the code once per window, not on every retry.

    A busy node that cannot reach its grid or chain retries every few seconds, and each retry used
    to write its warning (a traceback for an exception): ~100 MB a day. A problem is the call site
    (logger, file, line) and the exception's type; repeats inside REPEAT_WINDOW_SECONDS are counted,
    and the first line after the window says how many were left out. INFO and DEBUG pass untouched.
    The decision is kept on the record, so every handler (file, console) writes the same lines.
    """

    def __init__(self, window_seconds: float = REPEAT_WINDOW_SECONDS) -> None:
        super().__init__()
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, int, str], list[float]] = {}  # key → [first written at, repeats]

    def filter(self, record: logging.LogRecord) -> bool:
        decided = getattr(record, "_hostapp_write", None)
        if decided is not None:
            return bool(decided)
        write = self._decide(record) if record.levelno >= logging.WARNING else True
        record._hostapp_write = write
        return write

    def _decide(self, record: logging.LogRecord) -> bool:
        exc_type = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        key = (record.name, record.pathname, record.lineno, exc_type)
        now = record.created if record.created else time.time()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.window_seconds:
                seen[1] += 1
                return False
            repeats = int(seen[1]) if seen is not None else 0
            self._seen.pop(key, None)
            if len(self._seen) >= _MAX_REPEAT_KEYS:
                self._seen.pop(next(iter(self._seen)))  # the oldest problem: memory stays bounded
            self._seen[key] = [now, 0]
        if repeats:
            record.msg = f"{record.getMessage()} (and {repeats} more like this since the last one written)"
            record.args = None
        return True

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()


repeats = RepeatedWarnings()

_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


def setup_logging(
    logs_dir: Path | None, level: int = logging.INFO, console: bool = False, file_name: str = "hostapp.log"
) -> None:
    """Install the redactor on every handler of the root logger, and a rotating file handler.

    One file per process (`file_name`): the node writes hostapp.log, the tray tray.log; two processes
    rotating one file would lose lines."""
    root = logging.getLogger()
    root.setLevel(level)
    repeats.reset()
    for handler in list(root.handlers):
        if getattr(handler, "_hostapp", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = []
    if logs_dir is not None:
        logs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        file_handler = logging.handlers.RotatingFileHandler(
            logs_dir / file_name, maxBytes=LOG_FILE_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
        handlers.append(file_handler)
    if console:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(repeats)  # before the redactor: it keys on the message's call site
        handler.addFilter(redactor)
        handler._hostapp = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    # Filters on loggers do not see records of child loggers; handler filters do, so also guard
    # handlers others (pytest, uvicorn) attach later through the root logger itself.
    if redactor not in root.filters:
        root.addFilter(redactor)
    # httpx writes one INFO line per request, and the embedded grid's scheduler two per run of its
    # jobs: a node polling its grid would fill the file with them (65 % of its lines, measured).
    for chatty in ("httpx", "apscheduler"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
