"""The Solana JSON-RPC methods the wallet and grid use, answered from a ChainRuntime.

Shapes follow https://solana.com/docs/rpc so solana-py's AsyncClient parses them unchanged.
Every commitment level answers the same: a local chain finalizes on commit.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

from solders.message import from_bytes_versioned

from hostapp.chain.runtime import LAMPORTS_PER_SIGNATURE, ChainRuntime, TransactionRejected
from hostapp.chain.store import StoredTransaction
from hostapp.chain.token_layout import TOKEN_PROGRAM, parse_token_account, parsed_token_data, ui_token_amount
from hostapp.wallet.base58 import b58decode, b58encode

log = logging.getLogger(__name__)

INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32600, -32601, -32602, -32603
TX_SIMULATION_FAILED = -32002
VERSION = {"solana-core": "2.2.0", "feature-set": 0}


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


Airdrop = Callable[[str, int], str]


class SolanaRpc:
    def __init__(self, runtime: ChainRuntime, airdrop: Airdrop) -> None:
        self._rt = runtime
        self._airdrop = airdrop
        self._methods: dict[str, Callable[[list[Any]], Any]] = {
            "getBalance": self.get_balance,
            "getAccountInfo": self.get_account_info,
            "getMultipleAccounts": self.get_multiple_accounts,
            "getLatestBlockhash": self.get_latest_blockhash,
            "isBlockhashValid": self.is_blockhash_valid,
            "sendTransaction": self.send_transaction,
            "simulateTransaction": self.simulate_transaction,
            "getSignatureStatuses": self.get_signature_statuses,
            "getTokenAccountsByOwner": self.get_token_accounts_by_owner,
            "getTokenAccountBalance": self.get_token_account_balance,
            "getProgramAccounts": self.get_program_accounts,
            "getSignaturesForAddress": self.get_signatures_for_address,
            "getTransaction": self.get_transaction,
            "requestAirdrop": self.request_airdrop,
            "getMinimumBalanceForRentExemption": self.get_minimum_balance_for_rent_exemption,
            "getFeeForMessage": self.get_fee_for_message,
            "getHealth": lambda _p: "ok",
            "getVersion": lambda _p: VERSION,
            "getSlot": lambda _p: self._rt.slot,
            "getBlockHeight": lambda _p: self._rt.slot,
        }

    # -- dispatch ----------------------------------------------------------------------
    def handle(self, body: bytes) -> Any:
        """A JSON-RPC 2.0 request or batch -> the response object(s)."""
        try:
            request = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(None, -32700, "Parse error")
        if isinstance(request, list):
            if not request:
                return _error(None, INVALID_REQUEST, "Invalid request: empty batch")
            return [self._one(r) for r in request]
        return self._one(request)

    def _one(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, INVALID_REQUEST, "Invalid request")
        rid = request.get("id")
        method = self._methods.get(request["method"])
        if method is None:
            return _error(rid, METHOD_NOT_FOUND, f"Method not found: {request['method']}")
        params = request.get("params", [])
        if not isinstance(params, list):
            return _error(rid, INVALID_PARAMS, "Invalid params: expected an array")
        try:
            return {"jsonrpc": "2.0", "result": method(params), "id": rid}
        except RpcError as exc:
            return _error(rid, exc.code, str(exc), exc.data)
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            return _error(rid, INVALID_PARAMS, f"Invalid params: {exc}")
        except Exception:
            log.exception("local chain RPC %s failed", request["method"])
            return _error(rid, INTERNAL_ERROR, "Internal error")

    def _context(self, value: Any) -> dict[str, Any]:
        return {"context": {"slot": self._rt.slot, "apiVersion": VERSION["solana-core"]}, "value": value}

    # -- accounts ----------------------------------------------------------------------
    def get_balance(self, params: list[Any]) -> Any:
        return self._context(self._rt.balance(_pubkey(params, 0)))

    def _account_json(self, pubkey: str, encoding: str) -> dict[str, Any] | None:
        account = self._rt.account(pubkey)
        if account is None:
            return None
        raw = bytes(account.data)
        data: Any = None
        if encoding == "jsonParsed" and str(account.owner) == TOKEN_PROGRAM:
            token = parse_token_account(raw)
            decimals = {token.mint: self._rt.decimals_of(token.mint)} if token else {}
            data = parsed_token_data(raw, decimals)
        if data is None:
            if encoding == "base58":
                data = [b58encode(raw), "base58"]
            elif encoding in ("base64", "jsonParsed"):
                data = [base64.b64encode(raw).decode(), "base64"]
            else:
                raise RpcError(INVALID_PARAMS, f"Invalid params: unsupported encoding {encoding}")
        return {
            "data": data,
            "executable": bool(account.executable),
            "lamports": int(account.lamports),
            "owner": str(account.owner),
            "rentEpoch": int(account.rent_epoch),
            "space": len(raw),
        }

    def get_account_info(self, params: list[Any]) -> Any:
        return self._context(self._account_json(_pubkey(params, 0), _config(params, 1).get("encoding", "base58")))

    def get_multiple_accounts(self, params: list[Any]) -> Any:
        encoding = _config(params, 1).get("encoding", "base64")
        return self._context([self._account_json(_checked_pubkey(k), encoding) for k in params[0]])

    def get_token_accounts_by_owner(self, params: list[Any]) -> Any:
        owner = _pubkey(params, 0)
        selector = _config(params, 1)
        encoding = _config(params, 2).get("encoding", "base64")
        if "mint" in selector:
            want_mint: str | None = _checked_pubkey(selector["mint"])
        elif "programId" in selector:
            if selector["programId"] != TOKEN_PROGRAM:
                return self._context([])
            want_mint = None
        else:
            raise RpcError(INVALID_PARAMS, "Invalid params: expected {mint} or {programId}")
        found = []
        for pubkey, account in self._rt.token_accounts():
            parsed = parse_token_account(bytes(account.data))
            if parsed is None or parsed.owner != owner or (want_mint and parsed.mint != want_mint):
                continue
            found.append({"pubkey": pubkey, "account": self._account_json(pubkey, encoding)})
        return self._context(found)

    def get_program_accounts(self, params: list[Any]) -> Any:
        """Accounts owned by a program, narrowed by `dataSize` and `memcmp` filters (all must match)."""
        owner = _pubkey(params, 0)
        config = _config(params, 1)
        encoding = config.get("encoding", "base64")
        filters = [_account_filter(f) for f in config.get("filters") or []]
        found = []
        for pubkey, account in self._rt.program_accounts(owner):
            raw = bytes(account.data)
            if all(match(raw) for match in filters):
                found.append({"pubkey": pubkey, "account": self._account_json(pubkey, encoding)})
        return self._context(found) if config.get("withContext") else found

    def get_token_account_balance(self, params: list[Any]) -> Any:
        pubkey = _pubkey(params, 0)
        account = self._rt.account(pubkey)
        parsed = parse_token_account(bytes(account.data)) if account is not None else None
        if account is None or str(account.owner) != TOKEN_PROGRAM or parsed is None:
            raise RpcError(INVALID_PARAMS, "Invalid param: not a Token account")
        return self._context(ui_token_amount(parsed.amount, self._rt.decimals_of(parsed.mint)))

    def get_minimum_balance_for_rent_exemption(self, params: list[Any]) -> Any:
        size = int(params[0])
        if size < 0 or size > 10 * 1024 * 1024:
            raise RpcError(INVALID_PARAMS, "Invalid params: size out of range")
        return self._rt.rent_exempt_minimum(size)

    # -- blockhash, fees ---------------------------------------------------------------
    def get_latest_blockhash(self, params: list[Any]) -> Any:
        blockhash, last_valid = self._rt.latest_blockhash()
        return self._context({"blockhash": blockhash, "lastValidBlockHeight": last_valid})

    def is_blockhash_valid(self, params: list[Any]) -> Any:
        return self._context(self._rt.blockhash_valid(str(params[0])))

    def get_fee_for_message(self, params: list[Any]) -> Any:
        message = from_bytes_versioned(base64.b64decode(params[0]))
        return self._context(LAMPORTS_PER_SIGNATURE * message.header.num_required_signatures)

    # -- transactions ------------------------------------------------------------------
    def send_transaction(self, params: list[Any]) -> Any:
        raw = _decode_tx(params)
        try:
            return self._rt.execute(raw)
        except TransactionRejected as exc:
            raise RpcError(
                TX_SIMULATION_FAILED,
                str(exc),
                {
                    "err": exc.err,
                    "logs": exc.logs,
                    "accounts": None,
                    "unitsConsumed": exc.units,
                    "returnData": None,
                    "innerInstructions": None,
                },
            ) from None

    def simulate_transaction(self, params: list[Any]) -> Any:
        result = self._rt.simulate(_decode_tx(params))
        return self._context(
            {
                "err": result.err,
                "logs": result.logs,
                "accounts": None,
                "unitsConsumed": result.units,
                "returnData": None,
            }
        )

    def get_signature_statuses(self, params: list[Any]) -> Any:
        signatures = params[0]
        if not isinstance(signatures, list) or len(signatures) > 256:
            raise RpcError(INVALID_PARAMS, "Invalid params: expected up to 256 signatures")
        statuses: list[dict[str, Any] | None] = []
        for signature in signatures:
            stored = self._rt.transaction(str(signature))
            if stored is None:
                statuses.append(None)
                continue
            err = None if stored.err is None else json.loads(stored.err)
            statuses.append(
                {
                    "slot": stored.slot,
                    "confirmations": None,
                    "err": err,
                    "status": {"Ok": None} if err is None else {"Err": err},
                    "confirmationStatus": "finalized",
                }
            )
        return self._context(statuses)

    def get_signatures_for_address(self, params: list[Any]) -> Any:
        address = _pubkey(params, 0)
        config = _config(params, 1)
        limit = int(config.get("limit") or 1000)
        if not 1 <= limit <= 1000:
            raise RpcError(INVALID_PARAMS, "Invalid params: limit must be 1..1000")
        rows = self._rt.signatures_for(address, limit, config.get("before"), config.get("until"))
        return [
            {
                "signature": t.signature,
                "slot": t.slot,
                "err": None if t.err is None else json.loads(t.err),
                "memo": None,
                "blockTime": t.block_time,
                "confirmationStatus": "finalized",
            }
            for t in rows
        ]

    def get_transaction(self, params: list[Any]) -> Any:
        config = _config(params, 1)
        stored = self._rt.transaction(str(params[0]))
        if stored is None or not stored.raw:
            return None
        encoding = config.get("encoding", "json")
        result: dict[str, Any] = {
            "slot": stored.slot,
            "blockTime": stored.block_time,
            "meta": json.loads(stored.meta),
            "transaction": _encode_tx(stored, encoding),
        }
        if config.get("maxSupportedTransactionVersion") is not None:
            result["version"] = "legacy"
        return result

    def request_airdrop(self, params: list[Any]) -> Any:
        pubkey, lamports = _pubkey(params, 0), int(params[1])
        if lamports <= 0:
            raise RpcError(INVALID_PARAMS, "Invalid params: lamports must be positive")
        try:
            return self._airdrop(pubkey, lamports)
        except TransactionRejected as exc:
            raise RpcError(INTERNAL_ERROR, f"airdrop failed: {exc}") from None


def _error(rid: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": rid}


def _config(params: list[Any], index: int) -> dict[str, Any]:
    value = params[index] if len(params) > index else None
    return dict(value) if isinstance(value, dict) else {}


def _account_filter(spec: Any) -> Callable[[bytes], bool]:
    """One getProgramAccounts filter: {"dataSize": n} or {"memcmp": {"offset", "bytes", "encoding"}}."""
    if isinstance(spec, dict) and isinstance(spec.get("dataSize"), int):
        size = spec["dataSize"]
        return lambda raw: len(raw) == size
    memcmp = spec.get("memcmp") if isinstance(spec, dict) else None
    if not isinstance(memcmp, dict) or not isinstance(memcmp.get("offset"), int) or memcmp["offset"] < 0:
        raise RpcError(INVALID_PARAMS, "Invalid params: a filter is {dataSize: n} or {memcmp: {offset, bytes}}")
    offset, text = memcmp["offset"], memcmp.get("bytes")
    if not isinstance(text, str):
        raise RpcError(INVALID_PARAMS, "Invalid params: memcmp.bytes must be a string")
    encoding = memcmp.get("encoding", "base58")
    if encoding not in ("base58", "base64"):
        raise RpcError(INVALID_PARAMS, f"Invalid params: unsupported memcmp encoding {encoding}")
    try:
        wanted = base64.b64decode(text, validate=True) if encoding == "base64" else b58decode(text)
    except ValueError as exc:
        raise RpcError(INVALID_PARAMS, f"Invalid params: memcmp.bytes: {exc}") from None
    return lambda raw: raw[offset : offset + len(wanted)] == wanted


def _checked_pubkey(value: Any) -> str:
    if not isinstance(value, str):
        raise RpcError(INVALID_PARAMS, "Invalid param: expected a base58 pubkey")
    try:
        raw = b58decode(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise RpcError(INVALID_PARAMS, f"Invalid param: Invalid pubkey {value!r}")
    return value


def _pubkey(params: list[Any], index: int) -> str:
    if len(params) <= index:
        raise RpcError(INVALID_PARAMS, "Invalid params: missing pubkey")
    return _checked_pubkey(params[index])


def _decode_tx(params: list[Any]) -> bytes:
    encoded = params[0]
    if not isinstance(encoded, str):
        raise RpcError(INVALID_PARAMS, "Invalid params: expected an encoded transaction")
    encoding = _config(params, 1).get("encoding", "base58")
    try:
        return base64.b64decode(encoded, validate=True) if encoding == "base64" else b58decode(encoded)
    except ValueError as exc:
        raise RpcError(INVALID_PARAMS, f"Invalid params: transaction is not {encoding}: {exc}") from None


def _encode_tx(stored: StoredTransaction, encoding: str) -> Any:
    if encoding == "base64":
        return [base64.b64encode(stored.raw).decode(), "base64"]
    if encoding == "base58":
        return [b58encode(stored.raw), "base58"]
    if encoding != "json":
        raise RpcError(INVALID_PARAMS, f"Invalid params: unsupported encoding {encoding}")
    from solders.transaction import VersionedTransaction

    tx = VersionedTransaction.from_bytes(stored.raw)
    message = tx.message
    header = message.header
    return {
        "signatures": [str(s) for s in tx.signatures],
        "message": {
            "accountKeys": [str(k) for k in message.account_keys],
            "header": {
                "numRequiredSignatures": header.num_required_signatures,
                "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
                "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
            },
            "recentBlockhash": str(message.recent_blockhash),
            "instructions": [
                {
                    "programIdIndex": ix.program_id_index,
                    "accounts": list(ix.accounts),
                    "data": b58encode(bytes(ix.data)),
                    "stackHeight": None,
                }
                for ix in message.instructions
            ],
        },
    }
