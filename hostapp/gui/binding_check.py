"""Refuses a Qt binding that loses references to None, True or False (docs/gui.md, "Binding bug").

On CPython 3.11 those singletons are refcounted like any object. PySide6-Essentials 6.12.0 drops one
reference to None on every void call and one to True on every signal emit, so the tray aborts with
`Fatal Python error: none_dealloc` a few thousand events after the window opens. pyproject.toml keeps
that version out; this check catches an install that got it anyway, before the tray icon shows,
and says what to do instead of dying minutes later.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

PROBE_CALLS = 32
EXIT_MARGIN = 1024  # references given back beyond the measured loss (module teardown calls Qt too)
SUPPORTED = "PySide6-Essentials>=6.6,<6.12"
_SINGLETONS = (None, True, False)


def _counts() -> tuple[int, ...]:
    gc.collect()
    return tuple(sys.getrefcount(singleton) for singleton in _SINGLETONS)


def qt_calls() -> Callable[[], None]:
    """One round of the two call shapes the 6.12.0 bug hits: a void method and a signal emit."""
    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        pinged = Signal()

    probe = Probe()

    def one_round() -> None:
        probe.setObjectName("binding-check")
        probe.pinged.emit()

    return one_round


def binding_fault(make_round: Callable[[], Callable[[], None]] = qt_calls) -> str | None:
    """None when PROBE_CALLS rounds of `make_round()` keep every reference they take; otherwise the
    one line to show the user. From CPython 3.12 the singletons are immortal: nothing to lose."""
    if sys.version_info >= (3, 12):
        return None
    one_round = make_round()
    one_round()  # the first call fills the binding's caches: not measured
    before = _counts()
    for _ in range(PROBE_CALLS):
        one_round()
    after = _counts()
    lost = {repr(s): b - a for s, b, a in zip(_SINGLETONS, before, after, strict=True) if a < b - PROBE_CALLS // 2}
    if not lost:
        return None
    # Imported only here: they cost ~70 ms, on the way to the tray icon (docs/benchmarks.md: start to tray ≤ 1.5 s).
    import ctypes
    import importlib.metadata

    # Give back what the probe took and a margin for the binding's own teardown, so this process can
    # still print the message and exit cleanly: a reference too many to a singleton costs nothing.
    for singleton, now, then in zip(_SINGLETONS, _counts(), before, strict=True):
        for _ in range(max(0, then - now) + EXIT_MARGIN):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(singleton))
    try:
        version = importlib.metadata.version("PySide6-Essentials")
    except importlib.metadata.PackageNotFoundError:
        version = "(version unknown)"
    what = " and ".join(f"{name} ({count} in {PROBE_CALLS} rounds)" for name, count in lost.items())
    return (
        f"the Qt binding PySide6-Essentials {version} loses references to {what} and would crash hostapp "
        f"within minutes (Fatal Python error: none_dealloc); install a tested one: pip install '{SUPPORTED}'"
    )
