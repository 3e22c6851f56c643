"""`hostapp doctor` in Nosana mode: what the network requires of this machine and its node key.

Each check is OK or FAIL with one line saying what to do. From the chain (over the configured
RPC): SOL for transaction fees, the stake a market asks for, the market's access key (the
waitlist); from this machine: the node image, the GPU in containers, disk space. The doctor's own
checks (Docker, GPU, disk) are reused, not repeated. Onboarding itself (`nosana node join`, the
benchmark, market assignment) goes through Nosana's backend and is not checked here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from solders.pubkey import Pubkey

from hostapp.config.paths import AppPaths
from hostapp.config.settings import Settings
from hostapp.health.doctor import CHECK_TITLES, Check, Status
from hostapp.nosana.accounts import MarketAccount
from hostapp.nosana.config import NosanaConfig, NosanaConfigError, load_nosana_config
from hostapp.nosana.ids import SYSTEM_PROGRAM
from hostapp.nosana.reads import NosanaChainReader
from hostapp.nosana.requirements import LAMPORTS_PER_SOL, MIN_FREE_DISK_BYTES, MIN_SOL_LAMPORTS
from hostapp.nosana.requirements import REQUIREMENTS as REQUIREMENTS
from hostapp.wallet.chain_client import ChainError, resolve_rpc_url

NOSANA_TITLES = {
    "nosana_setup": "Nosana setup",
    "nosana_sol": "Nosana: SOL for fees",
    "nosana_stake": "Nosana: stake",
    "nosana_market": "Nosana: market access",
    "nosana_image": "Nosana: node software",
    "nosana_gpu": "Nosana: GPU in containers",
    "nosana_disk": "Nosana: disk space",
}

CHECK_TITLES.update(NOSANA_TITLES)  # how `hostapp doctor` and the GUI title these checks

ReaderFactory = Callable[[str, NosanaConfig], NosanaChainReader]


def _reader(rpc_url: str, config: NosanaConfig) -> NosanaChainReader:
    return NosanaChainReader(rpc_url, cluster=config.cluster, timeout=5.0, attempts=2)


def nosana_checks(
    paths: AppPaths,
    settings: Settings,
    doctor_checks: list[Check],
    engine: Any | None = None,
    reader: ReaderFactory = _reader,
) -> list[Check]:
    """The Nosana checks, after the doctor's `doctor_checks` (their GPU-runtime and disk results are
    used). `engine`: a Docker client for the node image check (None: connects when the Docker check
    passed, else the image is not checked)."""
    if engine is None and any(c.id == "docker" and c.status is Status.OK for c in doctor_checks):
        from hostapp.jobs.engine import EngineUnavailable, connect

        try:
            engine = connect(timeout=5)
        except EngineUnavailable:  # went away since the Docker check: the image is not checked
            engine = None
    checks = _machine_checks(doctor_checks, engine, paths, settings)
    try:
        config = load_nosana_config(paths, settings)
        node = config.node_public_key()
    except NosanaConfigError as exc:
        return [_fail("nosana_setup", str(exc), "fix the setting it names", "The Nosana mode is not set up"), *checks]
    if config.market is None:
        fix = f'set "market" in {paths.config / "nosana.json"} to the market Nosana assigned this node'
        return [_fail("nosana_setup", "no Nosana market chosen", fix, "The Nosana mode has no market yet"), *checks]
    if node is None:
        return [
            _fail(
                "nosana_setup",
                f"no node key at {config.key_file}",
                "start the Nosana mode once (it creates the key), then fund and stake it",
                "The Nosana node has no key yet",
            ),
            *checks,
        ]
    setup = Check(
        "nosana_setup",
        Status.OK,
        f"node {node} on {config.cluster.name}, market {config.market}",
        details={"node": str(node), "market": str(config.market), "cluster": config.cluster.name},
        meaning=f"Nosana node {str(node)[:8]}… for market {str(config.market)[:8]}…",
    )
    try:
        rpc_url = resolve_rpc_url(settings.solana)
        chain = reader(rpc_url, config)
        try:
            chain_checks = _chain_checks(chain, config, node, config.market)
        finally:
            chain.close()
    except ChainError as exc:
        chain_checks = [_fail("nosana_sol", str(exc), "check the network and solana.rpc_url", "Can't read the chain")]
    return [setup, *chain_checks, *checks]


def _chain_checks(chain: NosanaChainReader, config: NosanaConfig, node: Pubkey, market_key: Pubkey) -> list[Check]:
    lamports = chain.sol_balance(str(node))
    sol = (
        Check("nosana_sol", Status.OK, f"{_sol(lamports)} SOL on the node key", meaning="Enough SOL for fees")
        if lamports >= MIN_SOL_LAMPORTS
        else _fail(
            "nosana_sol",
            f"{_sol(lamports)} SOL on the node key {node}, below {_sol(MIN_SOL_LAMPORTS)}",
            f"send at least {_sol(MIN_SOL_LAMPORTS - lamports)} SOL to {node} (it pays the transaction fees)",
            "The Nosana node can't pay transaction fees",
        )
    )
    market = chain.market(market_key)
    if market is None:
        missing = _fail(
            "nosana_market",
            f"market {market_key} does not exist on {config.cluster.name}",
            "check the market address in nosana.json and solana.cluster",
            "The Nosana market is not there",
        )
        return [sol, missing]
    return [sol, _stake_check(chain, node, market), _access_check(chain, config, node, market)]


def _stake_check(chain: NosanaChainReader, node: Pubkey, market: MarketAccount) -> Check:
    stake = chain.stake_of(node)
    staked = 0 if stake is None or stake.time_unstake != 0 else stake.xnos
    needed = market.node_xnos_minimum
    details = {"xnos": staked, "market_minimum_xnos": needed, "unstaking": bool(stake and stake.time_unstake)}
    if staked >= needed:
        meaning = "Stake meets the market's minimum" if needed else "This market asks for no stake"
        return Check(
            "nosana_stake", Status.OK, f"xNOS {staked} ≥ the market's {needed}", details=details, meaning=meaning
        )
    if stake is not None and stake.time_unstake != 0:
        fix = "restake with the node key on the Nosana dashboard (an unstaking stake does not count)"
    else:
        fix = "stake NOS with the node key on the Nosana dashboard until its xNOS reaches the market's minimum"
    return _fail(
        "nosana_stake",
        f"xNOS {staked} is below the market's minimum {needed}",
        fix,
        "The market won't take this node: not enough NOS staked",
        details,
    )


def _access_check(chain: NosanaChainReader, config: NosanaConfig, node: Pubkey, market: MarketAccount) -> Check:
    if market.node_access_key == SYSTEM_PROGRAM:  # no collection named: any staked node may enter
        return Check("nosana_market", Status.OK, "the market needs no access key", meaning="The market is open")
    waitlist = "join Nosana's GPU host waitlist (nosana node join); the access key is sent to the node key"
    if config.access_key_nft is None:
        return _fail(
            "nosana_market",
            f"the market admits holders of access keys of {market.node_access_key}; none is set",
            f'{waitlist}, then set "access_key_nft" in nosana.json',
            "The market is invite-only and this node has no access key yet",
        )
    held = chain.token_balance(str(node), str(config.access_key_nft)).amount
    if held < 1:
        return _fail(
            "nosana_market",
            f"the node key does not hold the access key {config.access_key_nft}",
            f"move the access key to {node}, or {waitlist}",
            "The market is invite-only and the node key does not hold its access key",
        )
    return Check("nosana_market", Status.OK, f"holds access key {config.access_key_nft}", meaning="Market access OK")


def _machine_checks(doctor_checks: list[Check], engine: Any | None, paths: AppPaths, settings: Settings) -> list[Check]:
    found = {c.id: c for c in doctor_checks}
    checks = []
    runtime = found.get("gpu_runtime")
    if runtime is not None:
        checks.append(
            Check("nosana_gpu", Status.OK, runtime.summary, meaning="Docker can give the Nosana node your GPU")
            if runtime.status is Status.OK
            else _fail(
                "nosana_gpu",
                runtime.summary,
                runtime.hint or "fix the GPU in containers check",
                "Nosana jobs are GPU jobs: Docker must give containers your GPU",
            )
        )
    disk = found.get("disk")
    if disk is not None and "free_bytes" in disk.details:
        free = int(disk.details["free_bytes"])
        checks.append(
            Check("nosana_disk", Status.OK, disk.summary, meaning="Enough disk for Nosana job images")
            if free >= MIN_FREE_DISK_BYTES
            else _fail(
                "nosana_disk",
                f"{free / 1024**3:.0f} GiB free at {disk.details.get('path')}",
                f"free at least {MIN_FREE_DISK_BYTES // 1024**3} GiB: Nosana jobs pull large AI images",
                "Too little disk space for Nosana jobs",
            )
        )
    if engine is not None:
        checks.append(_image_check(engine, paths, settings))
    return checks


def _image_check(engine: Any, paths: AppPaths, settings: Settings) -> Check:
    import docker.errors

    try:
        image = load_nosana_config(paths, settings).image
    except NosanaConfigError:
        return _fail("nosana_image", "unknown image: the Nosana setup has an error", "fix Nosana setup first", "")
    try:
        engine.images.get(image)
    except docker.errors.ImageNotFound:
        return _fail(
            "nosana_image",
            f"the node image {image} is not on this machine",
            f"pull it once: docker pull {image} (hostapp never pulls it behind your back)",
            "The Nosana node software is not installed",
        )
    except docker.errors.APIError as exc:
        return _fail("nosana_image", f"could not ask Docker for {image}: {exc}", "fix the Docker check first", "")
    return Check("nosana_image", Status.OK, f"node image {image} present", meaning="The Nosana node software is here")


def _fail(check_id: str, summary: str, fix: str, meaning: str, details: dict[str, Any] | None = None) -> Check:
    return Check(check_id, Status.FAIL, summary, hint=fix, details=details or {}, meaning=meaning)


def _sol(lamports: int) -> str:
    whole, rest = divmod(lamports, LAMPORTS_PER_SOL)
    return f"{whole}.{rest:09d}".rstrip("0").rstrip(".") if rest else str(whole)
