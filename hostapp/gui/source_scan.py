"""PySide6's import hook without its memory cost.

PySide6 (shibokensupport's `__feature__` support) checks every module imported after it for the text
"PySide6", with `inspect.getsource`. That call leaves each module's source lines in `linecache` for
the life of the process: about 2 MB of strings in the tray (~90 modules, stdlib mostly), which freeing
later does not give back (the allocator keeps the pages). `read_sources_uncached()` makes the check
read the file itself and keep nothing, with the same answer.
"""

from __future__ import annotations

import logging
from types import ModuleType

log = logging.getLogger(__name__)


def mentions_pyside(module: ModuleType) -> bool:
    """Whether the module's source file says "PySide6" (PySide6's own test), reading it uncached."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False  # built-in or compiled: PySide6's own check finds no source either
    try:
        with open(path, encoding="utf-8", errors="replace") as source:
            return "PySide6" in source.read()
    except OSError:
        return False


def read_sources_uncached() -> bool:
    """Replaces PySide6's check (private API: left alone, with a log line, if a release renames it).
    Called by `hostapp.gui`'s __init__, before any other tray module is imported. Returns whether it
    was replaced."""
    import PySide6.QtCore  # noqa: F401 - loads shiboken's support modules, and with them the hook

    try:
        from shibokensupport import feature  # made by shiboken6 at run time
    except ImportError:
        log.info("PySide6's feature module is not there: its import check is left as it is")
        return False
    if not callable(getattr(feature, "_mod_uses_pyside", None)):
        log.info("PySide6's import check has another name in this release: left as it is")
        return False
    feature._mod_uses_pyside = mentions_pyside
    return True
