"""`WalletService`: the one place the CLI and GUI go for wallet actions.

It ties the key sources, the secret store and the chain client together and enforces the rules:
a new seed phrase must be confirmed before the key is used; export needs an explicit request;
addresses are validated; amounts are integers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from hostapp.config.paths import AppPaths
from hostapp.config.settings import Settings, save_settings
from hostapp.events import EventBus
from hostapp.wallet.chain_client import ChainClient, ChainError, Payout, TokenBalance, WithdrawPlan, resolve_rpc_url
from hostapp.wallet.keystore import KeypairKeystore, Keystore
from hostapp.wallet.secrets import ENCRYPTED_FILE, PassphraseProvider, SecretStore, SecretStoreError, WalletRecord
from hostapp.wallet.seed import KeyInputError, KeyMaterial, from_mnemonic, generate_mnemonic, validate_address

CONFIRM_WORDS = 3


class WalletError(Exception):
    """One-line, user-facing wallet failure (wraps key input, secret store and chain errors)."""


@dataclass(frozen=True)
class WalletInfo:
    pubkey: str
    backend: str
    source: str
    path: str | None
    backup_confirmed: bool
    payout_address: str  # where earnings go: the configured address, else the node key itself


@dataclass(frozen=True, repr=False)
class NewWallet:
    pubkey: str
    mnemonic: str
    confirm_positions: list[int]  # 1-based word positions the user must re-enter

    def __repr__(self) -> str:
        return f"NewWallet(pubkey={self.pubkey})"


@dataclass(frozen=True)
class Balances:
    address: str
    sol: int
    token: TokenBalance | None
    mint: str | None


class WalletService:
    def __init__(
        self,
        paths: AppPaths,
        settings: Settings,
        bus: EventBus | None = None,
        passphrase: PassphraseProvider | None = None,
    ) -> None:
        self._paths = paths
        self._settings = settings
        self._bus = bus or EventBus()
        self._store = SecretStore(paths, passphrase)

    # -- state -------------------------------------------------------------------------
    def info(self) -> WalletInfo | None:
        record = self._record_or_none()
        if record is None:
            return None
        return WalletInfo(
            record.pubkey,
            record.backend,
            record.source,
            record.path,
            record.backup_confirmed,
            self._settings.payout_address or record.pubkey,
        )

    def verify(self) -> WalletInfo:
        """Read the secret back from where it is kept and check it matches the record."""
        record = self._require_record()
        self._load(record, with_backup=False)
        info = self.info()
        assert info is not None
        return info

    def keystore(self) -> Keystore:
        """The signing key for the grid and withdrawals; refused until the backup is confirmed."""
        record = self._require_record()
        if not record.backup_confirmed:
            raise WalletError(
                "the new wallet's seed phrase backup is not confirmed yet: run "
                "`hostapp wallet create --confirm-words N:word,...` with the words asked for"
            )
        # The signing part only: a node or tray app holding the key never holds the seed phrase.
        return KeypairKeystore(self._load(record, with_backup=False).keypair())

    # -- create / confirm / import ---------------------------------------------------------
    def create(self, words: int = 12, replace: bool = False) -> NewWallet:
        self._refuse_overwrite(replace)
        phrase = generate_mnemonic(words)
        material = from_mnemonic(phrase, source="created")
        positions = sorted(secrets.SystemRandom().sample(range(1, words + 1), CONFIRM_WORDS))
        record = WalletRecord(
            material.pubkey, "", "created", material.path, backup_confirmed=False, confirm_positions=positions
        )
        self._save(material, record, replace)
        self._bus.publish("wallet.created", pubkey=material.pubkey, backup_confirmed=False)
        return NewWallet(material.pubkey, phrase, positions)

    def confirm_backup(self, answers: dict[int, str]) -> WalletInfo:
        record = self._require_record()
        if record.backup_confirmed:
            return self.verify()
        missing = [p for p in record.confirm_positions if p not in answers]
        if missing:
            asked = ", ".join(str(p) for p in record.confirm_positions)
            raise WalletError(f"confirm words {asked} of your seed phrase (missing: {', '.join(map(str, missing))})")
        material = self._load(record)
        assert material.mnemonic is not None
        words = material.mnemonic.split()
        wrong = [p for p in record.confirm_positions if answers[p].strip().lower() != words[p - 1]]
        if wrong:
            raise WalletError(f"word {wrong[0]} does not match your seed phrase: check your written copy and try again")
        return self._mark_confirmed(record)

    def skip_backup_confirmation(self) -> WalletInfo:
        """For scripts that keep the phrase themselves (`--yes-i-wrote-it-down`)."""
        return self._mark_confirmed(self._require_record())

    def import_key(self, material: KeyMaterial, replace: bool = False) -> WalletInfo:
        self._refuse_overwrite(replace, same=material.pubkey)
        record = WalletRecord(material.pubkey, "", material.source, material.path, backup_confirmed=True)
        self._save(material, record, replace)
        self._bus.publish("wallet.changed", pubkey=material.pubkey)
        info = self.info()
        assert info is not None
        return info

    # -- export ------------------------------------------------------------------------
    def export(self, kind: Literal["mnemonic", "keygen-json"]) -> str:
        """The secret in clear text: only for an explicit, confirmed user request."""
        material = self._load(self._require_record())
        if kind == "mnemonic":
            if material.mnemonic is None:
                raise WalletError(
                    f"this wallet was imported from a {material.source} key and has no seed phrase: "
                    "export it as keygen-json"
                )
            return material.mnemonic
        return "[" + ",".join(str(b) for b in material.secret) + "]"

    # -- payout address ----------------------------------------------------------------
    def set_payout_address(self, address: str | None) -> str:
        """Earnings go to `address` (e.g. a cold wallet); None sends them to the node key again."""
        try:
            value = validate_address(address) if address else None
        except KeyInputError as exc:
            raise WalletError(str(exc)) from None
        self._settings.payout_address = value
        save_settings(self._paths.settings_file, self._settings)
        self._bus.publish("wallet.payout_address", address=value)
        return value or self._require_record().pubkey

    # -- chain -------------------------------------------------------------------------
    def rpc_url(self, override: str | None = None) -> str:
        try:
            return resolve_rpc_url(self._settings.solana, override, self._local_endpoint("rpc_url"))
        except ChainError as exc:
            raise WalletError(str(exc)) from None

    def token_mint(self, override: str | None = None) -> str | None:
        mint = override or self._settings.grid.token_mint
        if mint is None and self._settings.solana.cluster == "localnet" and not self._settings.solana.rpc_url:
            mint = self._local_endpoint("mint")
        return mint

    def chain_client(self, rpc_url: str | None = None, timeout: float | None = None) -> ChainClient:
        return ChainClient(
            self.rpc_url(rpc_url), timeout=timeout or self._settings.grid.request_timeout_seconds, bus=self._bus
        )

    def balances(self, client: ChainClient, address: str | None = None, mint: str | None = None) -> Balances:
        owner = address or self._require_record().pubkey
        token_mint = self.token_mint(mint)
        try:
            sol = client.sol_balance(owner)
            token = client.token_balance(owner, token_mint) if token_mint else None
        except ChainError as exc:
            raise WalletError(str(exc)) from None
        return Balances(owner, sol, token, token_mint)

    def history(
        self, client: ChainClient, address: str | None = None, mint: str | None = None, limit: int = 50
    ) -> list[Payout]:
        owner = address or self._payout_address()
        token_mint = self.token_mint(mint)
        if token_mint is None:
            raise WalletError("no grid token mint configured (grid.token_mint): pass --mint")
        try:
            return client.payout_history(owner, token_mint, limit)
        except ChainError as exc:
            raise WalletError(str(exc)) from None

    def plan_withdrawal(
        self,
        client: ChainClient,
        asset: Literal["SOL", "token"],
        destination: str,
        amount: int,
        mint: str | None = None,
    ) -> WithdrawPlan:
        try:
            to = validate_address(destination)
        except KeyInputError as exc:
            raise WalletError(str(exc)) from None
        keystore = self.keystore()
        try:
            if asset == "SOL":
                return client.plan_sol_withdrawal(keystore, to, amount)
            token_mint = self.token_mint(mint)
            if token_mint is None:
                raise WalletError("no grid token mint configured (grid.token_mint): pass --mint")
            return client.plan_token_withdrawal(keystore, token_mint, to, amount)
        except ChainError as exc:
            raise WalletError(str(exc)) from None

    def send_withdrawal(self, client: ChainClient, plan: WithdrawPlan) -> str:
        try:
            signature = client.send(plan)
        except ChainError as exc:
            raise WalletError(str(exc)) from None
        self._bus.publish(
            "wallet.withdrawn", signature=signature, asset=plan.asset, amount=plan.amount, to=plan.destination
        )
        return signature

    # -- internals ---------------------------------------------------------------------
    def _local_endpoint(self, key: str) -> str | None:
        from hostapp.chain.local import default_state_dir, read_endpoint

        endpoint = read_endpoint(default_state_dir(self._paths))
        value = endpoint.get(key) if endpoint else None
        return str(value) if value else None

    def _payout_address(self) -> str:
        return self._settings.payout_address or self._require_record().pubkey

    def _record_or_none(self) -> WalletRecord | None:
        try:
            return self._store.read_record()
        except SecretStoreError as exc:
            raise WalletError(str(exc)) from None

    def _require_record(self) -> WalletRecord:
        record = self._record_or_none()
        if record is None:
            raise WalletError("no wallet yet: run `hostapp wallet create` or `hostapp wallet import`")
        return record

    def _load(self, record: WalletRecord, with_backup: bool = True) -> KeyMaterial:
        try:
            return self._store.load(record, with_backup)
        except (SecretStoreError, KeyInputError) as exc:
            raise WalletError(str(exc)) from None

    def _save(self, material: KeyMaterial, record: WalletRecord, replace: bool) -> None:
        old = self._record_or_none()
        try:
            self._store.save(material, record)
            same_file = old is not None and old.backend == record.backend == ENCRYPTED_FILE
            if replace and old is not None and old.pubkey != material.pubkey and not same_file:
                # Only once the new key is safely stored; the record already names the new one.
                old_backend = SecretStore(self._paths)
                try:
                    old_backend.delete(old)
                finally:
                    self._store.write_record(record)
        except SecretStoreError as exc:
            raise WalletError(str(exc)) from None

    def _refuse_overwrite(self, replace: bool, same: str | None = None) -> None:
        existing = self._record_or_none()
        if existing is not None and not replace and existing.pubkey != same:
            raise WalletError(
                f"a wallet already exists ({existing.pubkey}): export its backup first, then repeat with --replace"
            )

    def _mark_confirmed(self, record: WalletRecord) -> WalletInfo:
        record.backup_confirmed = True
        record.confirm_positions = []
        try:
            self._store.write_record(record)
        except OSError as exc:
            raise WalletError(f"could not save the wallet record: {exc}") from None
        self._bus.publish("wallet.changed", pubkey=record.pubkey)
        info = self.info()
        assert info is not None
        return info
