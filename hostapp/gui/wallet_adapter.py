"""`WalletActions` over the core's `hostapp.wallet.service.WalletService`: the CLI and the GUI take
the same path (same confirmations, same secret store, same chain client); this only turns the
service's results into the page shapes and its errors into one-line ValueErrors.

The service module imports solders and solana (~100 ms): it is imported on first use, never on
the way to the tray icon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, cast

from hostapp.gui.viewmodels import Balances, CreatedWallet, WalletSummary, WithdrawalPlan

if TYPE_CHECKING:
    from hostapp.wallet.chain_client import ChainClient
    from hostapp.wallet.service import WalletService

SOL_DECIMALS = 9


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


class CoreWallet:
    def __init__(self, service: Callable[[], WalletService]) -> None:
        self._service_factory = service
        self._service: WalletService | None = None

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
        return WithdrawalPlan(
            plan.asset,
            plan.amount,
            plan.decimals,
            plan.destination,
            plan.fee,
            plan.rent,
            plan.describe(),
            handle=plan,
        )

    def send_withdrawal(self, plan: WithdrawalPlan) -> str:
        core_plan: Any = plan.handle
        with self._chain() as client, _user_errors():
            return self.service.send_withdrawal(client, core_plan)
