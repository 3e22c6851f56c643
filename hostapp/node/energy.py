"""Energy metering: a GPU's measured power draw integrated over a job (what the ledger's energy column holds)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class EnergyMeter:
    """Integrates a GPU's measured power draw over a job, once a second, in its own thread."""

    def __init__(self, power: Callable[[str], float | None], gpu: str, interval: float = 1.0) -> None:
        self._power = power
        self._gpu = gpu
        self._interval = interval
        self._joules = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="node-energy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self._interval):
            self._sample(last)
            last = time.monotonic()
        self._sample(last)

    def _sample(self, since: float) -> None:
        watts = self._power(self._gpu)
        if watts is not None:
            self._joules += watts * (time.monotonic() - since)

    def stop(self) -> int:
        """Stops metering; the energy in milliwatt-hours (1 mWh = 3.6 J)."""
        self._stop.set()
        self._thread.join(timeout=5)
        return round(self._joules / 3.6)
