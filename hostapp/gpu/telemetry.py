"""Live GPU telemetry: a background thread samples every GPU at a fixed interval.

Each tick reads one `GpuSample` per GPU (kept in a bounded history for charts and published as
"gpu.telemetry") and, when a classifier is given, the GPU's processes (fed to the foreign-use
watcher, so a game starting is noticed within one interval). The probe caches NVML handles, so a
tick costs only the NVML reads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from hostapp.events import EventBus
from hostapp.gpu.failures import FailureKind
from hostapp.gpu.probe import GpuInfo, GpuProbe, GpuReadError, GpuSample
from hostapp.gpu.processes import ClassifiedProcess, ForeignUseWatcher, ProcessClassifier

log = logging.getLogger(__name__)

TELEMETRY = "gpu.telemetry"
READ_FAILED = "gpu.read_failed"
READ_RECOVERED = "gpu.read_recovered"
DEFAULT_HISTORY = 3600  # one hour at 1 Hz


class TelemetrySampler:
    def __init__(
        self,
        probe: GpuProbe,
        bus: EventBus,
        interval_seconds: float = 1.0,
        history_size: int = DEFAULT_HISTORY,
        classifier: ProcessClassifier | None = None,
        watcher: ForeignUseWatcher | None = None,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        if history_size < 1:
            raise ValueError("history_size must be at least 1")
        self._probe = probe
        self._bus = bus
        self.interval_seconds = interval_seconds
        self._gpus: list[GpuInfo] = probe.detect().gpus
        self._history: dict[str, deque[GpuSample]] = {g.uuid: deque(maxlen=history_size) for g in self._gpus}
        self._processes: dict[str, list[ClassifiedProcess]] = {}
        self._failed: dict[str, FailureKind] = {}
        self._classifier = classifier
        self._watcher = watcher
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running or not self._gpus:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gpu-telemetry", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def history(self, uuid: str) -> list[GpuSample]:
        with self._lock:
            return list(self._history.get(uuid, ()))

    def latest(self, uuid: str) -> GpuSample | None:
        with self._lock:
            samples = self._history.get(uuid)
            return samples[-1] if samples else None

    def processes(self, uuid: str) -> list[ClassifiedProcess]:
        with self._lock:
            return list(self._processes.get(uuid, ()))

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # never let one bad tick end telemetry for the session
                log.exception("GPU telemetry tick failed")
            # A fixed schedule, not sleep(interval): the tick's own cost does not stretch the period.
            next_at += self.interval_seconds
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at, delay = time.monotonic(), 0
            self._stop.wait(delay)

    def tick(self) -> None:
        """One sampling pass over every GPU (the thread calls this; tests may call it directly)."""
        self.ticks += 1
        for gpu in self._gpus:
            try:
                sample = self._probe.sample(gpu.index)
                processes = self._classifier.classify_gpu(gpu.index) if self._classifier else None
            except GpuReadError as exc:
                self._note_failure(gpu, exc)
                continue
            if gpu.uuid in self._failed:
                del self._failed[gpu.uuid]
                self._bus.publish(READ_RECOVERED, uuid=gpu.uuid, index=gpu.index)
            with self._lock:
                self._history[gpu.uuid].append(sample)
                if processes is not None:
                    self._processes[gpu.uuid] = processes
            self._bus.publish(
                TELEMETRY,
                uuid=gpu.uuid,
                index=gpu.index,
                sample=sample,
                name=gpu.name,
                power_limit_w=gpu.power_limit_w,
            )
            if processes is not None and self._watcher is not None:
                self._watcher.update(gpu.uuid, processes)

    def _note_failure(self, gpu: GpuInfo, exc: GpuReadError) -> None:
        # Published once per failure kind, not every second: the tray shows it until recovery.
        if self._failed.get(gpu.uuid) is exc.failure.kind:
            return
        self._failed[gpu.uuid] = exc.failure.kind
        log.warning("cannot read GPU %s: %s", gpu.index, exc.failure.message)
        self._bus.publish(
            READ_FAILED,
            uuid=gpu.uuid,
            index=gpu.index,
            kind=exc.failure.kind.value,
            message=exc.failure.message,
            hint=exc.failure.hint,
        )
