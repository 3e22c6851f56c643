"""Builders for the node-side instructions of `nosana_jobs`: `work` (enter a market's queue) and
`stop` (leave it).

Anchor instruction data is sha256("global:<name>")[:8] followed by the Borsh arguments; neither
`work` nor `stop` takes arguments. Account order, signer and writable flags follow the generated
builders in `@nosana/jobs-program`, and the defaults for `stake`, `nft` and `metadata` follow
`@nosana/kit`'s `work` (no access-key NFT: the node's NOS token account and the system program);
tests/nosana compares both with the JS output byte for byte. Not yet built here: `claim`,
`finish`, `complete`, `quit` (the official node sends them itself).
"""

from __future__ import annotations

import hashlib

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from hostapp.nosana.ids import JOBS_PROGRAM, NOS_MINT, STAKING_PROGRAM, SYSTEM_PROGRAM
from hostapp.nosana.pdas import associated_token_address, metadata_address, stake_address


def instruction_discriminator(name: str) -> bytes:
    return hashlib.sha256(f"global:{name}".encode()).digest()[:8]


def work(
    *,
    run: Pubkey,
    market: Pubkey,
    authority: Pubkey,
    payer: Pubkey | None = None,
    access_key_nft: Pubkey | None = None,
    program: Pubkey = JOBS_PROGRAM,
    nos_mint: Pubkey = NOS_MINT,
    staking_program: Pubkey = STAKING_PROGRAM,
) -> Instruction:
    """Enter `market`'s queue as the node `authority`. `run` is a fresh keypair's address: the run
    account the program creates if a job is waiting, so it must sign the transaction too.
    `access_key_nft` is the mint of the node's access-key NFT, for markets that require one."""
    payer = payer or authority
    if access_key_nft is None:
        nft, metadata = associated_token_address(authority, nos_mint), SYSTEM_PROGRAM
    else:
        nft, metadata = associated_token_address(authority, access_key_nft), metadata_address(access_key_nft)
    accounts = [
        AccountMeta(run, is_signer=True, is_writable=True),
        AccountMeta(market, is_signer=False, is_writable=True),
        AccountMeta(payer, is_signer=True, is_writable=True),
        AccountMeta(
            stake_address(authority, nos_mint=nos_mint, staking_program=staking_program),
            is_signer=False,
            is_writable=False,
        ),
        AccountMeta(nft, is_signer=False, is_writable=False),
        AccountMeta(metadata, is_signer=False, is_writable=False),
        AccountMeta(authority, is_signer=True, is_writable=False),
        AccountMeta(SYSTEM_PROGRAM, is_signer=False, is_writable=False),
    ]
    return Instruction(program, instruction_discriminator("work"), accounts)


def stop(
    *, market: Pubkey, authority: Pubkey, node: Pubkey | None = None, program: Pubkey = JOBS_PROGRAM
) -> Instruction:
    """Leave `market`'s queue. `node` defaults to the authority (the official client does the same)."""
    accounts = [
        AccountMeta(market, is_signer=False, is_writable=True),
        AccountMeta(node or authority, is_signer=False, is_writable=False),
        AccountMeta(authority, is_signer=True, is_writable=False),
    ]
    return Instruction(program, instruction_discriminator("stop"), accounts)
