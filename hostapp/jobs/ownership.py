"""Which process owns a job, and whether that process still lives.

Every job's row in the `jobs` table (column `owner`) and its containers, volumes and networks (label
`hostapp.owner`) carry the id of the process that runs it. `JobRunner.reconcile()` treats a job as
left over only when that process is gone: a standalone `hostapp run-job` never touches the running
node's jobs, nor the node a standalone run's, although they share one data folder and one engine.

An id must not outlive its process, so a pid alone is not enough (pids are reused):
- Linux: ``linux:<boot id>:<pid>:<start time>``, the start time being field 22 of /proc/<pid>/stat
  (clock ticks since boot). The owner lives iff this is the same boot and /proc/<pid>/stat shows that
  start time in a state other than zombie/dead. Exact: a reused pid has another start time.
- Windows: ``win32:<pid>:<creation time>`` (GetProcessTimes), checked the same way.
- Other POSIX systems (macOS, BSD): ``posix:<host name>:<pid>``, checked with kill(pid, 0). A reused
  pid reads as alive, so a leftover then waits until that pid is gone too: the error is always on
  the side of touching nothing.
An id this process cannot judge (another platform's, another host's) counts as alive. Ownership is
per machine: a data folder is used by the processes of one machine.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
from pathlib import Path

log = logging.getLogger(__name__)

PROC = Path("/proc")


@functools.cache
def current_owner() -> str:
    """This process's owner id (computed once: it never changes while the process lives)."""
    pid = os.getpid()
    if sys.platform == "linux":
        boot, started = _linux_boot_id(), _linux_start_time(pid)
        if boot is not None and started is not None:
            return f"linux:{boot}:{pid}:{started}"
    elif sys.platform == "win32":
        created = _windows_creation_time(pid)
        if created is not None:
            return f"win32:{pid}:{created}"
    return f"posix:{socket.gethostname()}:{pid}"


if hasattr(os, "register_at_fork"):  # a forked child is another process: it computes its own id
    os.register_at_fork(after_in_child=current_owner.cache_clear)


def owner_alive(owner: str | None) -> bool:
    """Whether the process `owner` names still runs. None (rows and labels written before owners
    existed) counts as gone: such a job can only be a leftover of an older hostapp."""
    if not owner:
        return False
    if owner == current_owner():
        return True
    kind, _, rest = owner.partition(":")
    try:
        if kind == "linux" and sys.platform == "linux":
            boot, pid, started = rest.rsplit(":", 2)
            if boot != _linux_boot_id():
                return False  # the machine restarted since: every process of that boot is gone
            return _linux_start_time(int(pid)) == int(started)
        if kind == "win32" and sys.platform == "win32":
            pid, created = rest.split(":")
            return _windows_creation_time(int(pid)) == int(created)
        if kind == "posix" and os.name == "posix":
            host, pid = rest.rsplit(":", 1)
            return host != socket.gethostname() or _posix_pid_exists(int(pid))
    except PermissionError:
        return True  # it exists; only its details are hidden from us
    except ValueError:
        log.info("cannot read owner id %r; treating its jobs as in use", owner)
    return True


def _linux_boot_id() -> str | None:
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return None


def _linux_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat; None when no such process runs (gone, or a zombie)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return None
    return int(fields[19])


def _posix_pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the pid exists (never used on Windows)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    def _windows_creation_time(pid: int) -> int | None:
        """The process's creation time (100 ns units) if it is still running, else None."""
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            if ctypes.get_last_error() == 5:  # ERROR_ACCESS_DENIED: it exists, another user's
                raise PermissionError(pid)
            return None
        try:
            code = wintypes.DWORD()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value != 259:  # STILL_ACTIVE
                return None
            times = [wintypes.FILETIME() for _ in range(4)]
            if not kernel32.GetProcessTimes(handle, *(ctypes.byref(t) for t in times)):
                return None
            return (times[0].dwHighDateTime << 32) | times[0].dwLowDateTime
        finally:
            kernel32.CloseHandle(handle)

else:

    def _windows_creation_time(pid: int) -> int | None:
        return None
