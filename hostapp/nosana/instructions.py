"""Builders for the node-side instructions of `nosana_jobs`: `work` (enter a market's queue),
`stop` (leave it), `claim` (take a queued job), `finish` / `complete` (post a result), `quit`
(give up a running job, forfeiting its pay).

Anchor instruction data is sha256("global:<name>")[:8] followed by the Borsh arguments (`finish`
and `complete` take the 32 bytes of the result's IPFS digest; the others none). Account order,
signer and writable flags follow the generated builders in `@nosana/jobs-program`; which address
goes in each slot follows `@nosana/kit` (`work`: no access-key NFT means the node's NOS token
account and the system program; `finish`: the market's vault, the job payer's or the vault as
deposit, the run node's NOS token account as `user`). Where IDL copies disagree (`finish`), the npm
client is the reference. tests/nosana compares all of them with the JS output byte for byte.
hostapp itself only sends `work`, `stop` and (forced by the user) `quit`: the official node
claims and finishes its jobs; the other builders exist for conformance and for reading.
"""

from __future__ import annotations

import hashlib

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from hostapp.nosana.accounts import JobAccount, RunAccount
from hostapp.nosana.ids import JOBS_PROGRAM, NOS_MINT, STAKING_PROGRAM, SYSTEM_PROGRAM, TOKEN_PROGRAM
from hostapp.nosana.pdas import associated_token_address, metadata_address, stake_address, vault_address

IPFS_DIGEST_SIZE = 32


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
    accounts = [
        AccountMeta(run, is_signer=True, is_writable=True),
        AccountMeta(market, is_signer=False, is_writable=True),
        AccountMeta(payer or authority, is_signer=True, is_writable=True),
        *_node_credentials(authority, access_key_nft, nos_mint, staking_program),
        AccountMeta(authority, is_signer=True, is_writable=False),
        AccountMeta(SYSTEM_PROGRAM, is_signer=False, is_writable=False),
    ]
    return Instruction(program, instruction_discriminator("work"), accounts)


def _node_credentials(
    authority: Pubkey, access_key_nft: Pubkey | None, nos_mint: Pubkey, staking_program: Pubkey
) -> list[AccountMeta]:
    """`stake`, `nft`, `metadata`: what a market checks before it lets a node in (read-only)."""
    if access_key_nft is None:
        nft, metadata = associated_token_address(authority, nos_mint), SYSTEM_PROGRAM
    else:
        nft, metadata = associated_token_address(authority, access_key_nft), metadata_address(access_key_nft)
    stake = stake_address(authority, nos_mint=nos_mint, staking_program=staking_program)
    return [AccountMeta(k, is_signer=False, is_writable=False) for k in (stake, nft, metadata)]


def _digest(ipfs_result: bytes) -> bytes:
    if len(ipfs_result) != IPFS_DIGEST_SIZE:
        raise ValueError(
            f"ipfs_result must be the {IPFS_DIGEST_SIZE}-byte digest of a CIDv0, got {len(ipfs_result)} bytes; "
            "convert the CID with hostapp.nosana.cid.cid_to_bytes"
        )
    return bytes(ipfs_result)


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


def claim(
    *,
    job: Pubkey,
    run: Pubkey,
    market: Pubkey,
    authority: Pubkey,
    payer: Pubkey | None = None,
    access_key_nft: Pubkey | None = None,
    program: Pubkey = JOBS_PROGRAM,
    nos_mint: Pubkey = NOS_MINT,
    staking_program: Pubkey = STAKING_PROGRAM,
) -> Instruction:
    """Take the queued `job` as the node `authority`; `run` is a fresh keypair's address (it signs).
    `@nosana/kit` has no `claim`: the credentials default as in its `work`, slots as the generated builder."""
    accounts = [
        AccountMeta(job, is_signer=False, is_writable=True),
        AccountMeta(run, is_signer=True, is_writable=True),
        AccountMeta(market, is_signer=False, is_writable=False),
        *_node_credentials(authority, access_key_nft, nos_mint, staking_program),
        AccountMeta(payer or authority, is_signer=True, is_writable=True),
        AccountMeta(authority, is_signer=True, is_writable=False),
        AccountMeta(SYSTEM_PROGRAM, is_signer=False, is_writable=False),
    ]
    return Instruction(program, instruction_discriminator("claim"), accounts)


def finish(
    *,
    job: Pubkey,
    job_account: JobAccount,
    run: Pubkey,
    run_account: RunAccount,
    authority: Pubkey,
    ipfs_result: bytes,
    program: Pubkey = JOBS_PROGRAM,
    nos_mint: Pubkey = NOS_MINT,
) -> Instruction:
    """Post the result of `job` (run by `run`) and get paid price × min(elapsed, timeout) in NOS.

    As `@nosana/kit`'s `finish`: the pay goes to the run node's NOS token account (`user`); the
    deposit is the job payer's NOS token account when the job has a price, else the market's vault.
    The kit also prepends create-token-account instructions when those accounts do not exist yet;
    that needs a chain read, so it is the caller's (this builds the `finish` instruction only)."""
    vault = vault_address(job_account.market, nos_mint=nos_mint, program=program)
    deposit = associated_token_address(job_account.payer, nos_mint) if job_account.price > 0 else vault

    def writable(k: Pubkey) -> AccountMeta:
        return AccountMeta(k, is_signer=False, is_writable=True)

    accounts = [
        writable(job),
        writable(run),
        AccountMeta(job_account.market, is_signer=False, is_writable=False),
        writable(vault),
        writable(deposit),
        writable(associated_token_address(run_account.node, nos_mint)),  # `user`: receives the pay
        writable(run_account.payer),  # payerRun: gets the run account's rent back
        writable(job_account.payer),  # payerJob
        AccountMeta(authority, is_signer=True, is_writable=False),
        AccountMeta(TOKEN_PROGRAM, is_signer=False, is_writable=False),
    ]
    return Instruction(program, instruction_discriminator("finish") + _digest(ipfs_result), accounts)


def complete(*, job: Pubkey, authority: Pubkey, ipfs_result: bytes, program: Pubkey = JOBS_PROGRAM) -> Instruction:
    """Post the result of a job already in state COMPLETED that has none yet."""
    accounts = [
        AccountMeta(job, is_signer=False, is_writable=True),
        AccountMeta(authority, is_signer=True, is_writable=False),
    ]
    return Instruction(program, instruction_discriminator("complete") + _digest(ipfs_result), accounts)


def quit(*, run: Pubkey, run_account: RunAccount, authority: Pubkey, program: Pubkey = JOBS_PROGRAM) -> Instruction:
    """Give up the running job of `run`: the node forfeits its pay. hostapp sends it only when the
    user forces it (the tray says so); otherwise a node leaves the market between jobs with `stop`."""
    accounts = [
        AccountMeta(run_account.job, is_signer=False, is_writable=True),
        AccountMeta(run, is_signer=False, is_writable=True),
        AccountMeta(run_account.payer, is_signer=False, is_writable=True),
        AccountMeta(authority, is_signer=True, is_writable=False),
    ]
    return Instruction(program, instruction_discriminator("quit"), accounts)
