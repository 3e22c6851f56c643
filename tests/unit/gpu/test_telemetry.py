from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from hostapp.events import Event, EventBus
from hostapp.gpu.fake_nvml import FakeNvml
from hostapp.gpu.probe import NvmlProbe
from hostapp.gpu.processes import FOREIGN_USE_STARTED, ForeignUseWatcher, JobContainers, ProcessClassifier
from hostapp.gpu.telemetry import READ_FAILED, READ_RECOVERED, TELEMETRY, TelemetrySampler


def _events(bus: EventBus) -> list[Event]:
    seen: list[Event] = []
    bus.subscribe("*", seen.append)
    return seen


def test_tick_samples_every_gpu_publishes_and_keeps_bounded_history(
    fake_nvml: Callable[[str], FakeNvml],
) -> None:
    nvml = fake_nvml("rig-2gpu")
    probe = NvmlProbe.open(nvml)
    bus = EventBus()
    events = _events(bus)
    sampler = TelemetrySampler(probe, bus, history_size=3)
    uuids = [g.uuid for g in probe.detect().gpus]
    for temperature in range(40, 45):
        nvml.device(0)["temperature_c"] = temperature
        sampler.tick()
    assert [s.temperature_c for s in sampler.history(uuids[0])] == [42, 43, 44]
    assert len(sampler.history(uuids[1])) == 3
    assert sampler.latest(uuids[0]).temperature_c == 44  # type: ignore[union-attr]
    telemetry = [e for e in events if e.topic == TELEMETRY]
    assert len(telemetry) == 10
    assert {e.data["uuid"] for e in telemetry} == set(uuids)
    assert telemetry[-2].data["sample"].temperature_c == 44


def test_thread_starts_samples_at_the_interval_and_stops(fake_nvml: Callable[[str], FakeNvml]) -> None:
    probe = NvmlProbe.open(fake_nvml("rtx4090"))
    bus = EventBus()
    got_three = threading.Event()
    count = [0]

    def on_sample(_event: Event) -> None:
        count[0] += 1
        if count[0] >= 3:
            got_three.set()

    bus.subscribe(TELEMETRY, on_sample)
    sampler = TelemetrySampler(probe, bus, interval_seconds=0.02)
    sampler.start()
    sampler.start()  # idempotent: still one thread
    assert sampler.running
    assert got_three.wait(5)
    sampler.stop()
    assert not sampler.running
    assert [t.name for t in threading.enumerate()].count("gpu-telemetry") == 0
    ticks = sampler.ticks
    time.sleep(0.1)
    assert sampler.ticks == ticks  # nothing samples after stop
    sampler.start()  # restartable
    assert sampler.running
    sampler.stop()


def test_no_gpu_means_no_thread(fake_nvml: Callable[[str], FakeNvml]) -> None:
    from hostapp.gpu.probe import open_probe

    sampler = TelemetrySampler(open_probe(fake_nvml("error-library-not-found")), EventBus())
    sampler.start()
    assert not sampler.running


def test_invalid_settings_are_refused(fake_nvml: Callable[[str], FakeNvml]) -> None:
    probe = NvmlProbe.open(fake_nvml("rtx4090"))
    with pytest.raises(ValueError, match="interval"):
        TelemetrySampler(probe, EventBus(), interval_seconds=0)
    with pytest.raises(ValueError, match="history"):
        TelemetrySampler(probe, EventBus(), history_size=0)


def test_lost_gpu_is_reported_once_then_recovery(fake_nvml: Callable[[str], FakeNvml]) -> None:
    nvml = fake_nvml("rig-2gpu")
    probe = NvmlProbe.open(nvml)
    bus = EventBus()
    events = _events(bus)
    sampler = TelemetrySampler(probe, bus)
    nvml.device(1)["errors"] = {"*": "NVML_ERROR_GPU_IS_LOST"}
    for _ in range(3):
        sampler.tick()
    failed = [e for e in events if e.topic == READ_FAILED]
    assert len(failed) == 1
    assert failed[0].data["kind"] == "gpu_lost" and failed[0].data["index"] == 1 and failed[0].data["hint"]
    assert len([e for e in events if e.topic == TELEMETRY]) == 3  # GPU 0 kept sampling
    nvml.device(1)["errors"] = {}
    sampler.tick()
    assert [e.data["index"] for e in events if e.topic == READ_RECOVERED] == [1]


def test_sampler_feeds_the_foreign_use_watcher(fake_nvml: Callable[[str], FakeNvml]) -> None:
    import os

    nvml = fake_nvml("rtx4090")
    probe = NvmlProbe.open(nvml)
    bus = EventBus()
    events = _events(bus)
    classifier = ProcessClassifier(probe, JobContainers(), allow=["Xorg", "gnome-shell"])
    sampler = TelemetrySampler(probe, bus, classifier=classifier, watcher=ForeignUseWatcher(bus))
    sampler.tick()
    assert not [e for e in events if e.topic == FOREIGN_USE_STARTED]  # only allow-listed processes
    nvml.set_processes(0, graphics=[(os.getpid(), 2 * 1024**3)])
    sampler.tick()
    [started] = [e for e in events if e.topic == FOREIGN_USE_STARTED]
    assert started.data["pids"] == [os.getpid()]
    uuid = probe.detect().gpus[0].uuid
    assert [p.pid for p in sampler.processes(uuid)] == [os.getpid()]


def test_telemetry_carries_the_cards_model_and_power_limit(fake_nvml: Callable[[str], FakeNvml]) -> None:
    """The Dashboard's power gauge ends at the card's limit (450 W on the recorded RTX 4090)."""
    probe = NvmlProbe.open(fake_nvml("rtx4090"))
    bus = EventBus()
    events = _events(bus)
    TelemetrySampler(probe, bus).tick()
    (event,) = [e for e in events if e.topic == TELEMETRY]
    assert event.data["power_limit_w"] == 450.0
    assert "4090" in event.data["name"]
