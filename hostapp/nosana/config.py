"""What the Nosana mode needs to know beyond `grid.backend`: the cluster, the market, the node image
and the node's dedicated key.

- The cluster follows `solana.cluster` (mainnet-beta or devnet; Nosana has no other) and the RPC
  follows `solana.rpc_url` as for the wallet.
- The market, the image and an access-key NFT are read from `nosana.json` in hostapp's config
  folder (one JSON object; a missing file means the defaults and no market yet). A wrong value is
  one line naming the field.
- The node key is a dedicated Solana keypair, separate from the hostapp wallet, in
  `<data>/nosana/nosana_key.json` (mode 0600 in a 0700 folder; docs/nosana.md says why it is a
  plaintext file: the official node reads it). That folder is mounted at /root/.nosana in the node
  container.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from hostapp.config.paths import AppPaths
from hostapp.config.settings import Settings
from hostapp.nosana.ids import DEVNET, MAINNET, NosanaCluster
from hostapp.nosana.supervisor import DEFAULT_IMAGE

CONFIG_FILE = "nosana.json"
KEY_FILE = "nosana_key.json"
CLUSTERS = {"mainnet-beta": MAINNET, "devnet": DEVNET}


class NosanaConfigError(ValueError):
    """One line: which setting is wrong and what to set."""


@dataclass(frozen=True)
class NosanaConfig:
    cluster: NosanaCluster
    market: Pubkey | None
    image: str
    access_key_nft: Pubkey | None
    node_dir: Path  # holds the node key; mounted at /root/.nosana in the node container

    @property
    def key_file(self) -> Path:
        return self.node_dir / KEY_FILE

    def node_public_key(self) -> Pubkey | None:
        """The node key's address, or None while no key was created (nothing secret is returned)."""
        keypair = self._read_key()
        return None if keypair is None else keypair.pubkey()

    def node_key(self, create: bool = False) -> Keypair:
        """The node's keypair; with `create`, a new one is made (0600 in a 0700 folder) when none exists."""
        keypair = self._read_key()
        if keypair is not None:
            return keypair
        if not create:
            raise NosanaConfigError(f"no Nosana node key at {self.key_file}: start the Nosana mode once to create it")
        keypair = Keypair()
        self.node_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.node_dir, 0o700)
        descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(list(bytes(keypair)), out)  # the Solana CLI format the official node reads
        return keypair

    def _read_key(self) -> Keypair | None:
        try:
            raw = json.loads(self.key_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise NosanaConfigError(f"the Nosana node key {self.key_file} is unreadable ({exc}): restore it") from None
        if not isinstance(raw, list) or len(raw) != 64 or not all(isinstance(b, int) and 0 <= b < 256 for b in raw):
            raise NosanaConfigError(
                f"the Nosana node key {self.key_file} is not a Solana keypair file (64 numbers): restore it"
            )
        return Keypair.from_bytes(bytes(raw))


def load_nosana_config(paths: AppPaths, settings: Settings) -> NosanaConfig:
    cluster = CLUSTERS.get(settings.solana.cluster)
    if cluster is None:
        raise NosanaConfigError(
            f"solana.cluster is {settings.solana.cluster!r}: Nosana runs on 'mainnet-beta' or 'devnet'; set one of them"
        )
    path = paths.config / CONFIG_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raw = {}
    except (OSError, ValueError) as exc:
        raise NosanaConfigError(f"{path} is not valid JSON ({exc}): fix or delete it") from None
    if not isinstance(raw, dict):
        raise NosanaConfigError(f"{path} must hold one JSON object: fix or delete it")
    unknown = sorted(set(raw) - {"market", "image", "access_key_nft"})
    if unknown:
        raise NosanaConfigError(f"{path}: unknown setting {unknown[0]!r} (known: market, image, access_key_nft)")
    image = raw.get("image", DEFAULT_IMAGE)
    if not isinstance(image, str) or not image.strip():
        raise NosanaConfigError(f"{path}: image must be a container image name, e.g. {DEFAULT_IMAGE!r}")
    return NosanaConfig(
        cluster=cluster,
        market=_address(raw.get("market"), "market", path),
        image=image.strip(),
        access_key_nft=_address(raw.get("access_key_nft"), "access_key_nft", path),
        node_dir=paths.data / "nosana",
    )


def _address(value: object, name: str, path: Path) -> Pubkey | None:
    if value is None:
        return None
    try:
        return Pubkey.from_string(str(value))
    except ValueError:
        raise NosanaConfigError(f"{path}: {name} {value!r} is not a Solana address (base58, 32 bytes)") from None
