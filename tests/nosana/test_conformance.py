"""hostapp/nosana against the official npm clients, byte for byte.

For the same inputs: instruction data and account metas (order, signer, writable) equal what
@nosana/kit builds; accounts encoded by @nosana/jobs-program / @nosana/stake-program decode to the
same fields in Python, Python's encoding decodes in JS, and the bytes are equal both ways; PDAs,
token accounts and CIDs are the same. This proves layout and derivation; that the deployed program
accepts these instructions needs the live network (docs/nosana.md).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from solders.pubkey import Pubkey

from hostapp.nosana import cid, instructions, pdas
from hostapp.nosana.accounts import AccountDecodeError, JobAccount, MarketAccount, RunAccount, StakeAccount
from hostapp.nosana.ids import DEVNET, MAINNET
from tests.nosana.conftest import Oracle

pytestmark = pytest.mark.nosana
RNG = random.Random(20)
U64_MAX, I64_MIN, U128_MAX = 2**64 - 1, -(2**63), 2**128 - 1


def key() -> Pubkey:
    return Pubkey.from_bytes(RNG.randbytes(32))


def metas(ix: Any) -> list[dict[str, Any]]:
    return [{"address": str(m.pubkey), "signer": m.is_signer, "writable": m.is_writable} for m in ix.accounts]


def as_json(ix: Any) -> dict[str, Any]:
    return {"program": str(ix.program_id), "data": bytes(ix.data).hex(), "accounts": metas(ix)}


@pytest.mark.parametrize("cluster", [MAINNET, DEVNET], ids=lambda c: c.name)
def test_work_and_stop_match_the_official_builders(oracle: Oracle, cluster: Any) -> None:
    network = "devnet" if cluster is DEVNET else "mainnet"
    authority, market, nft, other_node = key(), key(), key(), key()
    common = {"authority": str(authority), "market": str(market), "network": network}
    answers = oracle(
        [
            {"op": "work", **common},
            {"op": "work", **common, "nft": str(nft)},
            {"op": "stop", **common},
            {"op": "stop", **common, "node": str(other_node)},
        ]
    )
    ids = {"program": cluster.jobs_program, "nos_mint": cluster.nos_mint}
    for answer, access_key in zip(answers[:2], [None, nft], strict=True):
        run = Pubkey.from_string(answer["accounts"][0]["address"])  # the kit draws a fresh run key
        built = instructions.work(run=run, market=market, authority=authority, access_key_nft=access_key, **ids)
        assert as_json(built) == answer
    stops = [
        instructions.stop(market=market, authority=authority, program=cluster.jobs_program),
        instructions.stop(market=market, authority=authority, node=other_node, program=cluster.jobs_program),
    ]
    assert [as_json(ix) for ix in stops] == answers[2:]


def market(queue: int) -> MarketAccount:
    return MarketAccount(
        key(), I64_MIN, U64_MAX, 2**63 - 1, 4, key(), 255, key(), U128_MAX, 1, tuple(key() for _ in range(queue))
    )


def samples() -> list[Any]:
    return [
        market(0),
        market(3),
        JobAccount(
            RNG.randbytes(32), bytes(32), key(), key(), key(), 12_345, key(), 2, 1_700_000_900, 1_700_000_000, 3600
        ),
        JobAccount(RNG.randbytes(32), RNG.randbytes(32), key(), key(), key(), U64_MAX, key(), 255, -1, I64_MIN, 0),
        RunAccount(key(), key(), key(), 1, 1_700_000_000),
        RunAccount(key(), key(), key(), 255, I64_MIN),
        StakeAccount(10**12, key(), 14 * 86400, 0, key(), 254, U128_MAX - 1),
        StakeAccount(U64_MAX, key(), U64_MAX, I64_MIN, key(), 0, 0),  # signed fields at their extremes
    ]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def js_fields(account: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in vars(account).items():
        if isinstance(value, Pubkey):
            value = str(value)
        elif isinstance(value, bytes):
            value = value.hex()
        elif isinstance(value, tuple):
            value = [str(k) for k in value]
        elif isinstance(value, int) and name not in ("state", "job_type", "vault_bump", "queue_type"):
            value = str(value)
        out[camel(name)] = value
    return out


def test_accounts_encode_and_decode_like_the_official_coders(oracle: Oracle) -> None:
    accounts = samples()
    encoded = oracle([{"op": "encode", "account": a.NAME, "fields": js_fields(a)} for a in accounts])
    for account, answer in zip(accounts, encoded, strict=True):
        js_bytes = bytes.fromhex(answer["hex"])
        assert account.encode() == js_bytes, account.NAME
        assert type(account).decode(js_bytes) == account
    decoded = oracle([{"op": "decode", "account": a.NAME, "hex": a.encode().hex()} for a in accounts])
    for account, answer in zip(accounts, decoded, strict=True):
        fields = answer["fields"]
        assert bytes.fromhex(fields.pop("discriminator")) == account.encode()[:8]
        assert fields == js_fields(account)
    assert len(accounts[2].encode()) == JobAccount.SIZE and len(accounts[4].encode()) == RunAccount.SIZE


def test_a_market_allocated_larger_than_its_queue_decodes(oracle: Oracle) -> None:
    account = market(2)
    padded = account.encode() + bytes(32 * 300)  # a market reserves room for its queue
    [answer] = oracle([{"op": "decode", "account": "MarketAccount", "hex": padded.hex()}])
    assert MarketAccount.decode(padded) == account
    assert answer["fields"]["queue"] == [str(k) for k in account.queue]


def test_bad_account_data_is_one_clear_error_on_both_sides(oracle: Oracle) -> None:
    run = RunAccount(key(), key(), key(), 0, 5).encode()
    truncated, foreign = run[:-3], JobAccount.SIZE * b"\x01"
    answers = oracle([{"op": "decode", "account": "RunAccount", "hex": truncated.hex()}])
    assert "error" in answers[0]
    with pytest.raises(AccountDecodeError, match=r"RunAccount: data ends at byte 110, the layout needs at least 113"):
        RunAccount.decode(truncated)
    with pytest.raises(AccountDecodeError, match=r"not a Nosana RunAccount: discriminator 0101010101010101"):
        RunAccount.decode(foreign)
    # A queue length beyond the data fails at the first missing key, without allocating 2**32 keys.
    data = market(0).encode()[:-4] + (2**32 - 1).to_bytes(4, "little")
    with pytest.raises(AccountDecodeError, match="MarketAccount: data ends"):
        MarketAccount.decode(data)


def test_pdas_and_token_accounts_match(oracle: Oracle) -> None:
    authorities, mints = [key() for _ in range(4)], [key() for _ in range(4)]
    requests: list[dict[str, Any]] = []
    for authority, mint in zip(authorities, mints, strict=True):
        requests += [
            {"op": "stake_pda", "authority": str(authority)},
            {"op": "stake_pda", "authority": str(authority), "network": "devnet"},
            {"op": "ata", "owner": str(authority), "mint": str(mint)},
            {"op": "metadata_pda", "authority": str(authority), "mint": str(mint)},
        ]
    answers = iter(oracle(requests))
    for authority, mint in zip(authorities, mints, strict=True):
        assert str(pdas.stake_address(authority)) == next(answers)["address"]
        assert str(pdas.stake_address(authority, nos_mint=DEVNET.nos_mint)) == next(answers)["address"]
        assert str(pdas.associated_token_address(authority, mint)) == next(answers)["address"]
        assert str(pdas.metadata_address(mint)) == next(answers)["address"]


def test_ipfs_cids_match(oracle: Oracle) -> None:
    digests = [RNG.randbytes(32) for _ in range(5)] + [bytes(32), b"\xff" * 32]
    answers = oracle([{"op": "cid", "hex": d.hex()} for d in digests])
    cids = [a["cid"] for a in answers]
    assert [cid.bytes_to_cid(d) for d in digests] == cids
    back = oracle([{"op": "cid_bytes", "cid": c} for c in cids])
    assert [cid.cid_to_bytes(c) for c in cids] == [bytes.fromhex(a["hex"]) for a in back] == digests
    bad = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"  # a CIDv1: not what the program stores
    assert "error" in oracle([{"op": "cid_bytes", "cid": bad}])[0]
    with pytest.raises(cid.InvalidCid, match="is not a CIDv0"):
        cid.cid_to_bytes(bad)
    with pytest.raises(cid.InvalidCid, match="is 32 bytes, got 31"):
        cid.bytes_to_cid(bytes(31))


def kit_job(job: JobAccount) -> dict[str, Any]:
    """A job as the kit's `get` returns it (what its `finish` reads)."""
    return {"market": str(job.market), "payer": str(job.payer), "price": job.price, "state": job.state}


def kit_run(address: Pubkey, run: RunAccount) -> dict[str, Any]:
    return {"address": str(address), "job": str(run.job), "node": str(run.node), "payer": str(run.payer)}


@pytest.mark.parametrize("cluster", [MAINNET, DEVNET], ids=lambda c: c.name)
def test_claim_finish_complete_and_quit_match_the_official_client(oracle: Oracle, cluster: Any) -> None:
    network = "devnet" if cluster is DEVNET else "mainnet"
    authority, market_key, nft, job_key, run_key = key(), key(), key(), key(), key()
    digest = RNG.randbytes(32)
    result_cid = cid.bytes_to_cid(digest)
    # The run's node is the authority (the usual case); the run payer differs from the job payer, so
    # a swapped payerRun/payerJob (as in some IDL copies) would show.
    run = RunAccount(job_key, authority, key(), 0, 1_700_000_000)
    paid = JobAccount(RNG.randbytes(32), bytes(32), market_key, authority, key(), 125, key(), 0, 0, 1_700_000_000, 3600)
    free = JobAccount(RNG.randbytes(32), bytes(32), market_key, authority, key(), 0, key(), 0, 0, 1_700_000_000, 3600)
    common = {"authority": str(authority), "market": str(market_key), "network": network}
    answers = oracle(
        [
            {"op": "claim", **common, "job": str(job_key), "run": str(run_key)},
            {"op": "claim", **common, "job": str(job_key), "run": str(run_key), "nft": str(nft)},
            {"op": "finish", **common, "jobAddress": str(job_key), "cid": result_cid, "job": kit_job(paid),
             "run": kit_run(run_key, run)},
            {"op": "finish", **common, "jobAddress": str(job_key), "cid": result_cid, "job": kit_job(free),
             "run": kit_run(run_key, run)},
            {"op": "complete", **common, "jobAddress": str(job_key), "cid": result_cid,
             "job": {**kit_job(paid), "state": 2}},
            {"op": "quit", **common, "run": kit_run(run_key, run)},
        ]
    )  # fmt: skip
    ids = {"program": cluster.jobs_program, "nos_mint": cluster.nos_mint}
    claims = [
        instructions.claim(job=job_key, run=run_key, market=market_key, authority=authority, access_key_nft=k, **ids)
        for k in (None, nft)
    ]
    assert [as_json(ix) for ix in claims] == answers[:2]
    for job, answer in zip([paid, free], answers[2:4], strict=True):
        built = instructions.finish(
            job=job_key, job_account=job, run=run_key, run_account=run, authority=authority, ipfs_result=digest, **ids
        )
        assert answer["instructions"] == [as_json(built)]  # token accounts exist: no create-account prefix
    # A priced job draws from the payer's token account, a free one from the market's vault.
    assert answers[2]["instructions"][0]["accounts"][4] != answers[3]["instructions"][0]["accounts"][4]
    program = cluster.jobs_program
    completed = as_json(instructions.complete(job=job_key, authority=authority, ipfs_result=digest, program=program))
    # The kit's `complete` omits `programAddress`, so it always names the mainnet program; on devnet
    # that transaction would go to the wrong program. Python uses the cluster's (a deliberate difference).
    assert answers[4]["program"] == str(MAINNET.jobs_program)
    assert {**completed, "program": answers[4]["program"]} == answers[4]
    quitting = instructions.quit(run=run_key, run_account=run, authority=authority, program=program)
    assert as_json(quitting) == answers[5]


def test_a_result_that_is_not_a_digest_is_refused() -> None:
    with pytest.raises(ValueError, match="must be the 32-byte digest of a CIDv0, got 46 bytes"):
        instructions.complete(job=key(), authority=key(), ipfs_result=b"Qm" + bytes(44))
