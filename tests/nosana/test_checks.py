"""`hostapp doctor` in Nosana mode: setup, SOL for fees, stake, market access, node image, GPU, disk.

The chain checks read through the real RPC path (LiteSVM behind the local chain's JSON-RPC) with
the market and stake accounts placed at their addresses; the local chain's mint stands in for an
access-key NFT the node holds. The image check asks the real Docker engine. Every failing check
must carry a one-line fix.
"""

from __future__ import annotations

import json
import random
import stat
from typing import Any

import pytest
from solders.pubkey import Pubkey

from hostapp.chain import LocalChain
from hostapp.config.paths import AppPaths
from hostapp.config.settings import GridSettings, Settings, SolanaSettings
from hostapp.health.doctor import Check, Status, run_checks
from hostapp.nosana.accounts import MarketAccount, StakeAccount
from hostapp.nosana.checks import MIN_FREE_DISK_BYTES, nosana_checks
from hostapp.nosana.config import load_nosana_config
from hostapp.nosana.ids import MAINNET, SYSTEM_PROGRAM
from hostapp.nosana.pdas import stake_address

pytestmark = pytest.mark.nosana
RNG = random.Random(90)


def key() -> Pubkey:
    return Pubkey.from_bytes(RNG.randbytes(32))


def nosana_settings(chain: LocalChain, cluster: Any = "mainnet-beta") -> Settings:
    return Settings(grid=GridSettings(backend="nosana"), solana=SolanaSettings(cluster=cluster, rpc_url=chain.rpc_url))


def healthy_machine() -> list[Check]:
    """The doctor's GPU-runtime and disk results on a good machine (no Docker check: the image
    check then runs only where a test passes the engine)."""
    return [
        Check("gpu_runtime", Status.OK, "nvidia runtime"),
        Check("disk", Status.OK, "500 GiB free", details={"path": "/var/lib/docker", "free_bytes": 500 * 1024**3}),
    ]


def by_id(checks: list[Check]) -> dict[str, Check]:
    return {c.id: c for c in checks}


def assert_fixes_are_one_line(checks: list[Check]) -> None:
    for check in checks:
        if check.status is Status.FAIL:
            assert check.hint and "\n" not in check.hint and "\n" not in check.summary, check


def put_market(chain: LocalChain, minimum_xnos: int, access_key: Pubkey) -> Pubkey:
    address = key()
    market = MarketAccount(key(), 86400, 100, 3600, 0, key(), 255, access_key, minimum_xnos, 1, ())
    chain.load_account(str(address), market.encode(), str(MAINNET.jobs_program))
    return address


def put_stake(chain: LocalChain, node: Pubkey, xnos: int, time_unstake: int = 0) -> None:
    stake = StakeAccount(10**9, node, 14 * 86400, time_unstake, key(), 254, xnos)
    chain.load_account(str(stake_address(node)), stake.encode(), str(MAINNET.staking_program))


def test_setup_problems_come_first_with_their_fix(chain: LocalChain, app_paths: AppPaths) -> None:
    wrong = nosana_checks(app_paths, nosana_settings(chain, "localnet"), healthy_machine())
    assert "Nosana runs on 'mainnet-beta' or 'devnet'" in by_id(wrong)["nosana_setup"].summary

    settings = nosana_settings(chain)
    no_market = by_id(nosana_checks(app_paths, settings, healthy_machine()))
    assert no_market["nosana_setup"].summary == "no Nosana market chosen"
    assert "nosana.json" in str(no_market["nosana_setup"].hint)

    (app_paths.config / "nosana.json").write_text(json.dumps({"market": "not-an-address"}), encoding="utf-8")
    bad = by_id(nosana_checks(app_paths, settings, healthy_machine()))["nosana_setup"]
    assert "market 'not-an-address' is not a Solana address" in bad.summary

    (app_paths.config / "nosana.json").write_text(json.dumps({"market": str(key())}), encoding="utf-8")
    no_key = by_id(nosana_checks(app_paths, settings, healthy_machine()))["nosana_setup"]
    assert no_key.summary.startswith("no node key at ") and "start the Nosana mode once" in str(no_key.hint)
    assert_fixes_are_one_line([*wrong, no_market["nosana_setup"], bad, no_key])


def test_sol_stake_and_market_access_from_the_chain(chain: LocalChain, app_paths: AppPaths) -> None:
    settings = nosana_settings(chain)
    collection = key()
    market = put_market(chain, minimum_xnos=1_000, access_key=collection)
    config_file = app_paths.config / "nosana.json"
    config_file.write_text(json.dumps({"market": str(market)}), encoding="utf-8")
    node = load_nosana_config(app_paths, settings).node_key(create=True).pubkey()
    key_file = app_paths.data / "nosana" / "nosana_key.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700

    checks = nosana_checks(app_paths, settings, healthy_machine())
    found = by_id(checks)
    assert found["nosana_setup"].status is Status.OK
    assert (found["nosana_sol"].status, found["nosana_stake"].status, found["nosana_market"].status) == (
        Status.FAIL,
        Status.FAIL,
        Status.FAIL,
    )
    assert found["nosana_sol"].hint == f"send at least 0.01 SOL to {node} (it pays the transaction fees)"
    assert found["nosana_stake"].summary == "xNOS 0 is below the market's minimum 1000"
    assert "waitlist" in str(found["nosana_market"].hint) and "access_key_nft" in str(found["nosana_market"].hint)
    assert_fixes_are_one_line(checks)

    chain.airdrop(str(node), 20_000_000)
    put_stake(chain, node, xnos=1_000)
    config_file.write_text(json.dumps({"market": str(market), "access_key_nft": chain.mint}), encoding="utf-8")
    found = by_id(nosana_checks(app_paths, settings, healthy_machine()))
    assert found["nosana_market"].status is Status.FAIL  # set, but the node key does not hold it
    assert "does not hold the access key" in found["nosana_market"].summary
    chain.pay(str(node), 1)  # the node now holds the access key
    checks = nosana_checks(app_paths, settings, healthy_machine())
    assert [(c.id, c.status) for c in checks if c.status is not Status.OK] == []
    assert by_id(checks)["nosana_sol"].summary == "0.02 SOL on the node key"

    put_stake(chain, node, xnos=1_000, time_unstake=1_700_000_000)  # unstaking: does not count
    stake = by_id(nosana_checks(app_paths, settings, healthy_machine()))["nosana_stake"]
    assert stake.status is Status.FAIL and str(stake.hint).startswith("restake")

    open_market = put_market(chain, minimum_xnos=0, access_key=SYSTEM_PROGRAM)
    config_file.write_text(json.dumps({"market": str(open_market)}), encoding="utf-8")
    found = by_id(nosana_checks(app_paths, settings, healthy_machine()))
    assert (found["nosana_stake"].status, found["nosana_market"].status) == (Status.OK, Status.OK)

    config_file.write_text(json.dumps({"market": str(key())}), encoding="utf-8")
    missing = by_id(nosana_checks(app_paths, settings, healthy_machine()))["nosana_market"]
    assert missing.status is Status.FAIL and "does not exist on mainnet-beta" in missing.summary


def test_machine_checks_gpu_disk_and_the_node_image(
    chain: LocalChain, app_paths: AppPaths, docker_client: Any, busybox_image: str
) -> None:
    settings = nosana_settings(chain)
    machine = [
        Check("gpu_runtime", Status.WARN, "no nvidia runtime", hint="install the NVIDIA Container Toolkit"),
        Check("disk", Status.OK, "30 GiB free", details={"path": "/var/lib/docker", "free_bytes": 30 * 1024**3}),
    ]
    (app_paths.config / "nosana.json").write_text(
        json.dumps({"market": str(key()), "image": "hostapp-test/no-such-nosana-node:0"}), encoding="utf-8"
    )
    found = by_id(nosana_checks(app_paths, settings, machine, engine=docker_client))
    assert (
        found["nosana_gpu"].status is Status.FAIL and found["nosana_gpu"].hint == "install the NVIDIA Container Toolkit"
    )
    assert found["nosana_disk"].status is Status.FAIL
    assert (
        found["nosana_disk"].hint
        == f"free at least {MIN_FREE_DISK_BYTES // 1024**3} GiB: Nosana jobs pull large AI images"
    )
    image = found["nosana_image"]
    assert image.status is Status.FAIL and image.hint is not None
    assert image.hint.startswith("pull it once: docker pull hostapp-test/no-such-nosana-node:0")

    (app_paths.config / "nosana.json").write_text(
        json.dumps({"market": str(key()), "image": busybox_image}), encoding="utf-8"
    )
    found = by_id(nosana_checks(app_paths, settings, healthy_machine(), engine=docker_client))
    assert [found[i].status for i in ("nosana_gpu", "nosana_disk", "nosana_image")] == [Status.OK] * 3


def test_doctor_runs_them_only_in_nosana_mode(chain: LocalChain, app_paths: AppPaths) -> None:
    embedded = run_checks(app_paths, Settings(), only=lambda c: c.startswith("nosana") or c == "disk")
    assert [c.id for c in embedded.checks] == ["disk"]
    nosana = run_checks(app_paths, nosana_settings(chain), only=lambda c: c.startswith("nosana"))
    ids = [c.id for c in nosana.checks]
    assert ids[0] == "nosana_setup" and "nosana_disk" in ids
    assert nosana.checks[0].title == "Nosana setup" and not nosana.ok
