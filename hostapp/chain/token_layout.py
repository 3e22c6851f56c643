"""SPL Token account and mint layouts, and their RPC `jsonParsed` forms."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey

from hostapp.wallet.amounts import format_units

TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"  # noqa: S105 (a program id)
TOKEN_ACCOUNT_LEN = 165
MINT_LEN = 82
_STATES = {0: "uninitialized", 1: "initialized", 2: "frozen"}


@dataclass(frozen=True)
class TokenAccount:
    mint: str
    owner: str
    amount: int
    state: str
    is_native: bool


@dataclass(frozen=True)
class Mint:
    mint_authority: str | None
    supply: int
    decimals: int
    is_initialized: bool
    freeze_authority: str | None


def _option_key(data: bytes, offset: int) -> str | None:
    (tag,) = struct.unpack_from("<I", data, offset)
    return str(Pubkey.from_bytes(data[offset + 4 : offset + 36])) if tag else None


def parse_token_account(data: bytes) -> TokenAccount | None:
    if len(data) < TOKEN_ACCOUNT_LEN:
        return None
    amount = struct.unpack_from("<Q", data, 64)[0]
    state = _STATES.get(data[108], "uninitialized")
    if state == "uninitialized":
        return None
    (native_tag,) = struct.unpack_from("<I", data, 109)
    return TokenAccount(
        mint=str(Pubkey.from_bytes(data[0:32])),
        owner=str(Pubkey.from_bytes(data[32:64])),
        amount=amount,
        state=state,
        is_native=bool(native_tag),
    )


def parse_mint(data: bytes) -> Mint | None:
    if len(data) != MINT_LEN:
        return None
    supply = struct.unpack_from("<Q", data, 36)[0]
    return Mint(
        mint_authority=_option_key(data, 0),
        supply=supply,
        decimals=data[44],
        is_initialized=bool(data[45]),
        freeze_authority=_option_key(data, 46),
    )


def ui_token_amount(amount: int, decimals: int) -> dict[str, Any]:
    """The RPC's UiTokenAmount. uiAmount is a float only because the RPC spec says so: display only."""
    text = format_units(amount, decimals)
    return {"amount": str(amount), "decimals": decimals, "uiAmount": float(text), "uiAmountString": text}


def parsed_token_data(data: bytes, decimals_of: dict[str, int]) -> dict[str, Any] | None:
    """The `jsonParsed` data object for a token account or mint; None when not parseable."""
    account = parse_token_account(data) if len(data) == TOKEN_ACCOUNT_LEN else None
    if account is not None:
        decimals = decimals_of.get(account.mint, 0)
        info = {
            "isNative": account.is_native,
            "mint": account.mint,
            "owner": account.owner,
            "state": account.state,
            "tokenAmount": ui_token_amount(account.amount, decimals),
        }
        return {"program": "spl-token", "parsed": {"info": info, "type": "account"}, "space": len(data)}
    mint = parse_mint(data)
    if mint is not None:
        info = {
            "decimals": mint.decimals,
            "freezeAuthority": mint.freeze_authority,
            "isInitialized": mint.is_initialized,
            "mintAuthority": mint.mint_authority,
            "supply": str(mint.supply),
        }
        return {"program": "spl-token", "parsed": {"info": info, "type": "mint"}, "space": len(data)}
    return None
