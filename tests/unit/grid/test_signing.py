"""Request signing: what verifies, and every way a request is refused."""

from __future__ import annotations

import pytest

from hostapp.grid.signing import (
    HEADER_NODE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MemoryNonceStore,
    SignatureRejected,
    canonical_query,
    sign_request,
    verify_request,
)
from tests.support import FreshKeystore

NOW = 1_700_000_000.0


KeypairSigner = FreshKeystore  # the wallet's own signer, over a fresh key


def _signed(signer: KeypairSigner, body: bytes = b'{"a":1}', query: str = "wait=5&free=x") -> dict[str, str]:
    return sign_request(signer, "POST", "/v1/node/lease", query, body, now=NOW)


def _verify(headers: dict[str, str], nonces: MemoryNonceStore, body: bytes = b'{"a":1}', **kw: object) -> str:
    query = str(kw.pop("query", "wait=5&free=x"))
    method = str(kw.pop("method", "POST"))
    path = str(kw.pop("path", "/v1/node/lease"))
    now = float(kw.pop("now", NOW))  # type: ignore[arg-type]
    return verify_request(headers, method, path, query, body, nonces, now=now).node


def test_valid_request_verifies_and_names_the_node() -> None:
    signer = KeypairSigner()
    assert _verify(_signed(signer), MemoryNonceStore()) == signer.pubkey


def test_query_order_does_not_matter() -> None:
    signer = KeypairSigner()
    headers = _signed(signer, query="b=2&a=1")
    assert _verify(headers, MemoryNonceStore(), query="a=1&b=2") == signer.pubkey
    assert canonical_query("b=2&a=1&a=0") == "a=0&a=1&b=2"


def test_replayed_nonce_is_rejected() -> None:
    nonces = MemoryNonceStore()
    headers = _signed(KeypairSigner())
    _verify(headers, nonces)
    with pytest.raises(SignatureRejected) as info:
        _verify(headers, nonces)
    assert info.value.reason == "replayed"


@pytest.mark.parametrize(
    ("change", "value"),
    [("body", b'{"a":2}'), ("path", "/v1/node/credits"), ("method", "GET"), ("query", "wait=6&free=x")],
)
def test_tampered_request_is_rejected(change: str, value: object) -> None:
    headers = _signed(KeypairSigner())
    kwargs: dict[str, object] = {change: value}
    body = kwargs.pop("body", b'{"a":1}')
    with pytest.raises(SignatureRejected) as info:
        _verify(headers, MemoryNonceStore(), body=body, **kwargs)  # type: ignore[arg-type]
    assert info.value.reason == "bad_signature"


def test_signature_by_another_key_is_rejected() -> None:
    victim, forger = KeypairSigner(), KeypairSigner()
    headers = _signed(forger)
    headers[HEADER_NODE] = victim.pubkey
    with pytest.raises(SignatureRejected) as info:
        _verify(headers, MemoryNonceStore())
    assert info.value.reason == "bad_signature"


def test_forged_request_does_not_burn_the_nonce() -> None:
    signer = KeypairSigner()
    nonces = MemoryNonceStore()
    good = _signed(signer)
    forged = dict(good, **{HEADER_SIGNATURE: _signed(KeypairSigner())[HEADER_SIGNATURE]})
    with pytest.raises(SignatureRejected):
        _verify(forged, nonces)
    assert _verify(good, nonces) == signer.pubkey


@pytest.mark.parametrize("offset", [-61, 61, -3600])
def test_stale_or_future_timestamp_is_rejected(offset: int) -> None:
    headers = _signed(KeypairSigner())
    with pytest.raises(SignatureRejected) as info:
        _verify(headers, MemoryNonceStore(), now=NOW + offset)
    assert info.value.reason == "stale"


def test_timestamp_inside_window_is_accepted() -> None:
    assert _verify(_signed(KeypairSigner()), MemoryNonceStore(), now=NOW + 59)


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        (HEADER_NODE, "not-a-key", "bad_node"),
        (HEADER_TIMESTAMP, "yesterday", "bad_timestamp"),
        (HEADER_NONCE, "short", "bad_nonce"),
        (HEADER_NONCE, "x" * 20 + "\n", "bad_nonce"),
        (HEADER_SIGNATURE, "0OIl", "bad_signature"),
    ],
)
def test_malformed_headers_are_rejected(header: str, value: str, reason: str) -> None:
    headers = _signed(KeypairSigner())
    headers[header] = value
    with pytest.raises(SignatureRejected) as info:
        _verify(headers, MemoryNonceStore())
    assert info.value.reason == reason


def test_missing_header_is_rejected() -> None:
    headers = _signed(KeypairSigner())
    del headers[HEADER_SIGNATURE]
    with pytest.raises(SignatureRejected) as info:
        _verify(headers, MemoryNonceStore())
    assert info.value.reason == "missing_header"


def test_each_signing_uses_a_fresh_nonce() -> None:
    signer = KeypairSigner()
    assert _signed(signer)[HEADER_NONCE] != _signed(signer)[HEADER_NONCE]
