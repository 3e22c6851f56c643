"""Key sources: published derivation vectors, and one clear line for every kind of bad input."""

from __future__ import annotations

import json

import pytest
from solders.keypair import Keypair

from hostapp.wallet import seed
from hostapp.wallet.amounts import format_units, parse_units
from hostapp.wallet.base58 import b58decode, b58encode

ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
# Published addresses for the standard BIP39 test mnemonic (no BIP39 passphrase), found independently
# in several public wallets' test suites: Phantom/Solflare path m/44'/501'/0'/0' (e.g. web3.js
# `Keypair.fromSeed(derivePath("m/44'/501'/0'/0'", seed))` tests, multi-chain wallet vectors), and the
# solana-keygen no-path variant, `Keypair.fromSeed(bip39.mnemonicToSeedSync(phrase).slice(0, 32))`.
PHANTOM_ADDRESS = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"
KEYGEN_NO_PATH_ADDRESS = "EHqmfkN89RJ7Y33CXM6uCzhVeuywHoJXZZLszBHHZy7o"


def test_phantom_path_vector() -> None:
    assert seed.from_mnemonic(ABANDON).pubkey == PHANTOM_ADDRESS
    assert seed.from_mnemonic(ABANDON, path="m/44'/501'/0'/0'").pubkey == PHANTOM_ADDRESS


def test_keygen_no_path_vector() -> None:
    assert seed.from_mnemonic(ABANDON, path="keygen").pubkey == KEYGEN_NO_PATH_ADDRESS


def test_bip39_passphrase_and_other_account_change_the_address() -> None:
    assert seed.from_mnemonic(ABANDON, bip39_passphrase="TREZOR").pubkey != PHANTOM_ADDRESS
    assert seed.from_mnemonic(ABANDON, path="m/44'/501'/1'/0'").pubkey != PHANTOM_ADDRESS


def test_phrase_is_normalized() -> None:
    messy = "  " + ABANDON.upper().replace(" ", "   \n") + " "
    assert seed.from_mnemonic(messy).pubkey == PHANTOM_ADDRESS


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        (ABANDON.replace("about", "abandon"), "checksum does not match"),
        (ABANDON.replace("about", "abuot"), "word 12 ('abuot') is not in the BIP39"),
        (ABANDON + " abandon", "this one has 13"),
        ("", "this one has 0"),
    ],
)
def test_bad_phrases_say_what_is_wrong(phrase: str, expected: str) -> None:
    with pytest.raises(seed.KeyInputError, match=expected.replace("(", r"\(").replace(")", r"\)")) as info:
        seed.from_mnemonic(phrase)
    assert "\n" not in str(info.value)


def test_bad_path() -> None:
    with pytest.raises(seed.KeyInputError, match="not supported"):
        seed.from_mnemonic(ABANDON, path="m/44'/60'/0'/0/0")
    with pytest.raises(seed.KeyInputError, match="hardened"):
        seed.from_mnemonic(ABANDON, path="m/44'/501'/0/0")


def test_generated_phrases_round_trip() -> None:
    for words in (12, 24):
        phrase = seed.generate_mnemonic(words)
        assert len(phrase.split()) == words
        assert seed.normalize_mnemonic(phrase) == phrase
    with pytest.raises(seed.KeyInputError):
        seed.generate_mnemonic(13)


def test_keygen_json_import_matches_keypair() -> None:
    keypair = Keypair()
    material = seed.from_keygen_json(json.dumps(list(bytes(keypair))))
    assert material.pubkey == str(keypair.pubkey())
    assert material.source == "keygen-json"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not json", "not JSON"),
        ('{"a": 1}', "not an array of byte values"),
        ("[1, 2, 300]", "not an array of byte values"),
        (json.dumps([1] * 32), "holds 32 bytes"),
        (json.dumps(list(bytes(Keypair()))[:32] + list(bytes(Keypair()))[32:][::-1]), "damaged"),
    ],
)
def test_keygen_json_wrong_shapes(text: str, expected: str) -> None:
    with pytest.raises(seed.KeyInputError, match=expected):
        seed.from_keygen_json(text)


def test_base58_secret_import() -> None:
    keypair = Keypair()
    assert seed.from_base58_secret(str(keypair) + "\n").pubkey == str(keypair.pubkey())
    with pytest.raises(seed.KeyInputError, match="not base58"):
        seed.from_base58_secret("0OIl")
    with pytest.raises(seed.KeyInputError, match="32 bytes; a Solana private key has 64"):
        seed.from_base58_secret(str(keypair.pubkey()))


def test_validate_address() -> None:
    from spl.token.instructions import get_associated_token_address

    assert seed.validate_address(f" {PHANTOM_ADDRESS} ") == PHANTOM_ADDRESS
    with pytest.raises(seed.KeyInputError, match="not 32"):
        seed.validate_address("abc")
    with pytest.raises(seed.KeyInputError, match="not a base58 character"):
        seed.validate_address("0" * 44)
    pda = get_associated_token_address(Keypair().pubkey(), Keypair().pubkey())  # off the ed25519 curve
    with pytest.raises(seed.KeyInputError, match="program-derived"):
        seed.validate_address(str(pda))


def test_key_material_never_shows_its_secret() -> None:
    material = seed.from_mnemonic(ABANDON)
    assert "abandon" not in repr(material)
    assert b58encode(material.secret) not in repr(material)


def test_base58_round_trip() -> None:
    for data in (b"", b"\0\0\1", bytes(range(64))):
        assert b58decode(b58encode(data)) == data


def test_amounts_are_exact_integers() -> None:
    assert parse_units("1.5", 9) == 1_500_000_000
    assert parse_units("0.000000001", 9) == 1
    assert format_units(1_500_000_000, 9) == "1.5"
    assert format_units(5, 6) == "0.000005"
    assert format_units(0, 6) == "0"
    for bad, message in (("1.0000000001", "decimal places"), ("-1", "positive"), ("x", "not a number")):
        with pytest.raises(ValueError, match=message):
            parse_units(bad, 9)
