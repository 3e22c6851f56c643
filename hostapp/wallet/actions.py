"""The wallet as the tray and the wizard use it, run in the node process: the CLI and the GUI take
the same path (same confirmations, same secret store, same chain client). `WalletActions` turns the
service's results into small JSON-able shapes and its errors into one-line ValueErrors;
`wallet_command` serves them on the node's control socket (hostapp/node/daemon.py), and the tray's
`RemoteWallet` (hostapp/control/client.py) asks for them. The signing key never leaves the node process.

The service module imports solders and solana (~100 ms): it is imported on first use.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from hostapp.wallet.chain_client import ChainClient
    from hostapp.wallet.service import WalletService

SOL_DECIMALS = 9
# A planned withdrawal waits this long for the user's "Send" before it must be planned again.
PLAN_TTL_SECONDS = 600.0


@dataclass(frozen=True)
class Balances:
    sol_lamports: int | None
    token_base_units: int | None
    token_decimals: int = 6
    problem: str | None = None  # why a balance is unknown (RPC unreachable, no wallet, …)


@dataclass(frozen=True, repr=False)
class CreatedWallet:
    """A new wallet: its seed phrase is shown once, then `confirm_positions` words are asked back."""

    address: str
    phrase: str
    confirm_positions: tuple[int, ...]  # 1-based

    def __repr__(self) -> str:  # never the phrase in a log or a traceback
        return f"CreatedWallet(address={self.address})"


@dataclass(frozen=True)
class WalletSummary:
    address: str
    backup_confirmed: bool
    payout_address: str  # the configured one, else the wallet itself
    kept_in: str  # the secret's backend ("SecretService Keyring", "encrypted-file")


@dataclass(frozen=True)
class WithdrawalPlan:
    """A signed, not yet sent withdrawal with its fee: shown to the user before `send_withdrawal`."""

    asset: str  # "SOL" or "token"
    amount: int  # base units
    decimals: int
    destination: str
    fee_lamports: int
    rent_lamports: int
    summary: str  # one line: amount, destination, fee (and rent when a token account is opened)
    handle: str = field(repr=False, default="")  # names the node's signed plan; passed back unchanged


@contextmanager
def _user_errors() -> Iterator[None]:
    """WalletError / KeyInputError / ChainError → ValueError with the service's one-line message."""
    from hostapp.wallet.chain_client import ChainError
    from hostapp.wallet.service import WalletError

    try:
        yield
    except (WalletError, ChainError) as exc:
        raise ValueError(str(exc)) from None
    # KeyInputError is already a ValueError with a one-line message.


class WalletActions:
    """The wallet operations the tray offers, over the node's WalletService (built on first use)."""

    def __init__(self, service: Callable[[], WalletService]) -> None:
        self._service_factory = service
        self._service: WalletService | None = None
        self._plans: dict[str, tuple[float, Any]] = {}  # handle -> (planned at, the core's signed plan)
        self._plans_lock = threading.Lock()

    @property
    def service(self) -> WalletService:
        if self._service is None:
            self._service = self._service_factory()
        return self._service

    @contextmanager
    def _chain(self) -> Iterator[ChainClient]:
        with _user_errors():
            client = self.service.chain_client()
        try:
            yield client
        finally:
            client.close()

    # -- state -------------------------------------------------------------------------
    def summary(self) -> WalletSummary | None:
        with _user_errors():
            info = self.service.info()
        if info is None:
            return None
        return WalletSummary(info.pubkey, info.backup_confirmed, info.payout_address, info.backend)

    # -- create / confirm / import / export ----------------------------------------------
    def create(self, replace: bool = False) -> CreatedWallet:
        with _user_errors():
            new = self.service.create(replace=replace)
        return CreatedWallet(new.pubkey, new.mnemonic, tuple(new.confirm_positions))

    def confirm_backup(self, answers: Mapping[int, str]) -> str:
        with _user_errors():
            return self.service.confirm_backup(dict(answers)).pubkey

    def import_secret(self, text: str, replace: bool = False) -> str:
        from hostapp.wallet import seed

        stripped = text.strip()
        if not stripped:
            raise ValueError("paste a seed phrase, a base58 private key or solana-keygen JSON first")
        if stripped.startswith("["):
            material = seed.from_keygen_json(stripped)
        elif len(stripped.split()) > 1:
            material = seed.from_mnemonic(stripped)
        else:
            material = seed.from_base58_secret(stripped)
        with _user_errors():
            return self.service.import_key(material, replace=replace).pubkey

    def export_secret(self) -> str:
        from hostapp.wallet.service import WalletError

        try:
            return self.service.export("mnemonic")
        except WalletError:
            pass  # imported from a key: it has no seed phrase, only the key itself
        with _user_errors():
            return self.service.export("keygen-json")

    # -- payout address and balances ------------------------------------------------------
    def set_payout_address(self, text: str | None) -> str:
        with _user_errors():
            return self.service.set_payout_address(text.strip() if text and text.strip() else None)

    def validate_address(self, text: str) -> str:
        from hostapp.wallet.seed import validate_address

        return validate_address(text)

    def balances(self) -> Balances:
        try:
            with self._chain() as client, _user_errors():
                found = self.service.balances(client)
        except ValueError as exc:
            return Balances(None, None, problem=str(exc))
        token = found.token
        if token is None:
            return Balances(found.sol, None, problem="no grid token configured (grid.token_mint)")
        return Balances(found.sol, token.amount, token.decimals)

    # -- withdraw -----------------------------------------------------------------------------
    def plan_withdrawal(self, asset: str, to_address: str, amount_text: str) -> WithdrawalPlan:
        from hostapp.wallet.amounts import parse_units

        if asset not in ("SOL", "token"):
            raise ValueError(f"unknown asset {asset!r}: choose SOL or the grid token")
        kind = cast(Literal["SOL", "token"], asset)
        with self._chain() as client, _user_errors():
            if kind == "SOL":
                decimals = SOL_DECIMALS
            else:
                token = self.service.balances(client).token
                if token is None:
                    raise ValueError("no grid token configured (grid.token_mint): only SOL can be withdrawn")
                decimals = token.decimals
            try:
                amount = parse_units(amount_text, decimals)
            except ValueError as exc:
                raise ValueError(f"amount: {exc}") from None
            plan = self.service.plan_withdrawal(client, kind, to_address.strip(), amount)
        handle = secrets.token_urlsafe(12)
        with self._plans_lock:
            now = time.monotonic()
            self._plans = {k: v for k, v in self._plans.items() if now - v[0] < PLAN_TTL_SECONDS}
            self._plans[handle] = (now, plan)
        return WithdrawalPlan(
            plan.asset, plan.amount, plan.decimals, plan.destination, plan.fee, plan.rent, plan.describe(), handle
        )

    def send_withdrawal(self, plan: WithdrawalPlan) -> str:
        """Sends the plan the user confirmed, once: the same handle cannot send twice."""
        with self._plans_lock:
            found = self._plans.pop(plan.handle, None)
        if found is None or time.monotonic() - found[0] >= PLAN_TTL_SECONDS:
            raise ValueError("this withdrawal plan has expired or was already sent: plan it again")
        with self._chain() as client, _user_errors():
            return self.service.send_withdrawal(client, found[1])


# ---------------------------------------------------------------- the control socket's wallet commands

WALLET_COMMANDS = frozenset(
    {
        "wallet.summary",
        "wallet.create",
        "wallet.confirm_backup",
        "wallet.import",
        "wallet.export",
        "wallet.balances",
        "wallet.set_payout_address",
        "wallet.validate_address",
        "wallet.plan_withdrawal",
        "wallet.send_withdrawal",
    }
)


def _text(args: Mapping[str, Any], name: str) -> str:
    value = args.get(name, "")
    if not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string")
    return value


def wallet_command(actions: WalletActions, command: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """One wallet command of the control socket; the answer is `{"value": <JSON shape>}`."""
    replace = args.get("replace") is True
    value: Any
    if command == "wallet.summary":
        summary = actions.summary()
        value = None if summary is None else dataclasses.asdict(summary)
    elif command == "wallet.create":
        created = actions.create(replace=replace)
        # The phrase crosses to the tray once, to be shown for the backup; it is never stored there.
        value = {
            "address": created.address,
            "phrase": created.phrase,
            "confirm_positions": list(created.confirm_positions),
        }
    elif command == "wallet.confirm_backup":
        answers = args.get("answers") or {}
        if not isinstance(answers, dict):
            raise ValueError("'answers' must be an object of position -> word")
        try:
            value = actions.confirm_backup({int(k): str(v) for k, v in answers.items()})
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None
    elif command == "wallet.import":
        value = actions.import_secret(_text(args, "text"), replace=replace)
    elif command == "wallet.export":
        value = actions.export_secret()
    elif command == "wallet.balances":
        value = dataclasses.asdict(actions.balances())
    elif command == "wallet.set_payout_address":
        value = actions.set_payout_address(_text(args, "address") or None)
    elif command == "wallet.validate_address":
        value = actions.validate_address(_text(args, "address"))
    elif command == "wallet.plan_withdrawal":
        plan = actions.plan_withdrawal(_text(args, "asset"), _text(args, "to"), _text(args, "amount"))
        value = dataclasses.asdict(plan)
    elif command == "wallet.send_withdrawal":
        plan = WithdrawalPlan(**_plan_fields(args.get("plan")))
        value = actions.send_withdrawal(plan)
    else:
        raise ValueError(f"unknown command {command!r}")
    return {"value": value}


def _plan_fields(raw: Any) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(WithdrawalPlan)}
    if not isinstance(raw, dict) or set(raw) != names:
        raise ValueError("'plan' must be the plan `wallet.plan_withdrawal` returned")
    return raw


def summary_from_json(raw: Any) -> WalletSummary | None:
    return None if raw is None else WalletSummary(**raw)


def created_from_json(raw: Any) -> CreatedWallet:
    return CreatedWallet(raw["address"], raw["phrase"], tuple(int(p) for p in raw["confirm_positions"]))
