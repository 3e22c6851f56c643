"""The registration contract: every recorded NVML profile registers at the real grid server.

The body is built exactly as the app builds it — Services over the probe (HOSTAPP_FAKE_NVML), its
NodeConfig, `NodeConfig.registration` — and sent by the real GridClient over loopback HTTP to the
real LocalGrid, which validates it against the same models. A profile that detects no GPU must
still register, as a CPU node.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hostapp.app import build_services
from hostapp.gpu.probe import FAKE_NVML_ENV, GpuInfo
from hostapp.grid import models
from hostapp.grid.client import GridClient
from hostapp.grid.registration import grid_gpu
from hostapp.localgrid.server import LocalGrid
from tests.support import FreshKeystore

PROFILES = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "nvml").glob("*.json"))

pytestmark = pytest.mark.docker  # NodeConfig carries the machine's caps, asked of the real engine


@pytest.mark.parametrize("profile", PROFILES, ids=[p.stem for p in PROFILES])
def test_every_recorded_profile_registers_at_the_real_grid(
    profile: Path, hostapp_home: Path, grid: LocalGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAKE_NVML_ENV, str(profile))
    services = build_services(setup_logs=False)
    signer = FreshKeystore()
    try:
        detection = services.gpu.detection
        registration = services.node_config().registration(signer.pubkey)
        with GridClient(grid.url, signer, timeout=5, retries=0) as client:
            registered = client.register(registration)
            known = client.node_info()
    finally:
        services.close()
    assert registered == known
    assert known.node == signer.pubkey and known.payout_address == signer.pubkey
    assert [g.uuid for g in known.gpus] == [g.uuid for g in detection.gpus]
    assert known.gpus == registration.gpus
    for wire, probed in zip(known.gpus, detection.gpus, strict=True):
        assert wire.vram_mb == probed.memory_total_mib > 0
        assert wire.name == probed.name
    if detection.gpus:
        assert known.driver_version == detection.driver_version
        assert known.cuda_version == detection.cuda_driver_version
    else:
        assert known.gpus == []  # a CPU node


def test_an_odd_card_registers_with_its_fields_fitted(grid: LocalGrid) -> None:
    """Values the wire bounds (a long name, a compute capability out of pattern, a huge VRAM) are
    fitted when the body is built, so the grid never refuses a card for its description."""
    odd = GpuInfo(
        index=0,
        uuid="GPU-odd",
        name="NVIDIA " + "X" * 400,
        memory_total_bytes=2**60,
        compute_capability=(100, 0),
    )
    gpu = grid_gpu(odd)
    assert len(gpu.name) == 256 and gpu.compute_capability is None and gpu.vram_mb == 10_000_000
    with GridClient(grid.url, FreshKeystore(), timeout=5, retries=0) as client:
        known = client.register(models.NodeRegistration(gpus=[gpu], cuda_version="12.4"))
    assert known.gpus == [gpu]
