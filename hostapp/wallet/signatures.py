"""Is this text a Solana transaction signature? Shared by the node's settlement (which refuses a
malformed payout signature from the grid) and the tray's Earnings page (which links only real ones):
a pure check, so the tray need not load the chain client to make it."""

from __future__ import annotations

from hostapp.wallet.base58 import b58decode

SIGNATURE_BYTES = 64


def signature_problem(signature: object) -> str | None:
    """None for a base58 text of a 64-byte ed25519 signature; else what is wrong with it."""
    if not isinstance(signature, str) or not 64 <= len(signature) <= 88:
        return "the payout signature is not a Solana transaction signature"
    try:
        raw = b58decode(signature)
    except ValueError:
        return "the payout signature is not base58"
    if len(raw) != SIGNATURE_BYTES:
        return f"the payout signature decodes to {len(raw)} bytes, not {SIGNATURE_BYTES}"
    return None
