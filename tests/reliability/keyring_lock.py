"""Lock the real Secret Service's default collection for a test, and unlock it again afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def locked_default_collection() -> Iterator[None]:
    import secretstorage
    from jeepney import DBusAddress, new_method_call
    from secretstorage.util import open_session

    connection = secretstorage.dbus_init()
    collection = secretstorage.get_default_collection(connection)
    collection.lock()
    assert collection.is_locked()
    try:
        yield
    finally:
        password = os.environ.get("HOSTAPP_KEYRING_PASSWORD", "hostapp-test").encode()
        session = open_session(connection)
        if session.encrypted:
            from cryptography.hazmat.primitives import padding
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

            iv = os.urandom(16)
            padder = padding.PKCS7(128).padder()
            encryptor = Cipher(algorithms.AES(session.aes_key), modes.CBC(iv)).encryptor()
            data = encryptor.update(padder.update(password) + padder.finalize()) + encryptor.finalize()
            secret = (session.object_path, iv, data, "text/plain")
        else:
            secret = (session.object_path, b"", password, "text/plain")
        # gnome-keyring's own unlock call: a headless session has no prompter for the standard one.
        address = DBusAddress(
            "/org/freedesktop/secrets",
            bus_name="org.freedesktop.secrets",
            interface="org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
        )
        connection.send_and_get_reply(
            new_method_call(address, "UnlockWithMasterPassword", "o(oayays)", (collection.collection_path, secret))
        )
        assert not collection.is_locked()
        connection.close()
