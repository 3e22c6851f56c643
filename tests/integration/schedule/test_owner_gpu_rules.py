"""An allow-list edit reaches the GPU process classifier of the running process, without a restart.

Real parts: Services with the recorded NVML profile of a lent H100 while a `python3` process held a
CUDA context (only NVML is faked), the telemetry sampler, the foreign-use watcher, schedule.json.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hostapp.app import build_services

PROFILE = Path(__file__).resolve().parents[2] / "fixtures" / "nvml" / "h100-sxm-busy.json"


def test_an_allow_list_edit_applies_to_the_next_gpu_sample(hostapp_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTAPP_FAKE_NVML", str(PROFILE))
    services = build_services(setup_logs=False)
    try:
        gpu = services.gpu
        uuid = gpu.detection.gpus[0].uuid
        gpu.sampler.tick()
        assert [p.name for p in gpu.watcher.foreign(uuid)] == ["python3"]

        def allow_python(policy):  # type: ignore[no-untyped-def]
            allowed = (*policy.rules.process_allow_list, "python3")
            return dataclasses.replace(policy, rules=policy.rules.model_copy(update={"process_allow_list": allowed}))

        services.policy_owner.update(allow_python, "gui")
        gpu.sampler.tick()
        assert gpu.watcher.foreign(uuid) == []
    finally:
        services.close()
