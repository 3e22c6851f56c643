"""Owner ids and the liveness check, against real processes (a child of this test, alive, zombie, reaped)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostapp.jobs.ownership import current_owner, owner_alive

ROOT = Path(__file__).resolve().parents[3]
PRINT_OWNER_AND_WAIT = (
    "import sys; from hostapp.jobs.ownership import current_owner; print(current_owner(), flush=True); sys.stdin.read()"
)

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the exact owner id reads Linux's /proc")


@pytest.fixture
def child() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A live process and the owner id it reports for itself; it ends when its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PRINT_OWNER_AND_WAIT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    owner = proc.stdout.readline().strip()
    yield proc, owner
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    for pipe in (proc.stdin, proc.stdout):  # a pipe left open is a leaked file (warnings are errors)
        if pipe is not None:
            pipe.close()


def test_this_process_is_alive_and_its_id_is_stable() -> None:
    assert owner_alive(current_owner())
    assert current_owner() == current_owner()
    assert str(os.getpid()) in current_owner().split(":")


def test_a_child_is_alive_until_it_exits(child: tuple[subprocess.Popen[str], str]) -> None:
    proc, owner = child
    assert owner != current_owner() and str(proc.pid) in owner.split(":")
    assert owner_alive(owner)
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(10)
    assert not owner_alive(owner)


@linux_only
def test_a_killed_child_not_yet_reaped_counts_as_gone(child: tuple[subprocess.Popen[str], str]) -> None:
    proc, owner = child
    os.kill(proc.pid, signal.SIGKILL)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # it has exited, and is left unreaped
    stat = Path(f"/proc/{proc.pid}/stat").read_text()
    assert stat[stat.rfind(")") + 2 :].split()[0] == "Z"
    # A zombie runs nothing, so it owns nothing.
    assert not owner_alive(owner)


@linux_only
def test_a_reused_pid_or_another_boot_is_not_the_owner(child: tuple[subprocess.Popen[str], str]) -> None:
    _proc, owner = child
    kind, boot, pid, started = owner.split(":")
    assert kind == "linux" and owner_alive(owner)
    # The same pid with another start time is another process (the pid was reused).
    assert not owner_alive(f"linux:{boot}:{pid}:{int(started) + 1}")
    # The same pid and start time in another boot: the machine restarted since, the owner is gone.
    assert not owner_alive(f"linux:00000000-0000-0000-0000-000000000000:{pid}:{started}")


def test_ids_that_cannot_be_judged_count_as_alive_and_missing_ones_as_gone(
    child: tuple[subprocess.Popen[str], str],
) -> None:
    proc, _owner = child
    assert not owner_alive(None) and not owner_alive("")  # rows and labels of an older hostapp
    assert owner_alive("win32:4:1234" if sys.platform != "win32" else "linux:boot:4:1234")
    assert owner_alive("linux:not-a-number")
    assert owner_alive("something-else:1")
    if os.name == "posix":  # the fallback other POSIX systems use: pid only, checked with kill(pid, 0)
        host = socket.gethostname()
        assert owner_alive(f"posix:{host}:{proc.pid}")
        assert owner_alive(f"posix:another-host:{proc.pid}")
        proc.kill()
        proc.wait(10)
        assert not owner_alive(f"posix:{host}:{proc.pid}")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_has_its_own_id() -> None:
    parent = current_owner()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its id and leave at once
        os.write(write, current_owner().encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_owner = pipe.read()
    os.waitpid(pid, 0)
    assert child_owner != parent and str(pid) in child_owner.split(":")
    assert not owner_alive(child_owner) and owner_alive(parent)
