"""Which OS keyring backends hostapp trusts with the wallet secret.

Only backends that encrypt at rest under the user's login are accepted; plaintext or
"encrypted with a key stored beside it" backends (keyrings.alt) are refused by name.
"""

from __future__ import annotations

from typing import Any

SECURE_BACKENDS = frozenset(
    {
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.Windows.WinVaultKeyring",
        "keyring.backends.macOS.Keyring",
    }
)


def backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__name__}"


def secure_backend() -> tuple[Any | None, str]:
    """The highest-priority secure backend that is usable here, or None and the reason."""
    import keyring
    import keyring.backend
    import keyring.core

    # An explicit choice (PYTHON_KEYRING_BACKEND or keyringrc.cfg) is the user's: honour it, and
    # refuse it if it is not a secure one rather than silently picking another backend.
    configured = keyring.core.load_env() or keyring.core.load_config()
    if configured is not None:
        name = backend_name(configured)
        if name in SECURE_BACKENDS:
            return configured, name
        return None, f"the configured keyring backend {name} is not a secure one"
    candidates = sorted(keyring.backend.get_all_keyring(), key=lambda b: b.priority, reverse=True)
    for backend in candidates:
        if backend_name(backend) in SECURE_BACKENDS:
            return backend, backend_name(backend)
    chosen = keyring.get_keyring()
    return None, f"only insecure or no backends available (default: {backend_name(chosen)})"


# What each place is called for the person using it (the class names stay in tooltips and --json).
PLACE_NAMES = {
    "keyring.backends.SecretService.Keyring": "your login keyring (GNOME Keyring / Secret Service)",
    "keyring.backends.kwallet.DBusKeyring": "KWallet",
    "keyring.backends.Windows.WinVaultKeyring": "Windows Credential Manager",
    "keyring.backends.macOS.Keyring": "the macOS Keychain",
    "hostapp.encrypted-file": "a file encrypted with your passphrase",
}


def place_name(backend: str) -> str:
    """Where the key is, in words: "KWallet", not "keyring.backends.kwallet.DBusKeyring"."""
    return PLACE_NAMES.get(backend, backend)


def describe_keyring() -> tuple[str, bool, str | None]:
    """(backend name, is secure, problem or None) for `doctor` and the wizard."""
    backend, name = secure_backend()
    if backend is None:
        return name, False, None
    if name == "keyring.backends.SecretService.Keyring":
        problem = _secret_service_problem()
        if problem:
            return name, True, problem
    return name, True, None


def _secret_service_problem() -> str | None:
    try:
        import secretstorage
    except ImportError:
        return "secretstorage is not installed"
    try:
        with secretstorage.dbus_init() as connection:
            collection = secretstorage.get_default_collection(connection)
            if collection.is_locked():
                return "the default collection is locked"
    except Exception as exc:  # D-Bus errors come in many types; any of them means "not usable"
        return f"Secret Service not usable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    return None


def secret_service_locked() -> bool:
    """True when the Secret Service default collection is locked.

    Checked before keyring touches it: keyring would ask the daemon to unlock, which on a
    headless session can wait on a prompt nobody sees. Raises on D-Bus failure.
    """
    import secretstorage

    with secretstorage.dbus_init() as connection:
        return bool(secretstorage.get_default_collection(connection).is_locked())
