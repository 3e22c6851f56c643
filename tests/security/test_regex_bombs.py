"""A job's result patterns are untrusted: they run in linear time, or not at all (with a reason).

The catastrophic patterns below take a backtracking engine (Python's `re`, JavaScript's) longer than
the age of the universe on these lines. They run here in a child process with a deadline: a frozen
child is the failure (its GIL is held, so in the node it would freeze every thread).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hostapp.jobs.definition import ResultFilter
from hostapp.jobs.results import ResultExtractor

ROOT = Path(__file__).resolve().parents[2]
BOMBS = {
    "nested-plus": ("^(a+)+$", "a" * 40 + "!"),
    "alternation": ("^(a|aa)+$", "a" * 60 + "!"),
    "nested-star": ("(x*)*y", "x" * 40),
    "overlapping-classes": ("^([a-z0-9]+)*@", "a1" * 30 + "!"),
}
EXTRACT = """
import json, sys
from hostapp.jobs.results import ResultExtractor
pattern, line = sys.argv[1], sys.argv[2]
extractor = ResultExtractor({"bomb": pattern})
for _ in range(4):
    extractor.feed("stdout", line)
print(json.dumps(extractor.final()))
"""


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_catastrophic_pattern_finishes(name: str) -> None:
    pattern, line = BOMBS[name]
    try:
        done = subprocess.run(
            [sys.executable, "-c", EXTRACT, pattern, line], capture_output=True, text=True, cwd=ROOT, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{pattern!r} on a {len(line)}-character line was still matching after 60 s")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"bomb": []}  # none of these lines matches


@pytest.mark.parametrize(
    "pattern",
    ["(?<!x)a", "a(?!b)", "(a)\\1", "(?<w>a)\\k<w>", "(?<=a+)b", "x(?<=x)y", "(?<=a)b|c"],
)
def test_patterns_re2_cannot_run_fail_the_result_with_a_reason(pattern: str) -> None:
    extractor = ResultExtractor({"r": pattern, "fine": "a"})
    extractor.feed("stdout", "aab")
    results = extractor.final()
    assert results is not None
    reason = results["r"]
    assert isinstance(reason, str) and reason.startswith(f"unsupported regular expression: /{pattern}/: ")
    assert "linear time" in reason
    assert results["fine"] == ["a"]  # the job's other results still work


def test_leading_lookbehind_and_trailing_lookahead_match_as_in_javascript() -> None:
    extractor = ResultExtractor(
        {
            "behind": "(?<=cmd: ).*",
            "both": "(?<=A: )(.*)(?=,)",
            "ahead": "Device [0-9].+?(?=,)",
            "groups-inside": "(?<=(k)=)(v+)(?=(;))",
            "filtered": ResultFilter(regex="(?<=err: ).*", logType=["stderr"]),
        }
    )
    extractor.feed("stdout", "cmd: --model x")
    extractor.feed("stdout", "A: sky, sea,")
    extractor.feed("stdout", "Device 0: cpu, 8 cores")
    extractor.feed("stdout", "k=vvv;")
    extractor.feed("stderr", "err: disk")
    assert extractor.final() == {
        "behind": ["--model x"],
        "both": ["sky, sea", "sky, sea"],  # greedy as in JavaScript: up to the last comma
        "ahead": ["Device 0: cpu"],
        "groups-inside": ["vvv", "k", "vvv", ";"],  # JavaScript reports lookaround groups too
        "filtered": ["disk"],
    }


def test_matching_stops_with_a_reason_once_the_ops_cpu_budget_is_spent() -> None:
    """Linear is not free: a 4 KiB pattern on 16 KiB lines costs ~0.4 s a line, so an op gets a budget."""
    extractor = ResultExtractor({"heavy": "[a-z]{1000}" * 4, "light": "^x"}, match_budget_seconds=0.2)
    line = "a" * 16_000 + "B"
    fed = 0
    while isinstance(extractor.results["light"], list) and fed < 1000:
        extractor.feed("stdout", line)
        extractor.feed("stdout", "x marks")
        fed += 1
    results = extractor.final()
    assert results is not None
    assert fed < 1000, "the budget never ran out"
    for name in ("heavy", "light"):
        reason = results[name]
        assert isinstance(reason, str) and reason.startswith("matching stopped: "), reason
    extractor.feed("stdout", line)  # and nothing more is matched
    assert results["light"] == reason
