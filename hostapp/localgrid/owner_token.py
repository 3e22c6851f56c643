"""The install's grid owner token: what owner calls (submit, list, job status) must present.

One random token per install, kept in the config folder (0600), read by the embedded grid, by
`hostapp devgrid serve` and by `hostapp devgrid submit | jobs`. A web page cannot read the file, and
another local user cannot either, so neither can queue jobs or read every job's results.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from hostapp.config.atomic import write_private

TOKEN_FILE = "grid-owner-token"  # noqa: S105 (a file name)
TOKEN_ENV = "HOSTAPP_DEVGRID_TOKEN"  # noqa: S105 (a variable name)


def new_token() -> str:
    # Hex, not URL-safe base64: one token in 64 of those starts with "-", which `--token <value>` then
    # reads as an option ("expected one argument"). 256 bits either way.
    return secrets.token_hex(32)


def token_path(config_dir: Path) -> Path:
    return config_dir / TOKEN_FILE


def read_token(config_dir: Path) -> str | None:
    try:
        token = token_path(config_dir).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None


def load_or_create(config_dir: Path) -> str:
    """The install's token, created (0600) on first use."""
    token = read_token(config_dir)
    if token is None:
        config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = new_token()
        write_private(token_path(config_dir), (token + "\n").encode("ascii"))
    return token


def bearer(token: str) -> dict[str, str]:
    """The request headers of an owner call."""
    return {"Authorization": f"Bearer {token}"}
