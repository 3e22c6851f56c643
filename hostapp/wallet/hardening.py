"""Process hardening for the processes that hold the wallet key: no core dumps, no same-user ptrace.

A crash dump (core file, `kill -ABRT`, `gcore`) holds everything in memory, the signing key among it.
`protect_process()` is called first thing by the commands that load the key (`hostapp node`, the tray
app, `hostapp wallet …`):
- POSIX: RLIMIT_CORE soft and hard limits 0, so the kernel writes no core file and the process cannot
  raise the limit again;
- Linux: prctl(PR_SET_DUMPABLE, 0) as well, which also covers a core_pattern pipe (systemd-coredump,
  apport ignore RLIMIT_CORE) and makes /proc/<pid>/mem and ptrace refuse other processes of the same
  user (root keeps CAP_SYS_PTRACE: out of scope, see docs/security.md);
- Windows: nothing to switch off per process (Windows Error Reporting keeps local dumps only when an
  administrator configured LocalDumps); said in the returned lines.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def protect_process() -> list[str]:
    """Apply what this platform offers; returns one line per measure (applied, or why not)."""
    done: list[str] = []
    if sys.platform == "win32":
        return ["core dumps: none per process on Windows (WER LocalDumps is an administrator setting)"]
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        done.append("core dumps: RLIMIT_CORE set to 0")
    except (OSError, ValueError) as exc:
        done.append(f"core dumps: RLIMIT_CORE not lowered ({exc})")
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
            done.append("dumpable: PR_SET_DUMPABLE 0 (no core, no same-user ptrace or /proc/<pid>/mem)")
        except (OSError, AttributeError) as exc:
            done.append(f"dumpable: not changed ({exc})")
    else:
        done.append(f"dumpable: no PR_SET_DUMPABLE on {sys.platform}; RLIMIT_CORE is the protection")
    for line in done:
        log.debug("%s", line)
    return done


def dumpable() -> int | None:
    """prctl(PR_GET_DUMPABLE) of this process on Linux (0 = protected), else None."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return int(libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
