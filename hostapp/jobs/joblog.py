"""A job's log kept bounded in memory: whole lines, oldest dropped first, with a marker saying so."""

from __future__ import annotations

import threading
from collections import deque

MAX_LINE_CHARS = 16 * 1024


class LineSplitter:
    """Turns a stream's arbitrary chunks into lines; an over-long line is cut, never buffered forever."""

    def __init__(self, max_line: int = MAX_LINE_CHARS) -> None:
        self._partial = ""
        self._max_line = max_line

    def feed(self, text: str) -> list[str]:
        data = self._partial + text
        lines = data.split("\n")
        self._partial = lines.pop()
        while len(self._partial) > self._max_line:
            lines.append(self._partial[: self._max_line])
            self._partial = self._partial[self._max_line :]
        return [line.removesuffix("\r")[: self._max_line] for line in lines]

    def flush(self) -> list[str]:
        rest, self._partial = self._partial, ""
        return [rest] if rest else []


class BoundedLog:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lines: deque[tuple[str, str]] = deque()
        self._size = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0
        self._lock = threading.Lock()

    def append(self, stream: str, line: str) -> None:
        size = len(line.encode("utf-8", "replace")) + 1
        with self._lock:
            self._lines.append((stream, line))
            self._size += size
            while self._size > self.max_bytes and self._lines:
                _, old = self._lines.popleft()
                old_size = len(old.encode("utf-8", "replace")) + 1
                self._size -= old_size
                self.dropped_lines += 1
                self.dropped_bytes += old_size

    @property
    def truncated(self) -> bool:
        return self.dropped_lines > 0

    def text(self) -> str:
        with self._lock:
            body = "\n".join(line for _, line in self._lines)
            if self.dropped_lines:
                marker = (
                    f"[hostapp: log truncated, {self.dropped_lines} earlier lines ({self.dropped_bytes} bytes) dropped]"
                )
                return f"{marker}\n{body}"
            return body
