"""GPU telemetry and process classification cost, against the raw pynvml calls they make.

    .venv/bin/python bench/bench_gpu.py                 # real GPU if NVML works, else the fake H100 profile
    .venv/bin/python bench/bench_gpu.py --fake tests/fixtures/nvml/rig-2gpu.json
    .venv/bin/python bench/bench_gpu.py --real          # fail unless a real GPU is there

Subject and baseline run alternately (A B A B …) in batches, so drift lands on both sides; figures
are medians per call. Target (design): one telemetry sample <= 2 ms per GPU on a real GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hostapp.events import EventBus  # noqa: E402
from hostapp.gpu.fake_nvml import FakeNvml  # noqa: E402
from hostapp.gpu.probe import NvmlProbe  # noqa: E402
from hostapp.gpu.processes import JobContainers, ProcessClassifier  # noqa: E402
from hostapp.gpu.telemetry import TelemetrySampler  # noqa: E402

SAMPLE_TARGET_S = 0.002


def per_call(fn: Callable[[], object], batch: int) -> float:
    started = time.perf_counter()
    for _ in range(batch):
        fn()
    return (time.perf_counter() - started) / batch


def compare(
    name: str, subject: Callable[[], object], baseline: Callable[[], object], runs: int, batch: int
) -> dict[str, Any]:
    for _ in range(2):
        per_call(subject, batch)
        per_call(baseline, batch)
    s_times, b_times = [], []
    for _ in range(runs):
        s_times.append(per_call(subject, batch))
        b_times.append(per_call(baseline, batch))
    s, b = statistics.median(s_times), statistics.median(b_times)
    ratio = s / b if b else float("inf")
    print(f"{name}: hostapp {s * 1e6:.1f} us vs raw pynvml {b * 1e6:.1f} us = {ratio:.2f}x")
    return {"name": name, "subject_median_s": s, "baseline_median_s": b, "ratio": ratio, "runs": runs}


def raw_sample(nvml: Any, handle: Any) -> Callable[[], object]:
    """Exactly the NVML reads NvmlProbe.sample makes, with no wrapping."""
    reasons = (
        getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    )

    def read() -> object:
        out = []
        for fn, args in (
            (nvml.nvmlDeviceGetMemoryInfo, ()),
            (nvml.nvmlDeviceGetUtilizationRates, ()),
            (nvml.nvmlDeviceGetPowerUsage, ()),
            (reasons, ()),
            (nvml.nvmlDeviceGetTemperature, (nvml.NVML_TEMPERATURE_GPU,)),
            (nvml.nvmlDeviceGetFanSpeed, ()),
            (nvml.nvmlDeviceGetClockInfo, (nvml.NVML_CLOCK_GRAPHICS,)),
            (nvml.nvmlDeviceGetClockInfo, (nvml.NVML_CLOCK_SM,)),
            (nvml.nvmlDeviceGetClockInfo, (nvml.NVML_CLOCK_MEM,)),
        ):
            try:
                out.append(fn(handle, *args))
            except nvml.NVMLError:
                out.append(None)
        return out

    return read


def raw_processes(nvml: Any, handle: Any) -> Callable[[], object]:
    def read() -> object:
        return (nvml.nvmlDeviceGetComputeRunningProcesses(handle), nvml.nvmlDeviceGetGraphicsRunningProcesses(handle))

    return read


def pick_nvml(args: argparse.Namespace) -> tuple[Any, str]:
    if args.fake:
        return FakeNvml.from_file(Path(args.fake)), f"fake NVML ({args.fake})"
    import pynvml

    try:
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        return pynvml, "real NVML"
    except pynvml.NVMLError as exc:
        if args.real:
            sys.exit(f"bench_gpu: --real but NVML is unusable: {exc}")
        profile = ROOT / "tests" / "fixtures" / "nvml" / "h100-sxm.json"
        return FakeNvml.from_file(profile), f"fake NVML ({profile.name}; no GPU here: {exc})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fake", help="an NVML profile to replay instead of the real driver")
    parser.add_argument("--real", action="store_true", help="require a real GPU")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--json", dest="json_path", help="also write the figures here")
    args = parser.parse_args()

    nvml, source = pick_nvml(args)
    probe = NvmlProbe.open(nvml)
    if not isinstance(probe, NvmlProbe):
        print(f"bench_gpu: no usable GPU: {probe.detect().reason}", file=sys.stderr)
        return 1
    gpus = probe.detect().gpus
    if isinstance(nvml, FakeNvml):
        # Something to classify: this process and its parent (host pids, read from /proc like real ones).
        for gpu in gpus:
            nvml.set_processes(gpu.index, compute=[(os.getpid(), 1 << 30)], graphics=[(os.getppid(), 1 << 28)])
    print(f"== bench_gpu: {source}; {len(gpus)} GPU(s): {', '.join(g.name for g in gpus)}")
    nvml.nvmlInit()  # the raw baseline needs its own handles, as any caller would
    handles = [nvml.nvmlDeviceGetHandleByIndex(g.index) for g in gpus]
    classifier_containers = JobContainers()
    classifier = ProcessClassifier(probe, classifier_containers, allow=["Xorg"])
    results = []
    for gpu, handle in zip(gpus, handles, strict=True):
        index = gpu.index
        results.append(
            compare(
                f"telemetry sample, GPU {index}",
                lambda i=index: probe.sample(i),
                raw_sample(nvml, handle),
                args.runs,
                args.batch,
            )
        )
        print(f"  processes on GPU {index}: {[(p.pid, p.name, p.kind.value) for p in classifier.classify_gpu(index)]}")
        results.append(
            compare(
                f"process classification (steady), GPU {index}",
                lambda i=index: classifier.classify_gpu(i),
                raw_processes(nvml, handle),
                args.runs,
                args.batch,
            )
        )
        # First sight of every pid: /proc reads (and, for container pids, one cached engine lookup).
        results.append(
            compare(
                f"process classification (first sight), GPU {index}",
                lambda i=index: ProcessClassifier(probe, classifier_containers, allow=["Xorg"]).classify_gpu(i),
                raw_processes(nvml, handle),
                args.runs,
                args.batch,
            )
        )
    sampler = TelemetrySampler(probe, EventBus(), classifier=classifier)
    tick = statistics.median(per_call(sampler.tick, args.batch) for _ in range(args.runs))
    print(f"full sampler tick (all {len(gpus)} GPU(s), telemetry + processes + events): {tick * 1e6:.1f} us")
    worst = max(r["subject_median_s"] for r in results if r["name"].startswith("telemetry"))
    verdict = "OK" if worst <= SAMPLE_TARGET_S else "OVER TARGET"
    print(
        f"telemetry sample per GPU: {worst * 1000:.3f} ms "
        f"(target <= {SAMPLE_TARGET_S * 1000:.0f} ms on a real GPU) {verdict}"
    )
    nvml.nvmlShutdown()
    probe.close()
    if args.json_path:
        Path(args.json_path).write_text(
            json.dumps({"source": source, "results": results, "tick_s": tick}, indent=2), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
