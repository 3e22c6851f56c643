"""LiteSVM as a ledger: executes transactions with RPC-like preflight, records history, persists state.

All access goes through one lock: the RPC server's worker threads and the grid's payout calls
share this runtime.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata

from hostapp.chain.store import ChainStore, StoredAccount, StoredTransaction
from hostapp.chain.token_layout import TOKEN_PROGRAM, parse_mint, parse_token_account, ui_token_amount

LAMPORTS_PER_SIGNATURE = 5000
# A blockhash stays usable for this many later blockhashes, like the 150-block window on a cluster.
BLOCKHASH_WINDOW = 150
SYSVAR_OWNER = "Sysvar1111111111111111111111111111111111111"


class TransactionRejected(Exception):
    """Preflight failed: nothing was committed. Carries the RPC err value and the logs."""

    def __init__(self, message: str, err: Any, logs: list[str], units: int = 0) -> None:
        super().__init__(message)
        self.err = err
        self.logs = logs
        self.units = units


@dataclass(frozen=True)
class Simulation:
    err: Any
    logs: list[str]
    units: int


class ChainRuntime:
    def __init__(self, store_path: Path) -> None:
        self._lock = threading.RLock()
        self._store = ChainStore(store_path)
        self._svm = LiteSVM().with_blockhash_check(False)  # checked here, against a window
        self._decimals: dict[str, int] = {}
        self._blockhashes: collections.deque[str] = collections.deque(maxlen=BLOCKHASH_WINDOW)
        self._restore()

    # -- lifecycle ---------------------------------------------------------------------
    def _restore(self) -> None:
        for stored in self._store.accounts():
            self._svm.set_account(
                Pubkey.from_string(stored.pubkey),
                Account(
                    stored.lamports,
                    stored.data,
                    Pubkey.from_string(stored.owner),
                    stored.executable,
                    stored.rent_epoch,
                ),
            )
        slot = self._store.get_meta("slot")
        if slot is not None:
            self._svm.warp_to_slot(int(slot))
        # LiteSVM derives each blockhash from the previous one, starting from a fixed genesis hash:
        # a restarted chain would hand out the first run's blockhashes again, and an identical
        # transaction (same payer, accounts, amount) signed with one of them gets the same
        # signature, refused as "already processed". Every executed transaction advanced the
        # blockhash once, so replaying that many steps (about 2 µs each) continues the sequence.
        for _ in range(self._store.executed_count()):
            self._svm.expire_blockhash()
        self._tick(expire=False)

    def close(self) -> None:
        with self._lock:
            self._store.close()

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            return self._store.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._store.set_meta(key, value)

    # -- reads -------------------------------------------------------------------------
    @property
    def slot(self) -> int:
        with self._lock:
            return int(self._svm.get_clock().slot)

    def latest_blockhash(self) -> tuple[str, int]:
        with self._lock:
            return str(self._svm.latest_blockhash()), self.slot + BLOCKHASH_WINDOW

    def blockhash_valid(self, blockhash: str) -> bool:
        with self._lock:
            return blockhash in self._blockhashes

    def account(self, pubkey: str) -> Account | None:
        with self._lock:
            account = self._svm.get_account(Pubkey.from_string(pubkey))
        if account is None or (account.lamports == 0 and not account.data):
            return None
        return account

    def balance(self, pubkey: str) -> int:
        account = self.account(pubkey)
        return 0 if account is None else int(account.lamports)

    def rent_exempt_minimum(self, size: int) -> int:
        with self._lock:
            return int(self._svm.minimum_balance_for_rent_exemption(size))

    def token_accounts(self) -> list[tuple[str, Account]]:
        """Every live token account this chain has seen (all accounts are recorded on commit)."""
        with self._lock:
            stored = [a.pubkey for a in self._store.accounts() if a.owner == TOKEN_PROGRAM]
        found = []
        for pubkey in stored:
            account = self.account(pubkey)
            if account is not None and str(account.owner) == TOKEN_PROGRAM:
                found.append((pubkey, account))
        return found

    def program_accounts(self, owner: str) -> list[tuple[str, Account]]:
        """Every live account owned by `owner` that this chain has recorded (getProgramAccounts)."""
        with self._lock:
            stored = [a.pubkey for a in self._store.accounts() if a.owner == owner]
        found = []
        for pubkey in stored:
            account = self.account(pubkey)
            if account is not None and str(account.owner) == owner:
                found.append((pubkey, account))
        return found

    def decimals_of(self, mint: str) -> int:
        with self._lock:
            if mint not in self._decimals:
                account = self.account(mint)
                parsed = parse_mint(bytes(account.data)) if account is not None else None
                if parsed is None:
                    return 0
                self._decimals[mint] = parsed.decimals
            return self._decimals[mint]

    def transaction(self, signature: str) -> StoredTransaction | None:
        with self._lock:
            return self._store.transaction(signature)

    def signatures_for(
        self, address: str, limit: int, before: str | None, until: str | None
    ) -> list[StoredTransaction]:
        with self._lock:
            return self._store.signatures_for(address, limit, before, until)

    # -- writes ------------------------------------------------------------------------
    def simulate(self, raw: bytes) -> Simulation:
        tx = VersionedTransaction.from_bytes(raw)
        with self._lock:
            result = self._svm.simulate_transaction(tx)
        if isinstance(result, FailedTransactionMetadata):
            meta = result.meta()
            return Simulation(_err_json(result), list(meta.logs()), int(meta.compute_units_consumed()))
        meta = result.meta()
        return Simulation(None, list(meta.logs()), int(meta.compute_units_consumed()))

    def execute(self, raw: bytes) -> str:
        """Preflight, then commit and record. Returns the signature; raises TransactionRejected."""
        tx = VersionedTransaction.from_bytes(raw)
        signature = str(tx.signatures[0])
        message = tx.message
        keys = [str(k) for k in message.account_keys]
        with self._lock:
            if self._store.transaction(signature) is not None:
                raise TransactionRejected(
                    "Transaction simulation failed: This transaction has already been processed",
                    "AlreadyProcessed",
                    [],
                )
            if str(message.recent_blockhash) not in self._blockhashes:
                raise TransactionRejected("Transaction simulation failed: Blockhash not found", "BlockhashNotFound", [])
            pre_balances = [self.balance(k) for k in keys]
            pre_tokens = self._token_balances(keys)
            simulated = self._svm.simulate_transaction(tx)
            if isinstance(simulated, FailedTransactionMetadata):
                meta = simulated.meta()
                err = _err_json(simulated)
                raise TransactionRejected(
                    f"Transaction simulation failed: {_describe(err)}",
                    err,
                    list(meta.logs()),
                    int(meta.compute_units_consumed()),
                )
            result = self._svm.send_transaction(tx)
            if not isinstance(result, TransactionMetadata):  # state changed between simulate and send
                err = _err_json(result)
                raise TransactionRejected(f"Transaction failed: {_describe(err)}", err, list(result.meta().logs()))
            slot, block_time = self.slot, int(time.time())
            rpc_meta: dict[str, Any] = {
                "err": None,
                "status": {"Ok": None},
                "fee": int(result.fee()),
                "preBalances": pre_balances,
                "postBalances": [self.balance(k) for k in keys],
                "innerInstructions": [],
                "logMessages": list(result.logs()),
                "preTokenBalances": pre_tokens,
                "postTokenBalances": self._token_balances(keys),
                "rewards": [],
                "loadedAddresses": {"writable": [], "readonly": []},
                "computeUnitsConsumed": int(result.compute_units_consumed()),
            }
            touched, removed = self._touched_accounts(keys)
            stored = StoredTransaction(0, signature, slot, block_time, raw, json.dumps(rpc_meta), None)
            self._tick(expire=True)
            self._store.commit_transaction(stored, keys, touched, removed, self.slot)
        return signature

    def sign_and_execute(self, instructions: list[Any], payer: Keypair, *signers: Keypair) -> str:
        """For the chain's own transactions (genesis, airdrops, payouts)."""
        with self._lock:  # no other commit between reading the blockhash and executing
            return self.execute(self.sign(instructions, payer, *signers))

    def sign(self, instructions: list[Any], payer: Keypair, *signers: Keypair) -> bytes:
        """A signed transaction on the latest blockhash, not sent: its signature is known before it
        can land (the grid records it first, so a retry after a crash can ask whether it landed)."""
        blockhash = Hash.from_string(self.latest_blockhash()[0])
        message = Message.new_with_blockhash(instructions, payer.pubkey(), blockhash)
        return bytes(Transaction([payer, *signers], message, blockhash))

    def fund(self, pubkey: str, lamports: int) -> None:
        """Mint lamports out of nothing: genesis only (the faucet's own balance)."""
        with self._lock:
            account = Account(lamports, b"", Pubkey.default())  # a plain system-owned wallet
            self._svm.set_account(Pubkey.from_string(pubkey), account)
            stored = _stored(pubkey, account)
            self._store.commit_transaction(
                StoredTransaction(0, f"genesis-{pubkey}", self.slot, int(time.time()), b"", "{}", None),
                [],
                [stored],
                [],
                self.slot,
            )

    def load_account(self, pubkey: str, data: bytes, owner: str, lamports: int | None = None) -> None:
        """Place an account with given data, as genesis does: the state of a program whose binary is not
        on this chain (e.g. Nosana's accounts in tests), so reads of it go through the real RPC path."""
        with self._lock:
            if lamports is None:
                lamports = int(self._svm.minimum_balance_for_rent_exemption(len(data)))
            account = Account(lamports, bytes(data), Pubkey.from_string(owner))
            self._svm.set_account(Pubkey.from_string(pubkey), account)
            self._store.commit_transaction(
                StoredTransaction(0, f"load-{pubkey}-{time.time_ns()}", self.slot, int(time.time()), b"", "{}", None),
                [],
                [_stored(pubkey, account)],
                [],
                self.slot,
            )

    # -- internals ---------------------------------------------------------------------
    def _tick(self, expire: bool) -> None:
        """A new slot, clock time and blockhash after each commit, as a cluster would produce."""
        if expire:
            self._svm.warp_to_slot(self.slot + 1)
            self._svm.expire_blockhash()
        clock = self._svm.get_clock()
        clock.unix_timestamp = int(time.time())
        self._svm.set_clock(clock)
        self._blockhashes.append(str(self._svm.latest_blockhash()))

    def _token_balances(self, keys: list[str]) -> list[dict[str, Any]]:
        balances = []
        for index, key in enumerate(keys):
            account = self.account(key)
            if account is None or str(account.owner) != TOKEN_PROGRAM:
                continue
            parsed = parse_token_account(bytes(account.data))
            if parsed is None:
                continue
            balances.append(
                {
                    "accountIndex": index,
                    "mint": parsed.mint,
                    "owner": parsed.owner,
                    "programId": TOKEN_PROGRAM,
                    "uiTokenAmount": ui_token_amount(parsed.amount, self.decimals_of(parsed.mint)),
                }
            )
        return balances

    def _touched_accounts(self, keys: list[str]) -> tuple[list[StoredAccount], list[str]]:
        touched, removed = [], []
        for key in keys:
            account = self._svm.get_account(Pubkey.from_string(key))
            if account is None or (account.lamports == 0 and not account.data):
                removed.append(key)
            elif not account.executable and str(account.owner) != SYSVAR_OWNER:
                touched.append(_stored(key, account))
        return touched, removed


def _stored(pubkey: str, account: Account) -> StoredAccount:
    return StoredAccount(
        pubkey,
        int(account.lamports),
        str(account.owner),
        bool(account.executable),
        int(account.rent_epoch),
        bytes(account.data),
    )


def _err_json(failed: FailedTransactionMetadata) -> Any:
    return json.loads(failed.to_json())["err"]


def _describe(err: Any) -> str:
    """The RPC's wording for the common failures, so messages read like a real cluster's."""
    if isinstance(err, dict) and "InstructionError" in err:
        index, inner = err["InstructionError"]
        if isinstance(inner, dict) and "Custom" in inner:
            return f"Error processing Instruction {index}: custom program error: {hex(inner['Custom'])}"
        return f"Error processing Instruction {index}: {inner}"
    if isinstance(err, dict) and "InsufficientFundsForRent" in err:
        index = err["InsufficientFundsForRent"].get("account_index")
        return f"Transaction results in an account ({index}) with insufficient funds for rent"
    return str(err)
