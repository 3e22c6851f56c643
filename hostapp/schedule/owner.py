"""The one owner of the availability policy in a process, and the only writer of schedule.json.

The GUI, the control socket and the node all read and change the policy through one `PolicyOwner`
(built once per process by `Services.policy_owner`). Every change is a read-modify-write on the
newest version: under a thread lock and an advisory file lock shared with other hostapp processes,
the owner first re-reads the file if someone else wrote it, then applies the change and writes the
result atomically. So a pause applied by the node can never write a stale copy over a grid the user
just saved, in this process or in another one.

Edits made outside this process (`hostapp schedule set` against another process, the tray while
`hostapp node` runs, a hand edit) are noticed by a file check: on every read, and every
`WATCH_SECONDS` while someone `watch()`es (the node does), so they are in force within 1 s.

Each change bumps `revision` (per process) and publishes `schedule.changed` with
`source` ("gui" | "control" | "node" | "file") and `revision`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hostapp.config.atomic import write_private
from hostapp.events import EventBus
from hostapp.schedule.policy import AvailabilityPolicy
from hostapp.schedule.policy_file import PolicyFileError, policy_from_json, policy_to_json

log = logging.getLogger(__name__)

CHANGED_TOPIC = "schedule.changed"
# How often a watched file is checked: an edit from another process is in force within this plus
# one evaluation (milliseconds), i.e. within 1 s. A stat twice a second costs nothing measurable.
WATCH_SECONDS = 0.5
# A file whose mtime is this close to when we last looked may be rewritten within the same mtime
# tick (coarse-timestamp file systems): compare its bytes, not just its stat, until it is older.
_RACY_NS = 2_000_000_000

ChangeSource = Literal["gui", "control", "node", "file"]
PolicyChange = Callable[[AvailabilityPolicy], AvailabilityPolicy]


@dataclass(frozen=True)
class _Seen:
    """What the file looked like when we last read it (None: it did not exist)."""

    stat: tuple[int, int, int] | None  # (inode, size, mtime_ns)
    data: bytes | None
    at_ns: int  # wall clock when we looked

    def racy(self) -> bool:
        return self.stat is not None and self.at_ns - self.stat[2] < _RACY_NS


class PolicyOwner:
    def __init__(self, path: Path, bus: EventBus | None = None, *, watch_seconds: float = WATCH_SECONDS) -> None:
        self.path = path
        self._bus = bus
        self._watch_seconds = watch_seconds
        self._lock = threading.RLock()
        self._revision = 0
        self._policy = AvailabilityPolicy()
        self._seen = _Seen(None, None, 0)
        self._load_file(_stat(path))  # the starting policy is revision 0
        self._revision = 0
        self._watchers = 0
        self._watch_stop = threading.Event()  # a new one per watch thread
        self._watch_thread: threading.Thread | None = None

    @property
    def revision(self) -> int:
        return self._revision

    def current(self) -> AvailabilityPolicy:
        """The newest policy: an edit another process made to the file is picked up here."""
        self.refresh()
        return self._policy

    def refresh(self) -> bool:
        """Re-read the file if someone else changed it; True (and an event) when the policy changed."""
        with self._lock:
            changed = self._refresh_locked()
            revision = self._revision
        if changed:
            self._publish("file", revision)
        return changed

    def update(self, change: PolicyChange, source: ChangeSource) -> AvailabilityPolicy:
        """Apply `change` to the newest policy and save it; returns the policy now in force.

        Raises OSError when the file cannot be written (then nothing changed). A change that
        changes nothing writes nothing and publishes nothing.
        """
        events: list[tuple[ChangeSource, int]] = []
        try:
            with self._lock, _interprocess_lock(self.path):
                if self._refresh_locked():
                    events.append(("file", self._revision))
                new = change(self._policy)
                if new != self._policy:
                    data = policy_to_json(new).encode()
                    self._keep_broken_file()
                    write_private(self.path, data)
                    self._policy = new
                    self._seen = _Seen(_stat(self.path), data, time.time_ns())
                    self._revision += 1
                    events.append((source, self._revision))
                return self._policy
        finally:  # outside the locks: a subscriber may read the policy (the node's driver does)
            for event_source, revision in events:
                self._publish(event_source, revision)

    def replace(self, policy: AvailabilityPolicy, source: ChangeSource) -> AvailabilityPolicy:
        return self.update(lambda _old: policy, source)

    # -- watching the file ------------------------------------------------------------------

    def watch(self) -> Callable[[], None]:
        """Check the file every WATCH_SECONDS until the returned function is called (counted, so
        several users may watch at once)."""
        with self._lock:
            self._watchers += 1
            if self._watch_thread is None:
                self._watch_stop = threading.Event()
                self._watch_thread = threading.Thread(
                    target=self._watch_loop, args=(self._watch_stop,), name="schedule-watch", daemon=True
                )
                self._watch_thread.start()
        released = threading.Event()

        def unwatch() -> None:
            if released.is_set():
                return
            released.set()
            with self._lock:
                self._watchers -= 1
                thread = self._watch_thread if self._watchers == 0 else None
                if thread is not None:
                    self._watch_thread = None
                    self._watch_stop.set()
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)

        return unwatch

    def _watch_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self._watch_seconds):
            try:
                self.refresh()
            except Exception:  # a watcher that dies silently would freeze the schedule: log, go on
                log.exception("checking %s failed", self.path)

    # -- internals (self._lock held) --------------------------------------------------------

    def _refresh_locked(self) -> bool:
        stat = _stat(self.path)
        if stat == self._seen.stat and not self._seen.racy():
            return False
        return self._load_file(stat)

    def _load_file(self, stat: tuple[int, int, int] | None) -> bool:
        """Adopt the file's content if it differs from what we know. A broken file is reported once
        and the last good policy stays in force (a half-saved hand edit must not flip the node)."""
        data: bytes | None = None
        if stat is not None:
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                stat = None
            except OSError as exc:
                # Remember the stat so this is said once, not twice a second.
                self._seen = _Seen(stat, self._seen.data, time.time_ns())
                log.warning("%s: cannot read (%s); keeping the schedule in force", self.path, exc.strerror or exc)
                return False
        previous = self._seen.data
        self._seen = _Seen(stat, data, time.time_ns())
        if data == previous:
            return False  # touched, or our own write seen again
        try:
            policy = AvailabilityPolicy() if data is None else policy_from_json(data, source=str(self.path))
        except PolicyFileError as exc:
            log.warning("%s; keeping the schedule in force until the file is fixed", exc)
            return False
        if policy == self._policy:
            return False  # reformatted, same meaning
        self._policy = policy
        self._revision += 1
        return True

    def _keep_broken_file(self) -> None:
        """About to save over a file that does not parse (a hand edit with a typo): keep its text."""
        data = self._seen.data
        if data is None:
            return
        try:
            policy_from_json(data)
        except PolicyFileError:
            kept = self.path.with_name(self.path.name + ".broken")
            write_private(kept, data)
            log.warning("%s did not parse; saved a new schedule over it, its text is kept in %s", self.path, kept)

    def _publish(self, source: ChangeSource, revision: int) -> None:
        log.info("schedule changed (%s), revision %d", source, revision)
        if self._bus is not None:
            self._bus.publish(CHANGED_TOPIC, source=source, revision=revision)


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@contextlib.contextmanager
def _interprocess_lock(path: Path) -> Iterator[None]:
    """Serialize read-modify-write with other hostapp processes (the tray and `hostapp node`).

    An advisory lock on a side file: the schedule file itself is replaced by rename on every save,
    so a lock on it would be held on an inode that is no longer the file.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the thread lock still covers this process
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
