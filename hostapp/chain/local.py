"""`LocalChain`: the embedded grid's Solana chain, with a test token mint and a treasury that pays.

State (accounts, history, the chain's own keys) lives in `state_dir/chain.sqlite3`. These keys are
a local test chain's, worth nothing, hence kept there in the clear; the user's wallet key never is.
While running, `state_dir/endpoint.json` tells other processes (the CLI) the RPC URL and mint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import VersionedTransaction

from hostapp.chain.payouts import MEMO_PROGRAM, PreparedPayout
from hostapp.config.atomic import write_private
from hostapp.config.paths import AppPaths

if TYPE_CHECKING:  # LiteSVM is loaded by start(): the wallet reads read_endpoint() without it
    from hostapp.chain.runtime import ChainRuntime

TOKEN_DECIMALS = 6
TREASURY_TOKENS = 10**15  # base units minted to the treasury at genesis
FAUCET_LAMPORTS = 10**17
TREASURY_LAMPORTS = 1_000 * 10**9
ENDPOINT_FILE = "endpoint.json"


def default_state_dir(paths: AppPaths) -> Path:
    """Where the embedded grid keeps its chain, so the CLI can find the running endpoint."""
    return paths.data / "local-chain"


def read_endpoint(state_dir: Path) -> dict[str, Any] | None:
    """{"rpc_url", "mint", "pid"} of a running local chain, or None."""
    try:
        raw = json.loads((state_dir / ENDPOINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) and "rpc_url" in raw else None


class LocalChain:
    def __init__(self, state_dir: Path, decimals: int = TOKEN_DECIMALS) -> None:
        self.state_dir = state_dir
        self._decimals = decimals
        self._runtime: ChainRuntime | None = None
        self._server: Any = None
        self._faucet: Keypair | None = None
        self._treasury: Keypair | None = None
        self._mint: Pubkey | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> str:
        """Load or create the chain, serve JSON-RPC on 127.0.0.1; returns the RPC URL."""
        from hostapp.chain.rpc import SolanaRpc
        from hostapp.chain.runtime import ChainRuntime
        from hostapp.localgrid.loopback import LoopbackServer

        if self._server is not None:
            return str(self._server.url)
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._runtime = ChainRuntime(self.state_dir / "chain.sqlite3")
        if self._runtime.get_meta("mint") is None:
            self._genesis()
        self._load_keys()
        self._server = LoopbackServer(
            _asgi_app(SolanaRpc(self._runtime, self.airdrop)), "local-chain-rpc", lifespan="off"
        )
        self._server.start()
        write_private(
            self.state_dir / ENDPOINT_FILE,
            json.dumps({"rpc_url": self._server.url, "mint": self.mint, "pid": os.getpid()}).encode(),
        )
        return str(self._server.url)

    def stop(self) -> None:
        if self._server is not None:
            (self.state_dir / ENDPOINT_FILE).unlink(missing_ok=True)
            self._server.stop()
            self._server = None
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    def __enter__(self) -> LocalChain:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- API for the grid --------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def rpc_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local chain is not started")
        return str(self._server.url)

    @property
    def mint(self) -> str:
        return str(self._need(self._mint))

    @property
    def treasury(self) -> str:
        return str(self._need(self._treasury).pubkey())

    @property
    def decimals(self) -> int:
        return self._decimals

    def pay(self, owner: str, amount: int, memo: str | None = None) -> str:
        """SPL transfer of `amount` base units from the treasury to `owner`'s associated token account."""
        return self.send_payout(self.prepare_payout(owner, amount, memo))

    def prepare_payout(self, owner: str, amount: int, memo: str | None = None) -> PreparedPayout:
        """The payout transaction, signed but not sent. `memo` (e.g. the job and attempt it pays) goes
        on chain with it, so two payouts of the same amount to the same owner are never the same
        transaction; the node checks it before calling a row paid."""
        from solders.instruction import Instruction
        from spl.token.instructions import (
            create_idempotent_associated_token_account,
            get_associated_token_address,
            transfer_checked,
        )
        from spl.token.models import TransferCheckedParams

        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError(f"payout amount must be a positive integer of base units, not {amount!r}")
        treasury, mint = self._need(self._treasury), self._need(self._mint)
        owner_key = Pubkey.from_string(owner)
        instructions = [
            create_idempotent_associated_token_account(treasury.pubkey(), owner_key, mint),
            transfer_checked(
                TransferCheckedParams(
                    program_id=_token_program(),
                    source=get_associated_token_address(treasury.pubkey(), mint),
                    mint=mint,
                    dest=get_associated_token_address(owner_key, mint),
                    owner=treasury.pubkey(),
                    amount=amount,
                    decimals=self._decimals,
                )
            ),
        ]
        if memo:
            instructions.append(Instruction(Pubkey.from_string(MEMO_PROGRAM), memo.encode("utf-8"), []))
        raw = self._rt().sign(instructions, treasury)
        return PreparedPayout(str(VersionedTransaction.from_bytes(raw).signatures[0]), raw)

    def send_payout(self, payout: PreparedPayout) -> str:
        """Sends a prepared payout; one that already landed is not an error (same transaction, paid once)."""
        from hostapp.chain.runtime import TransactionRejected

        try:
            return self._rt().execute(payout.raw)
        except TransactionRejected as exc:
            if exc.err == "AlreadyProcessed":
                return payout.signature
            raise

    def payout_landed(self, signature: str) -> bool:
        """Whether a transaction with this signature is on chain. This chain commits synchronously, so a
        payout that is not here now never will be unless it is sent again (only the grid holds it)."""
        return self._rt().transaction(signature) is not None

    def airdrop(self, pubkey: str, lamports: int) -> str:
        """SOL from the chain's faucet, as a recorded transfer (visible in history like on devnet)."""
        faucet = self._need(self._faucet)
        instruction = transfer(
            TransferParams(from_pubkey=faucet.pubkey(), to_pubkey=Pubkey.from_string(pubkey), lamports=lamports)
        )
        return self._rt().sign_and_execute([instruction], faucet)

    def load_account(self, pubkey: str, data: bytes, owner: str) -> None:
        """Place a rent-exempt account with this data (state of a program not deployed here, for tests)."""
        self._rt().load_account(pubkey, data, owner)

    def token_balance(self, owner: str) -> int:
        """The owner's balance of the grid token in base units (0 without an account)."""
        from hostapp.chain.token_layout import parse_token_account

        total = 0
        for _pubkey, account in self._rt().token_accounts():
            parsed = parse_token_account(bytes(account.data))
            if parsed is not None and parsed.owner == owner and parsed.mint == self.mint:
                total += parsed.amount
        return total

    def sol_balance(self, pubkey: str) -> int:
        return self._rt().balance(pubkey)

    # -- internals ---------------------------------------------------------------------
    def _rt(self) -> ChainRuntime:
        if self._runtime is None:
            raise RuntimeError("the local chain is not started")
        return self._runtime

    @staticmethod
    def _need(value: Any) -> Any:
        if value is None:
            raise RuntimeError("the local chain is not started")
        return value

    def _load_keys(self) -> None:
        runtime = self._rt()
        self._faucet = Keypair.from_base58_string(str(runtime.get_meta("faucet")))
        self._treasury = Keypair.from_base58_string(str(runtime.get_meta("treasury")))
        self._mint = Pubkey.from_string(str(runtime.get_meta("mint")))
        self._decimals = int(runtime.get_meta("decimals") or self._decimals)

    def _genesis(self) -> None:
        from spl.token.instructions import (
            create_idempotent_associated_token_account,
            get_associated_token_address,
            initialize_mint,
            mint_to,
        )
        from spl.token.models import InitializeMintParams, MintToParams

        runtime = self._rt()
        faucet, treasury, mint = Keypair(), Keypair(), Keypair()
        token_program = _token_program()
        runtime.fund(str(faucet.pubkey()), FAUCET_LAMPORTS)
        runtime.sign_and_execute(
            [
                transfer(
                    TransferParams(from_pubkey=faucet.pubkey(), to_pubkey=treasury.pubkey(), lamports=TREASURY_LAMPORTS)
                )
            ],
            faucet,
        )
        runtime.sign_and_execute(
            [
                create_account(
                    CreateAccountParams(
                        from_pubkey=treasury.pubkey(),
                        to_pubkey=mint.pubkey(),
                        lamports=runtime.rent_exempt_minimum(82),
                        space=82,
                        owner=token_program,
                    )
                ),
                initialize_mint(
                    InitializeMintParams(
                        decimals=self._decimals,
                        program_id=token_program,
                        mint=mint.pubkey(),
                        mint_authority=treasury.pubkey(),
                    )
                ),
                create_idempotent_associated_token_account(treasury.pubkey(), treasury.pubkey(), mint.pubkey()),
                mint_to(
                    MintToParams(
                        program_id=token_program,
                        mint=mint.pubkey(),
                        dest=get_associated_token_address(treasury.pubkey(), mint.pubkey()),
                        mint_authority=treasury.pubkey(),
                        amount=TREASURY_TOKENS,
                    )
                ),
            ],
            treasury,
            mint,
        )
        runtime.set_meta("faucet", str(faucet))
        runtime.set_meta("treasury", str(treasury))
        runtime.set_meta("decimals", str(self._decimals))
        runtime.set_meta("mint", str(mint.pubkey()))  # last: its presence means genesis completed


def _token_program() -> Pubkey:
    from spl.token.constants import TOKEN_PROGRAM_ID

    return TOKEN_PROGRAM_ID


def _asgi_app(rpc: Any) -> Any:
    # Plain Starlette: one POST route needs no schema machinery.
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def json_rpc(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(await run_in_threadpool(rpc.handle, body))

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/", json_rpc, methods=["POST"]), Route("/health", health)])
