"""The wallet's view of a Solana cluster: balances, payout history, withdrawals.

Balances (what the tray asks on every refresh) are plain JSON-RPC over httpx, which the node loads
anyway; payout history and withdrawals use solana-py, loaded on their first use (its async client,
anyio, construct and spl are ~10 MB of the node's 100 MB budget, docs/benchmarks.md). solana-py 0.41
ships only an asyncio client, so this class owns a worker thread running an event loop and exposes
blocking calls with a deadline. Either way every call has a timeout, transport failures are retried
with exponential backoff and jitter, and after the last attempt the client is "offline" and raises
`ChainOffline` instead of hanging its caller. The same code talks to mainnet-beta, devnet, and the
embedded local chain.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from solders.hash import Hash
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction

from hostapp.config.settings import SolanaSettings
from hostapp.events import EventBus
from hostapp.wallet.amounts import SOL_DECIMALS, format_units
from hostapp.wallet.keystore import Keystore
from hostapp.wallet.spl import MINT_DECIMALS_OFFSET, associated_token_address

log = logging.getLogger(__name__)

CLUSTER_URLS = {
    "mainnet-beta": "https://api.mainnet-beta.solana.com",
    "devnet": "https://api.devnet.solana.com",
    "localnet": "http://127.0.0.1:8899",
}
TOKEN_ACCOUNT_SIZE = 165
T = TypeVar("T")


class ChainError(Exception):
    """A one-line, user-facing failure talking to the chain."""


class ChainOffline(ChainError):
    """The RPC endpoint did not answer within the deadline after every retry."""


class InsufficientFunds(ChainError):
    pass


@dataclass(frozen=True)
class TokenBalance:
    amount: int  # base units
    decimals: int
    account: str | None  # the associated token account, None if it does not exist yet


@dataclass(frozen=True)
class Payout:
    signature: str
    amount: int  # token base units received
    block_time: int | None
    slot: int
    decimals: int


@dataclass(frozen=True)
class WithdrawPlan:
    """A signed, ready-to-send withdrawal and what it costs: shown to the user before sending."""

    asset: Literal["SOL", "token"]
    amount: int
    decimals: int
    destination: str
    fee: int  # lamports
    rent: int  # lamports for creating the recipient's token account (0 if it exists)
    transaction: bytes
    mint: str | None = None

    def describe(self) -> str:
        unit = "SOL" if self.asset == "SOL" else f"tokens ({self.mint})"
        text = (
            f"send {format_units(self.amount, self.decimals)} {unit} to {self.destination}; "
            f"network fee {format_units(self.fee, SOL_DECIMALS)} SOL"
        )
        if self.rent:
            text += f", plus {format_units(self.rent, SOL_DECIMALS)} SOL to open the recipient's token account"
        return text


def _get_sol(lamports: int, address: str) -> str:
    """How to get the SOL a withdrawal lacks: payouts come in the grid token only, never in SOL."""
    return (
        f"send at least {format_units(lamports, SOL_DECIMALS)} SOL to this wallet ({address}) "
        "from an exchange or another wallet, then try again"
    )


def resolve_rpc_url(settings: SolanaSettings, override: str | None = None, localnet_url: str | None = None) -> str:
    """The RPC URL: an explicit override, a custom URL, the running local chain, or a public cluster."""
    if override:
        return override
    if settings.rpc_url:
        return settings.rpc_url
    if settings.cluster == "custom":
        raise ChainError("solana.cluster is 'custom' but solana.rpc_url is not set: set it or pass --rpc-url")
    if settings.cluster == "localnet" and localnet_url:
        return localnet_url
    return CLUSTER_URLS[settings.cluster]


class ChainClient:
    def __init__(
        self,
        rpc_url: str,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        confirm_timeout: float = 60.0,
        bus: EventBus | None = None,
    ) -> None:
        self.rpc_url = rpc_url
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._confirm_timeout = confirm_timeout
        self._bus = bus
        self.state: Literal["unknown", "online", "offline"] = "unknown"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="solana-rpc", daemon=True)
        self._thread.start()
        self._client: Any = None  # solana-py's AsyncClient, made on the first call that needs it
        self._http: Any = None  # an httpx.Client for the JSON-RPC reads, made on the first one
        self._ids = 0

    async def _make_client(self) -> Any:
        from solana.rpc.async_api import AsyncClient

        return AsyncClient(self.rpc_url, timeout=self._timeout)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._loop.is_closed():
            return
        try:
            if self._client is not None:
                self._on_loop(self._client.close)
        except Exception:  # closing a client to a dead endpoint must not fail shutdown
            log.debug("closing the RPC client failed", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> ChainClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------
    def _on_loop(self, factory: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        deadline = timeout if timeout is not None else self._timeout
        future = asyncio.run_coroutine_threadsafe(_with_timeout(factory(), deadline), self._loop)
        try:
            return future.result(deadline + 2)
        except TimeoutError:
            future.cancel()
            raise

    def _call(self, what: str, request: Callable[[Any], Awaitable[T]]) -> T:
        """One solana-py call with deadline and retries; server-side errors are not retried."""
        from solana.exceptions import SolanaRpcException
        from solana.rpc.core import RPCException

        if self._client is None:
            self._client = self._on_loop(self._make_client)

        def once() -> T:
            try:
                return self._on_loop(lambda: request(self._client))
            except RPCException as exc:
                self._set_state("online", None)
                raise ChainError(f"{what}: the RPC node refused it ({_rpc_message(exc)})") from None

        return self._with_retries(what, once, (SolanaRpcException, TimeoutError, OSError))

    def _rpc(self, what: str, method: str, params: list[Any]) -> Any:
        """One JSON-RPC read over plain HTTP, with `_call`'s deadline, retries and errors: its `result`."""
        import httpx

        if self._http is None:
            self._http = httpx.Client(timeout=self._timeout)

        def once() -> Any:
            self._ids += 1
            body = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}
            response = self._http.post(self.rpc_url, json=body)
            if response.status_code >= 500:
                raise OSError(f"HTTP {response.status_code} from the RPC node")
            return response.json()

        reply = self._with_retries(what, once, (httpx.TransportError, OSError, ValueError))
        if not isinstance(reply, dict) or "result" not in reply:
            error = reply.get("error") if isinstance(reply, dict) else reply
            message = error.get("message") if isinstance(error, dict) else error
            raise ChainError(f"{what}: the RPC node refused it ({str(message).splitlines()[0]})")
        return reply["result"]

    def _with_retries(self, what: str, once: Callable[[], T], transient: tuple[type[BaseException], ...]) -> T:
        """`once()` until it answers, retrying `transient` failures with exponential backoff and jitter;
        after the last attempt the client is offline (an event) and ChainOffline says why."""
        last: BaseException | None = None
        for attempt in range(self._attempts):
            try:
                result = once()
            except transient as exc:
                last = exc
                if attempt + 1 < self._attempts:
                    delay = self._backoff * 2**attempt
                    time.sleep(delay + random.uniform(0, delay / 2))
                continue
            self._set_state("online", None)
            return result
        raise self._offline(what, last)

    def _offline(self, what: str, last: BaseException | None) -> ChainOffline:
        reason = _reason(last)
        self._set_state("offline", reason)
        return ChainOffline(
            f"{what}: the Solana RPC at {self.rpc_url} is unreachable ({reason}); check the network or the RPC URL"
        )

    def _account_data(self, what: str, address: Pubkey) -> bytes | None:
        """An account's data, or None when the account does not exist."""
        import base64

        value = self._rpc(what, "getAccountInfo", [str(address), {"encoding": "base64"}])["value"]
        if value is None:
            return None
        return base64.b64decode(value["data"][0])

    def _set_state(self, state: Literal["online", "offline"], reason: str | None) -> None:
        if state != self.state:
            self.state = state
            if self._bus is not None:
                self._bus.publish("wallet.chain", state=state, rpc_url=self.rpc_url, reason=reason)

    # -- reads -------------------------------------------------------------------------
    def sol_balance(self, pubkey: str) -> int:
        key = Pubkey.from_string(pubkey)
        return int(self._rpc("reading the SOL balance", "getBalance", [str(key)])["value"])

    def token_balance(self, owner: str, mint: str) -> TokenBalance:
        ata = associated_token_address(Pubkey.from_string(owner), Pubkey.from_string(mint))
        if self._account_data("reading the token account", ata) is None:
            decimals = self._mint_decimals(mint)
            return TokenBalance(0, decimals, None)
        value = self._rpc("reading the token balance", "getTokenAccountBalance", [str(ata)])["value"]
        return TokenBalance(int(value["amount"]), int(value["decimals"]), str(ata))

    def _mint_decimals(self, mint: str) -> int:
        data = self._account_data("reading the token mint", Pubkey.from_string(mint))
        if data is None or len(data) <= MINT_DECIMALS_OFFSET:
            raise ChainError(f"{mint} is not a token mint on {self.rpc_url}: check the grid's token mint")
        return int(data[MINT_DECIMALS_OFFSET])

    def payout_history(self, owner: str, mint: str, limit: int = 50) -> list[Payout]:
        """Incoming transfers of `mint` to `owner`'s token account, newest first."""
        ata = associated_token_address(Pubkey.from_string(owner), Pubkey.from_string(mint))
        entries = self._call("reading payout history", lambda c: c.get_signatures_for_address(ata, limit=limit)).value
        payouts = []
        for entry in entries:
            if entry.err is not None:
                continue
            tx = self._call("reading a payout transaction", _get_transaction(entry.signature)).value
            if tx is None or tx.transaction.meta is None:
                continue
            received, decimals = _received(tx.transaction.meta, owner, mint)
            if received > 0:
                payouts.append(Payout(str(entry.signature), received, tx.block_time, int(tx.slot), decimals))
        return payouts

    # -- withdrawals -------------------------------------------------------------------
    def plan_sol_withdrawal(self, keystore: Keystore, destination: str, lamports: int) -> WithdrawPlan:
        from solders.system_program import TransferParams, transfer

        _positive(lamports)
        sender, to = Pubkey.from_string(keystore.pubkey), Pubkey.from_string(destination)
        instruction = transfer(TransferParams(from_pubkey=sender, to_pubkey=to, lamports=lamports))
        message, tx = self._sign([instruction], keystore)
        fee = self._fee(message)
        balance = self.sol_balance(keystore.pubkey)
        minimum = self._rent(0)
        if balance < lamports + fee:
            raise InsufficientFunds(
                f"not enough SOL: {_sol(balance)} SOL available, {_sol(lamports + fee)} SOL needed "
                f"(amount + {_sol(fee)} fee)"
            )
        left = balance - lamports - fee
        if 0 < left < minimum:
            raise InsufficientFunds(
                f"this would leave {_sol(left)} SOL, below the {_sol(minimum)} SOL an account must keep (rent): "
                f"withdraw everything ({_sol(balance - fee)} SOL) or leave at least {_sol(minimum)} SOL"
            )
        if self.sol_balance(destination) == 0 and lamports < minimum:
            raise InsufficientFunds(
                f"{destination} is a new account: send at least {_sol(minimum)} SOL so it can exist (rent)"
            )
        return WithdrawPlan("SOL", lamports, SOL_DECIMALS, destination, fee, 0, bytes(tx))

    def plan_token_withdrawal(self, keystore: Keystore, mint: str, destination: str, amount: int) -> WithdrawPlan:
        from spl.token.constants import TOKEN_PROGRAM_ID
        from spl.token.instructions import (
            create_idempotent_associated_token_account,
            get_associated_token_address,
            transfer_checked,
        )
        from spl.token.models import TransferCheckedParams

        _positive(amount)
        sender, to, mint_key = (Pubkey.from_string(k) for k in (keystore.pubkey, destination, mint))
        held = self.token_balance(keystore.pubkey, mint)
        if held.account is None or held.amount < amount:
            raise InsufficientFunds(
                f"not enough tokens: {format_units(held.amount, held.decimals)} available, "
                f"{format_units(amount, held.decimals)} requested"
            )
        recipient_ata = get_associated_token_address(to, mint_key)
        exists = self._call("reading the recipient", lambda c: c.get_account_info(recipient_ata)).value
        rent = 0 if exists is not None else self._rent(TOKEN_ACCOUNT_SIZE)
        instructions = [] if exists is not None else [create_idempotent_associated_token_account(sender, to, mint_key)]
        instructions.append(
            transfer_checked(
                TransferCheckedParams(
                    program_id=TOKEN_PROGRAM_ID,
                    source=get_associated_token_address(sender, mint_key),
                    mint=mint_key,
                    dest=recipient_ata,
                    owner=sender,
                    amount=amount,
                    decimals=held.decimals,
                )
            )
        )
        message, tx = self._sign(instructions, keystore)
        fee = self._fee(message)
        sol = self.sol_balance(keystore.pubkey)
        if sol < fee + rent:
            raise InsufficientFunds(
                f"not enough SOL for the network fee: {_sol(sol)} SOL available, {_sol(fee + rent)} SOL needed"
                + (" (fee + opening the recipient's token account)" if rent else "")
                + f"; {_get_sol(fee + rent - sol, keystore.pubkey)}"
            )
        return WithdrawPlan("token", amount, held.decimals, destination, fee, rent, bytes(tx), mint)

    def send(self, plan: WithdrawPlan) -> str:
        """Send a planned withdrawal and wait until the cluster confirms it; returns the signature."""
        from solana.rpc.commitment import Confirmed
        from solana.rpc.models import TxOpts

        raw = plan.transaction
        signature = Transaction.from_bytes(raw).signatures[0]
        try:
            self._call(
                "sending the withdrawal",
                lambda c: c.send_raw_transaction(raw, TxOpts(preflight_commitment=Confirmed)),
            )
        except ChainOffline:
            raise
        except ChainError as exc:
            if "already been processed" not in str(exc):  # a retry of a send that did land
                raise _friendlier(exc) from None
        self._await_confirmation(signature)
        return str(signature)

    def _await_confirmation(self, signature: Signature) -> None:
        deadline = time.monotonic() + self._confirm_timeout
        while time.monotonic() < deadline:
            status = self._call("confirming the withdrawal", lambda c: c.get_signature_statuses([signature])).value[0]
            if status is not None:
                if status.err is not None:
                    raise ChainError(f"the withdrawal {signature} failed on chain: {status.err}")
                level = str(status.confirmation_status or "")
                if level.lower().endswith(("confirmed", "finalized")):
                    return
            time.sleep(0.4)
        raise ChainError(
            f"the withdrawal {signature} was sent but not confirmed within {self._confirm_timeout:.0f} s: "
            "check it later in `hostapp wallet history` or a block explorer"
        )

    def _sign(self, instructions: list[Any], keystore: Keystore) -> tuple[Message, Transaction]:
        blockhash = self._call("fetching a recent blockhash", lambda c: c.get_latest_blockhash()).value.blockhash
        message = Message.new_with_blockhash(
            instructions, Pubkey.from_string(keystore.pubkey), Hash.from_string(str(blockhash))
        )
        signature = Signature.from_bytes(keystore.sign(bytes(message)))
        return message, Transaction.populate(message, [signature])

    def _fee(self, message: Message) -> int:
        value = self._call("estimating the fee", lambda c: c.get_fee_for_message(message)).value
        if value is None:
            raise ChainError("the RPC node could not price the transaction (blockhash expired?): retry")
        return int(value)

    def _rent(self, size: int) -> int:
        return int(
            self._call("reading the rent minimum", lambda c: c.get_minimum_balance_for_rent_exemption(size)).value
        )


def _get_transaction(signature: Signature) -> Callable[[Any], Awaitable[Any]]:
    def request(client: Any) -> Awaitable[Any]:
        return client.get_transaction(signature, encoding="json", max_supported_transaction_version=0)  # type: ignore[no-any-return]

    return request


async def _with_timeout(awaitable: Awaitable[T], timeout: float) -> T:
    return await asyncio.wait_for(awaitable, timeout)


def _received(meta: Any, owner: str, mint: str) -> tuple[int, int]:
    """(base units `owner` gained in `mint`, the mint's decimals) from a transaction's token balances."""
    decimals = 0

    def amounts(balances: Any) -> dict[int, int]:
        nonlocal decimals
        found = {}
        for b in balances or []:
            if str(b.mint) == mint and str(b.owner) == owner:
                found[int(b.account_index)] = int(b.ui_token_amount.amount)
                decimals = int(b.ui_token_amount.decimals)
        return found

    pre, post = amounts(meta.pre_token_balances), amounts(meta.post_token_balances)
    return sum(post[i] - pre.get(i, 0) for i in post), decimals


def _positive(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ChainError(f"the amount must be a positive whole number of base units, not {amount!r}")


def _sol(lamports: int) -> str:
    return format_units(lamports, SOL_DECIMALS)


def _rpc_message(exc: Exception) -> str:
    error = exc.args[0] if exc.args else exc
    message = getattr(error, "message", None) or str(error)
    return str(message).splitlines()[0]


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    if isinstance(exc, TimeoutError):
        return "timed out"
    inner = exc.__cause__ or exc
    text = str(inner).splitlines()[0] if str(inner) else type(inner).__name__
    return text or type(inner).__name__


def _friendlier(exc: ChainError) -> ChainError:
    text = str(exc)
    if "insufficient funds for rent" in text.lower():
        return InsufficientFunds(f"{text}: an account must keep its rent-exempt minimum")
    if "insufficient" in text.lower() or "0x1" in text:
        return InsufficientFunds(f"{text}: the wallet does not hold enough for this withdrawal")
    return exc
