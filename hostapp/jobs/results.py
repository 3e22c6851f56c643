"""Result extraction with Nosana's semantics: per log line, the first match of each filter.

Nosana (nosana-cli extractResultsFromLogs) runs `line.match(new RegExp(regex))` on every log entry
whose type is in `logType` (all types when the filter is a plain string) and appends the match array
(whole match, then capture groups) to the result. A regex that does not compile turns the result into
the error text.

The pattern comes from the job, so it is untrusted: it runs on RE2 (google-re2), whose matching time is
linear in the line's length whatever the pattern. A backtracking engine (Python's `re`, JavaScript's)
lets `^(a+)+$` take minutes on one 30-character line while holding the GIL, which froze the whole
node (control socket, heartbeats) in the past. RE2 has no lookaround and no backreferences. The one
lookaround form Nosana's own examples use, a leading `(?<=X)` and/or a trailing `(?=Y)` around the
pattern, is rewritten exactly (X of fixed width; see `_split_lookaround`); any other such pattern
turns its result into an `unsupported regular expression: …` reason instead of running.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import re2

MAX_MATCHES_PER_RESULT = 1000
MAX_RESULT_CHARS = 64 * 1024
# CPU seconds one op's patterns may spend on its log. Linear time still scales with pattern size ×
# line length (4 KiB × 16 KiB: ~0.4 s a line here): past the budget matching stops, so a job cannot turn
# the node's log follower into its own CPU or keep it busy long after the container ended.
MATCH_BUDGET_SECONDS = 10.0
_ALL_TYPES = frozenset({"stdin", "stdout", "stderr", "nodeerr"})
_JS_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")
# RE2's message for a backreference, which it leaves out on purpose (valid JavaScript, not a syntax error).
_BACKREFERENCE = re.compile(r"invalid escape sequence: \\[1-9k]")

ResultValue = str | list[str | None]


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every rejected job pattern on stderr
    return options


_OPTIONS = _options()


class UnsupportedRegex(Exception):
    """Valid in JavaScript, but not something that runs in linear time (lookaround, backreferences)."""


@dataclass(frozen=True)
class JsRegex:
    """A job's pattern compiled for RE2; `first_match` gives JavaScript's `line.match(regex)` array."""

    regex: Any  # re2._Regexp (the package ships no type hints)
    whole: int  # the group holding JavaScript's whole match (not 0 when a lookaround was rewritten)
    groups: tuple[int, ...]  # the groups reported after it, in the JavaScript pattern's order

    def first_match(self, line: str) -> list[str | None] | None:
        try:
            match = self.regex.search(line)
        except (UnicodeError, ValueError):  # a line with lone surrogates cannot be UTF-8 encoded for RE2
            return None
        if match is None:
            return None
        return [match.group(self.whole), *(match.group(index) for index in self.groups)]


def compile_js_regex(pattern: str) -> JsRegex:
    """Compile a job's (JavaScript) pattern; re2.error for a syntax error, UnsupportedRegex otherwise."""
    if pattern == "*":  # Nosana's special case: `*` alone is not a valid RegExp
        pattern = "/*"
    pattern = _JS_NAMED_GROUP.sub("(?P<", pattern)
    behind, body, ahead = _split_lookaround(pattern)
    if behind is None and ahead is None:
        compiled = _compile(pattern)
        return JsRegex(compiled, 0, tuple(range(1, compiled.groups + 1)))
    before = _compile(behind).groups if behind is not None else 0
    rewritten = (f"(?:{behind})" if behind is not None else "") + f"({body})"
    rewritten += f"(?:{ahead})" if ahead is not None else ""
    compiled = _compile(rewritten)
    whole = before + 1
    return JsRegex(compiled, whole, (*range(1, whole), *range(whole + 1, compiled.groups + 1)))


def _compile(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        message = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if message.startswith("invalid perl operator") or _BACKREFERENCE.match(message):
            raise UnsupportedRegex(message) from None
        raise re2.error(message) from None


def _split_lookaround(pattern: str) -> tuple[str | None, str, str | None]:
    """(X, BODY, Y) for `(?<=X)BODY(?=Y)` (either end optional); (None, pattern, None) otherwise.

    Exact rewrite as `(?:X)(BODY)(?:Y)` with BODY's group as the whole match: JavaScript takes the
    first position p where X ends and BODY(?=Y) matches; with X of fixed width, X starts at p - width,
    so the leftmost match of the rewrite starts X exactly there. Only when nothing in the pattern sits
    outside the two assertions at the top level (no top-level `|`), and X has a fixed width.
    """
    spans = _top_level_groups(pattern)
    if spans is None:
        return None, pattern, None
    behind: str | None = None
    ahead: str | None = None
    start, end = 0, len(pattern)
    if spans and spans[0][0] == 0 and pattern.startswith("(?<="):
        behind = pattern[4 : spans[0][1] - 1]
        start = spans[0][1]
    if spans and spans[-1][1] == len(pattern) and pattern.startswith("(?=", spans[-1][0]) and spans[-1][0] >= start:
        ahead = pattern[spans[-1][0] + 3 : -1]
        end = spans[-1][0]
    if behind is not None and not _fixed_width(behind):
        return None, pattern, None  # leaves the `(?<=` for RE2 to refuse
    return behind, pattern[start:end], ahead


def _top_level_groups(pattern: str) -> list[tuple[int, int]] | None:
    """(start, end) of each top-level parenthesised group; None with a top-level `|` or unbalanced."""
    spans: list[tuple[int, int]] = []
    depth, index, opened, in_class = 0, 0, 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("]", index + 1) or pattern.startswith("^]", index + 1):
                index += 1 if pattern[index + 1] == "]" else 2
        elif char == "(":
            if depth == 0:
                opened = index
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return None
            if depth == 0:
                spans.append((opened, index + 1))
        elif char == "|" and depth == 0:
            return None
        index += 1
    return spans if depth == 0 and not in_class else None


def _fixed_width(pattern: str) -> bool:
    """Python's `re` accepts a lookbehind only of fixed width: it checks exactly that (parsing, no matching)."""
    try:
        re.compile(f"(?<={pattern})")
    except (re.error, RecursionError, OverflowError):
        return False
    return True


class ResultExtractor:
    def __init__(self, filters: Mapping[str, Any] | None, match_budget_seconds: float = MATCH_BUDGET_SECONDS) -> None:
        self._filters: list[tuple[str, JsRegex | str, frozenset[str]]] = []
        self.results: dict[str, ResultValue] = {}
        self._chars: dict[str, int] = {}
        self.lines_seen = 0
        self._budget = match_budget_seconds
        self._spent = 0.0  # CPU seconds of this (log-follower) thread: RE2 matches without the GIL
        for name, spec in (filters or {}).items():
            regex, log_types = (spec, _ALL_TYPES) if isinstance(spec, str) else (spec.regex, frozenset(spec.logType))
            compiled: JsRegex | str
            try:
                compiled = compile_js_regex(regex)
            except UnsupportedRegex as exc:
                compiled = (
                    f"unsupported regular expression: /{regex}/: {exc}: lookaround (other than a leading fixed-width "
                    "(?<=…) and a trailing (?=…)) and backreferences cannot run in linear time on this host"
                )
            except (re2.error, RecursionError, OverflowError) as exc:
                compiled = f"SyntaxError: Invalid regular expression: /{regex}/: {exc}"
            self._filters.append((name, compiled, log_types))
            self.results[name] = []
            self._chars[name] = 0

    @property
    def active(self) -> bool:
        return bool(self._filters)

    def feed(self, log_type: str, line: str) -> None:
        self.lines_seen += 1
        if not line or self._spent > self._budget:
            return
        started = time.thread_time()
        self._match(log_type, line)
        self._spent += time.thread_time() - started
        if self._spent > self._budget:
            reason = (
                f"matching stopped: this op's result patterns used over {self._budget:g} s of CPU time on its "
                "log (the limit); use shorter patterns or fewer, shorter log lines"
            )
            for name, value in self.results.items():
                if isinstance(value, list):
                    self.results[name] = reason

    def _match(self, log_type: str, line: str) -> None:
        for name, compiled, log_types in self._filters:
            if log_type not in log_types:
                continue
            if isinstance(compiled, str):
                self.results[name] = compiled
                continue
            current = self.results[name]
            if not isinstance(current, list) or len(current) >= MAX_MATCHES_PER_RESULT:
                continue
            found = compiled.first_match(line)
            if found is None:
                continue
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
