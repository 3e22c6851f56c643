"""Program-derived addresses a Nosana node uses: its stake account, token accounts, NFT metadata."""

from __future__ import annotations

from solders.pubkey import Pubkey

from hostapp.nosana.ids import METADATA_PROGRAM, NOS_MINT, STAKING_PROGRAM
from hostapp.wallet.spl import associated_token_address as associated_token_address


def stake_address(
    authority: Pubkey, *, nos_mint: Pubkey = NOS_MINT, staking_program: Pubkey = STAKING_PROGRAM
) -> Pubkey:
    """The node's stake account: seeds ["stake", NOS mint, authority] under the staking program."""
    return Pubkey.find_program_address([b"stake", bytes(nos_mint), bytes(authority)], staking_program)[0]


def metadata_address(mint: Pubkey) -> Pubkey:
    """Metaplex metadata of an NFT: seeds ["metadata", metadata program, mint]."""
    seeds = [b"metadata", bytes(METADATA_PROGRAM), bytes(mint)]
    return Pubkey.find_program_address(seeds, METADATA_PROGRAM)[0]


def vault_address(market: Pubkey, *, nos_mint: Pubkey, program: Pubkey) -> Pubkey:
    """A market's NOS vault (holds the pay of jobs listed without a payer account): seeds
    [market, NOS mint] under the jobs program, as `@nosana/kit`'s `finish` derives it."""
    return Pubkey.find_program_address([bytes(market), bytes(nos_mint)], program)[0]
