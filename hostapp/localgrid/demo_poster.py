"""The demo grid's poster: while a demo service job serves, call its URL every few seconds, as a
real poster's client would, so a new user sees the service answer and its traffic in the tray."""

from __future__ import annotations

import logging
import threading
import urllib.request

from hostapp.localgrid.tunnel_edge import EdgeRunner

log = logging.getLogger(__name__)

POSTER_EVERY_SECONDS = 3.0
DEMO_JOB_PREFIX = "demo-"


class DemoPoster:
    def __init__(self, edge: EdgeRunner, every: float = POSTER_EVERY_SECONDS) -> None:
        self._edge = edge
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-poster", daemon=True)
        self.answered = 0  # requests the demo services answered (tests read it)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            for service in self._edge.services():
                if not str(service["job_id"]).startswith(DEMO_JOB_PREFIX):
                    continue  # a poster's own service: not ours to call
                try:
                    with urllib.request.urlopen(str(service["url"]) + "/", timeout=2) as reply:  # noqa: S310 - the edge's loopback URL
                        reply.read(65_536)
                    self.answered += 1
                except OSError as exc:  # starting, stopping, or down: the next round tries again
                    log.debug("demo service %s did not answer: %s", service["job_id"], exc)
