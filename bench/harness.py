"""Runs a subject and its baseline alternately in one run and reports medians and the ratio.

Alternating (A B A B …) rather than all-A-then-all-B keeps slow drift of the machine (other
processes, caches, thermal) from landing on one side only.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Comparison:
    name: str
    subject_median_s: float
    baseline_median_s: float
    ratio: float
    target_ratio: float | None
    runs: int

    @property
    def meets_target(self) -> bool | None:
        return None if self.target_ratio is None else self.ratio <= self.target_ratio

    @classmethod
    def of_samples(
        cls, name: str, subject: list[float], baseline: list[float], target_ratio: float | None = None
    ) -> Comparison:
        """From times measured in one run (alternately, or from the engine's own event times)."""
        s, b = statistics.median(subject), statistics.median(baseline)
        return cls(name, s, b, s / b if b else float("inf"), target_ratio, len(subject))

    def line(self) -> str:
        verdict = "" if self.meets_target is None else ("  OK" if self.meets_target else "  OVER TARGET")
        target = "" if self.target_ratio is None else f" (target <= {self.target_ratio:.2f}x)"
        return (
            f"{self.name}: hostapp {self.subject_median_s * 1000:.1f} ms vs baseline "
            f"{self.baseline_median_s * 1000:.1f} ms = {self.ratio:.3f}x{target}{verdict}"
        )


def time_call(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def compare(
    name: str,
    subject: Callable[[], object],
    baseline: Callable[[], object],
    runs: int = 20,
    warmup: int = 2,
    target_ratio: float | None = None,
) -> Comparison:
    for _ in range(warmup):
        subject()
        baseline()
    subject_times: list[float] = []
    baseline_times: list[float] = []
    for _ in range(runs):
        subject_times.append(time_call(subject))
        baseline_times.append(time_call(baseline))
    return Comparison.of_samples(name, subject_times, baseline_times, target_ratio)


def within(name: str, seconds: float, limit_seconds: float) -> str:
    """The verdict line for an absolute target (a latency a user feels, whatever the baseline)."""
    verdict = "OK" if seconds <= limit_seconds else "OVER TARGET"
    return f"{name}: median {seconds * 1000:.0f} ms (target <= {limit_seconds * 1000:.0f} ms)  {verdict}"


def measure(name: str, fn: Callable[[], float], runs: int = 20) -> float:
    """Median of a quantity `fn` measures itself (a latency from inside the system, say)."""
    values = sorted(fn() for _ in range(runs))
    median = statistics.median(values)
    print(f"{name}: median {median * 1000:.1f} ms over {runs} runs")
    return median


def report(results: list[Comparison], json_path: str | None = None) -> None:
    for r in results:
        print(r.line())
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump([asdict(r) | {"meets_target": r.meets_target} for r in results], handle, indent=2)
