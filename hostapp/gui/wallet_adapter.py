"""WalletService over the core's key handling (hostapp.wallet.seed + secrets) until the wallet
issue's own service is wired; balances and withdraw need the chain client and say so."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hostapp.config.paths import AppPaths
from hostapp.gui.viewmodels import Balances

if TYPE_CHECKING:
    from hostapp.wallet.secrets import SecretStore
    from hostapp.wallet.seed import KeyMaterial


def _seed() -> Any:
    # solders + mnemonic cost ~100 ms to import: not on the way to the tray icon.
    from hostapp.wallet import seed

    return seed


class KeyringWallet:
    def __init__(self, paths: AppPaths) -> None:
        self._paths = paths
        self._store: SecretStore | None = None

    @property
    def _secrets(self) -> SecretStore:
        if self._store is None:
            from hostapp.wallet.secrets import SecretStore

            self._store = SecretStore(self._paths)
        return self._store

    def address(self) -> str | None:
        record = self._secrets.read_record()
        return record.pubkey if record else None

    def balances(self) -> Balances:
        return Balances(None, None, problem="balances need the chain client, which this build does not have yet")

    def _replace(self, material: KeyMaterial, backup_confirmed: bool) -> str:
        from hostapp.wallet.secrets import SecretStoreError, WalletRecord

        record = WalletRecord(
            pubkey=material.pubkey,
            backend="",
            source=material.source,
            path=material.path,
            backup_confirmed=backup_confirmed,
        )
        try:
            self._secrets.save(material, record)
        except SecretStoreError as exc:
            raise ValueError(str(exc)) from None
        return material.pubkey

    def create(self) -> tuple[str, str]:
        phrase = _seed().generate_mnemonic(12)
        material = _seed().from_mnemonic(phrase)
        return self._replace(material, backup_confirmed=True), phrase

    def import_secret(self, text: str) -> str:
        stripped = text.strip()
        if stripped.startswith("["):
            material = _seed().from_keygen_json(stripped)
        elif len(stripped.split()) > 1:
            material = _seed().from_mnemonic(stripped)
        else:
            material = _seed().from_base58_secret(stripped)
        return self._replace(material, backup_confirmed=True)

    def export_secret(self) -> str:
        record = self._secrets.read_record()
        if record is None:
            raise ValueError("there is no wallet yet: create or import one first")
        from hostapp.wallet.secrets import SecretStoreError

        try:
            material = self._secrets.load(record)
        except SecretStoreError as exc:
            raise ValueError(str(exc)) from None
        from hostapp.wallet.base58 import b58encode

        return material.mnemonic or b58encode(material.secret)

    def withdraw(self, to_address: str, amount_base_units: int) -> str:
        _seed().validate_address(to_address)
        raise ValueError("withdraw needs the chain client, which this build does not have yet")

    def validate_address(self, text: str) -> str:
        return str(_seed().validate_address(text))
