"""SPL Token addresses, derived with solders alone (no solana-py, no spl package): the node reads
balances with these over plain JSON-RPC (hostapp/wallet/chain_client.py), and Nosana's builders use
the same derivation (hostapp/nosana/pdas.py)."""

from __future__ import annotations

from solders.pubkey import Pubkey

TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ASSOCIATED_TOKEN_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
MINT_DECIMALS_OFFSET = 44  # SPL Token's Mint layout: the decimals byte


def associated_token_address(owner: Pubkey, mint: Pubkey) -> Pubkey:
    """The owner's associated token account for `mint` (SPL Token, not Token-2022)."""
    seeds = [bytes(owner), bytes(TOKEN_PROGRAM), bytes(mint)]
    return Pubkey.find_program_address(seeds, ASSOCIATED_TOKEN_PROGRAM)[0]
