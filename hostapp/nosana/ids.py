"""Program ids and mints of Nosana on mainnet and devnet (from `@nosana/kit`'s default configs)."""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

from hostapp.wallet.spl import ASSOCIATED_TOKEN_PROGRAM as ASSOCIATED_TOKEN_PROGRAM
from hostapp.wallet.spl import TOKEN_PROGRAM as TOKEN_PROGRAM

SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")
# Metaplex Token Metadata: where a market's access-key NFT keeps its metadata account.
METADATA_PROGRAM = Pubkey.from_string("metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s")
STAKING_PROGRAM = Pubkey.from_string("nosScmHY2uR24Zh751PmGj9ww9QRNHewh9H59AfrTJE")
# NOS has 6 decimals: prices and stakes are integers in these base units.
NOS_DECIMALS = 6


@dataclass(frozen=True)
class NosanaCluster:
    """The addresses that differ between clusters."""

    name: str
    jobs_program: Pubkey
    nos_mint: Pubkey
    staking_program: Pubkey = STAKING_PROGRAM


MAINNET = NosanaCluster(
    "mainnet-beta",
    jobs_program=Pubkey.from_string("nosJhNRqr2bc9g1nfGDcXXTXvYUmxD4cVwy2pMWhrYM"),
    nos_mint=Pubkey.from_string("nosXBVoaCTtYdLvKY6Csb4AC8JCdQKKAaWYtx2ZMoo7"),
)
DEVNET = NosanaCluster(
    "devnet",
    jobs_program=Pubkey.from_string("nosJTmGQxvwXy23vng5UjkTbfv91Bzf9jEuro78dAGR"),
    nos_mint=Pubkey.from_string("devr1BGQndEW5k5zfvG5FsLyZv1Ap73vNgAHcQ9sUVP"),
)
JOBS_PROGRAM = MAINNET.jobs_program
NOS_MINT = MAINNET.nos_mint
