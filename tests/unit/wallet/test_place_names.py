"""Where the key is kept is said in words; the class names stay for tooltips and --json."""

from __future__ import annotations

from hostapp.wallet.backends import SECURE_BACKENDS, place_name
from hostapp.wallet.secrets import ENCRYPTED_FILE


def test_every_place_the_key_can_be_kept_has_a_name_without_class_names() -> None:
    for backend in [*SECURE_BACKENDS, ENCRYPTED_FILE]:
        assert "keyring.backends" not in place_name(backend) and "hostapp." not in place_name(backend)
    assert place_name("keyring.backends.Windows.WinVaultKeyring") == "Windows Credential Manager"
