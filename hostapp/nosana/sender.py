"""Signs and sends the node's own queue transactions (`work`, `stop`, a forced `quit`) over RPC.

Built on the wallet's ChainClient (same deadlines, retries, offline state and one-line errors).
The signers are the node key (fee payer and authority) and, for `work`, the fresh run keypair.
A send returns once the cluster confirms the transaction, or raises ChainError with the reason.
"""

from __future__ import annotations

import time
from typing import Protocol

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.transaction import Transaction

from hostapp.wallet.chain_client import ChainClient, ChainError, ChainOffline


class QueueSender(Protocol):
    def submit(self, what: str, instructions: list[Instruction], signers: list[Keypair]) -> str:
        """Sends one transaction (the first signer pays the fee); returns its signature once confirmed."""
        ...


class NosanaSender(ChainClient):
    def submit(self, what: str, instructions: list[Instruction], signers: list[Keypair]) -> str:
        from solana.rpc.commitment import Confirmed
        from solana.rpc.models import TxOpts

        blockhash = self._call(f"{what}: fetching a recent blockhash", lambda c: c.get_latest_blockhash()).value
        message = Message.new_with_blockhash(
            instructions, signers[0].pubkey(), Hash.from_string(str(blockhash.blockhash))
        )
        transaction = Transaction(signers, message, Hash.from_string(str(blockhash.blockhash)))
        raw = bytes(transaction)
        try:
            self._call(what, lambda c: c.send_raw_transaction(raw, TxOpts(preflight_commitment=Confirmed)))
        except ChainOffline:
            raise
        except ChainError as exc:
            if "already been processed" not in str(exc):
                raise
        signature = transaction.signatures[0]
        deadline = time.monotonic() + self._confirm_timeout
        while time.monotonic() < deadline:
            status = self._call(f"{what}: confirming", lambda c: c.get_signature_statuses([signature])).value[0]
            if status is not None:
                if status.err is not None:
                    raise ChainError(f"{what}: {signature} failed on chain: {status.err}")
                if str(status.confirmation_status or "").lower().endswith(("confirmed", "finalized")):
                    return str(signature)
            time.sleep(0.4)
        raise ChainError(f"{what}: {signature} was sent but not confirmed within {self._confirm_timeout:.0f} s")
