"""Result extraction with Nosana's semantics: per log line, the first match of each filter.

Nosana (nosana-cli extractResultsFromLogs) runs `line.match(new RegExp(regex))` on every log entry
whose type is in `logType` (all types when the filter is a plain string) and appends the match array
(whole match, then capture groups) to the result. A regex that does not compile turns the result into
the error text. Here the regex dialect is Python's `re`, with JavaScript's `(?<name>…)` groups mapped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MAX_MATCHES_PER_RESULT = 1000
MAX_RESULT_CHARS = 64 * 1024
_ALL_TYPES = frozenset({"stdin", "stdout", "stderr", "nodeerr"})
_JS_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")

ResultValue = str | list[str | None]


def compile_js_regex(pattern: str) -> re.Pattern[str]:
    if pattern == "*":  # Nosana's special case: `*` alone is not a valid RegExp
        pattern = "/*"
    return re.compile(_JS_NAMED_GROUP.sub("(?P<", pattern))


class ResultExtractor:
    def __init__(self, filters: Mapping[str, Any] | None) -> None:
        self._filters: list[tuple[str, re.Pattern[str] | str, frozenset[str]]] = []
        self.results: dict[str, ResultValue] = {}
        self._chars: dict[str, int] = {}
        self.lines_seen = 0
        for name, spec in (filters or {}).items():
            regex, log_types = (spec, _ALL_TYPES) if isinstance(spec, str) else (spec.regex, frozenset(spec.logType))
            compiled: re.Pattern[str] | str
            try:
                compiled = compile_js_regex(regex)
            except (re.error, RecursionError, OverflowError) as exc:
                compiled = f"SyntaxError: Invalid regular expression: /{regex}/: {exc}"
            self._filters.append((name, compiled, log_types))
            self.results[name] = []
            self._chars[name] = 0

    @property
    def active(self) -> bool:
        return bool(self._filters)

    def feed(self, log_type: str, line: str) -> None:
        self.lines_seen += 1
        if not line:
            return
        for name, compiled, log_types in self._filters:
            if log_type not in log_types:
                continue
            if isinstance(compiled, str):
                self.results[name] = compiled
                continue
            current = self.results[name]
            if not isinstance(current, list) or len(current) >= MAX_MATCHES_PER_RESULT:
                continue
            match = compiled.search(line)
            if match is None:
                continue
            found: list[str | None] = [match.group(0), *match.groups()]
            size = sum(len(item) for item in found if item)
            if self._chars[name] + size > MAX_RESULT_CHARS:
                continue
            self._chars[name] += size
            current.extend(found)

    def final(self) -> dict[str, ResultValue] | None:
        """None when there were no filters or no log at all (as Nosana leaves results undefined)."""
        if not self._filters or self.lines_seen == 0:
            return None
        return self.results
