"""`hostapp wallet create | import | show | export | balance | history | withdraw | set-payout-address`.

Secrets never come from argv (visible to other users in `ps`): seed phrases and base58 keys are
read from stdin or a prompt, keygen keys from a file, passphrases from the environment or a prompt.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hostapp.wallet.service import WalletService

PASSPHRASE_ENV = "HOSTAPP_WALLET_PASSPHRASE"  # noqa: S105 (a variable name); encrypts the key file when no secure keyring exists
BIP39_PASSPHRASE_ENV = "HOSTAPP_BIP39_PASSPHRASE"  # noqa: S105 (a variable name); the optional "25th word" of an imported phrase


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("wallet", help="the node's Solana wallet")
    wsub = parser.add_subparsers(dest="wallet_command", metavar="ACTION", required=True)

    create = wsub.add_parser("create", help="create a new wallet (BIP39 seed phrase) and confirm its backup")
    create.add_argument("--words", type=int, choices=(12, 24), default=12)
    create.add_argument("--confirm-words", metavar="N:WORD,...", help="confirm the backup of a new wallet")
    create.add_argument(
        "--yes-i-wrote-it-down", action="store_true", help="skip the backup check (scripts that keep the phrase)"
    )
    create.add_argument("--replace", action="store_true", help="replace an existing wallet")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=run_create)

    imp = wsub.add_parser("import", help="import a seed phrase, solana-keygen JSON file or base58 private key")
    source = imp.add_mutually_exclusive_group()
    source.add_argument("--words-from-stdin", action="store_true", help="read the seed phrase from stdin")
    source.add_argument("--keygen-json", type=Path, metavar="FILE", help="a solana-keygen keypair file")
    source.add_argument("--base58-from-stdin", action="store_true", help="read a base58 private key from stdin")
    imp.add_argument(
        "--path",
        default="phantom",
        help="seed phrase derivation: phantom (m/44'/501'/0'/0', default), keygen (no path), or m/44'/501'/N'/0'",
    )
    imp.add_argument("--replace", action="store_true", help="replace an existing wallet")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=run_import)

    show = wsub.add_parser("show", help="the wallet address, where its key is kept, the payout address")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_show)

    export = wsub.add_parser("export", help="print or save the secret (seed phrase or keygen JSON)")
    export.add_argument("--format", choices=("mnemonic", "keygen-json"), default="mnemonic")
    export.add_argument("--out", type=Path, help="write to this file (0600) instead of stdout")
    export.add_argument("--yes", action="store_true", help="confirm: I want to see my secret")
    export.set_defaults(func=run_export)

    for name, helptext, func in (
        ("balance", "SOL and grid token balances", run_balance),
        ("history", "incoming payouts (token transfers) with their signatures", run_history),
    ):
        p = wsub.add_parser(name, help=helptext)
        _chain_args(p)
        p.add_argument("--address", help="another address than the wallet's (default: payout address for history)")
        if name == "history":
            p.add_argument("--limit", type=int, default=50)
        p.set_defaults(func=func)

    withdraw = wsub.add_parser("withdraw", help="send SOL or grid tokens to an address")
    amount = withdraw.add_mutually_exclusive_group(required=True)
    amount.add_argument("--sol", metavar="AMOUNT", help="SOL to send, e.g. 0.5")
    amount.add_argument("--token", metavar="AMOUNT", help="grid tokens to send, e.g. 12.25")
    withdraw.add_argument("--to", required=True, metavar="ADDRESS")
    withdraw.add_argument("--yes", action="store_true", help="send without asking (the fee is still printed)")
    _chain_args(withdraw)
    withdraw.set_defaults(func=run_withdraw)

    payout = wsub.add_parser("set-payout-address", help="send earnings to another address (e.g. a cold wallet)")
    target = payout.add_mutually_exclusive_group(required=True)
    target.add_argument("address", nargs="?")
    target.add_argument("--clear", action="store_true", help="pay the node key itself again")
    payout.set_defaults(func=run_set_payout)


def _chain_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rpc-url", help="Solana RPC URL (default: from settings, or the running local chain)")
    parser.add_argument("--mint", help="grid token mint (default: grid.token_mint, or the local chain's)")
    parser.add_argument("--json", action="store_true")


# -- helpers ---------------------------------------------------------------------------
def _service() -> WalletService:
    from hostapp.app import load_context
    from hostapp.logs import setup_logging
    from hostapp.wallet.service import WalletService

    context = load_context()
    setup_logging(context.paths.logs)
    return WalletService(context.paths, context.settings, passphrase=terminal_passphrase)


def terminal_passphrase(new: bool) -> str | None:
    """The wallet file's passphrase from $HOSTAPP_WALLET_PASSPHRASE or a terminal prompt (None: neither)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        return None
    import getpass

    first = getpass.getpass("Passphrase for the wallet key file: ")
    if new and getpass.getpass("Repeat the passphrase: ") != first:
        _fail("the passphrases differ")
    return first


def _fail(message: str, code: int = 1) -> Any:
    from hostapp.cli import CliError

    raise CliError(message, code)


def _guard(func: Any, *args: Any) -> Any:
    """Run a service call; its user errors become one-line CLI errors."""
    from hostapp.wallet.seed import KeyInputError
    from hostapp.wallet.service import WalletError

    try:
        return func(*args)
    except (WalletError, KeyInputError) as exc:
        return _fail(str(exc))


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _parse_confirm_words(text: str) -> dict[int, str]:
    answers: dict[int, str] = {}
    for item in text.split(","):
        position, sep, word = item.partition(":")
        if not sep or not position.strip().isdigit() or not word.strip():
            _fail(f"--confirm-words: {item.strip()!r} is not N:word (e.g. 3:apple,7:river,11:stone)", 2)
        answers[int(position)] = word.strip()
    return answers


# -- commands --------------------------------------------------------------------------
def run_create(args: argparse.Namespace) -> int:
    service = _service()
    if args.confirm_words:
        info = _guard(service.confirm_backup, _parse_confirm_words(args.confirm_words))
        print(f"backup confirmed; wallet {info.pubkey} is ready")
        return 0
    new = _guard(service.create, args.words, args.replace)
    if args.json:
        _print_json({"address": new.pubkey, "mnemonic": new.mnemonic, "confirm_positions": new.confirm_positions})
    else:
        print(f"Address: {new.pubkey}")
        print("Seed phrase (write it down, in order; anyone with it controls the wallet):")
        print(f"  {new.mnemonic}")
    if args.yes_i_wrote_it_down:
        _guard(service.skip_backup_confirmation)
        if not args.json:
            print("backup check skipped (--yes-i-wrote-it-down); wallet is ready")
        return 0
    if sys.stdin.isatty():
        import getpass

        for _attempt in range(3):
            answers = {p: getpass.getpass(f"Word {p}: ") for p in new.confirm_positions}
            try:
                service.confirm_backup(answers)
            except Exception as exc:  # WalletError: ask again
                print(f"hostapp: {exc}", file=sys.stderr)
                continue
            print("backup confirmed; wallet is ready")
            return 0
        _fail("backup not confirmed: run `hostapp wallet create --confirm-words N:word,...` when you have it")
    positions = ",".join(f"{p}:WORD" for p in new.confirm_positions)
    print(
        f"To finish, confirm your backup: hostapp wallet create --confirm-words '{positions}'",
        file=sys.stderr if args.json else sys.stdout,
    )
    return 0


def run_import(args: argparse.Namespace) -> int:
    from hostapp.wallet import seed

    service = _service()
    if args.keygen_json:
        try:
            text = args.keygen_json.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return int(_fail(f"cannot read {args.keygen_json}: {exc}"))
        material = _guard(seed.from_keygen_json, text)
    elif args.base58_from_stdin:
        material = _guard(seed.from_base58_secret, sys.stdin.readline())
    else:
        if args.words_from_stdin or not sys.stdin.isatty():
            phrase = sys.stdin.read()
        else:
            import getpass

            phrase = getpass.getpass("Seed phrase (12 or 24 words): ")
        material = _guard(seed.from_mnemonic, phrase, os.environ.get(BIP39_PASSPHRASE_ENV, ""), args.path)
    info = _guard(service.import_key, material, args.replace)
    if args.json:
        _print_json({"address": info.pubkey, "backend": info.backend, "source": info.source, "path": info.path})
    else:
        print(f"imported wallet {info.pubkey} ({info.source}); key kept in {info.backend}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from hostapp.wallet.secrets import ENCRYPTED_FILE

    service = _service()
    info = _guard(service.info)
    if info is None:
        return int(_fail("no wallet yet: run `hostapp wallet create` or `hostapp wallet import`"))
    if info.backend != ENCRYPTED_FILE:
        info = _guard(service.verify)  # proves the keyring still holds the key
    if args.json:
        _print_json(
            {
                "address": info.pubkey,
                "backend": info.backend,
                "source": info.source,
                "path": info.path,
                "backup_confirmed": info.backup_confirmed,
                "payout_address": info.payout_address,
            }
        )
        return 0
    print(f"Address:        {info.pubkey}")
    print(f"Key kept in:    {info.backend}")
    print(f"Source:         {info.source}" + (f" ({info.path})" if info.path else ""))
    print(f"Backup:         {'confirmed' if info.backup_confirmed else 'NOT confirmed (wallet not usable yet)'}")
    print(f"Payout address: {info.payout_address}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from hostapp.config.atomic import write_private

    if not args.yes:
        if not sys.stdin.isatty():
            return int(_fail("export reveals your secret: repeat with --yes to confirm", 2))
        if input("This shows your secret. Anyone who sees it controls the wallet. Type EXPORT: ") != "EXPORT":
            return int(_fail("export cancelled"))
    service = _service()
    secret = _guard(service.export, args.format)
    if args.out:
        if args.out.exists():
            return int(_fail(f"{args.out} exists: choose a new file name"))
        write_private(args.out, (secret + "\n").encode())
        print(f"written to {args.out} (readable by you only); keep it offline")
    else:
        print(secret)
    return 0


def run_balance(args: argparse.Namespace) -> int:
    from hostapp.wallet.amounts import SOL_DECIMALS, format_units

    service = _service()
    with _guard(service.chain_client, args.rpc_url) as client:
        balances = _guard(service.balances, client, args.address, args.mint)
    token = balances.token
    if args.json:
        _print_json(
            {
                "address": balances.address,
                "lamports": balances.sol,
                "token": None
                if token is None
                else {"mint": balances.mint, "amount": token.amount, "decimals": token.decimals},
            }
        )
        return 0
    print(f"Address: {balances.address}")
    print(f"SOL:     {format_units(balances.sol, SOL_DECIMALS)}")
    if token is not None:
        print(f"Token:   {format_units(token.amount, token.decimals)} ({balances.mint})")
    return 0


def run_history(args: argparse.Namespace) -> int:
    import datetime

    service = _service()
    with _guard(service.chain_client, args.rpc_url) as client:
        payouts = _guard(service.history, client, args.address, args.mint, args.limit)
    if args.json:
        _print_json(
            [
                {"signature": p.signature, "amount": p.amount, "block_time": p.block_time, "slot": p.slot}
                for p in payouts
            ]
        )
        return 0
    if not payouts:
        print("no payouts yet")
    from hostapp.wallet.amounts import format_units

    for p in payouts:
        when = (
            datetime.datetime.fromtimestamp(p.block_time).isoformat(sep=" ", timespec="seconds")
            if p.block_time
            else "?"
        )
        print(f"{when}  {format_units(p.amount, p.decimals):>16}  {p.signature}")
    return 0


def run_withdraw(args: argparse.Namespace) -> int:
    from hostapp.wallet.amounts import SOL_DECIMALS, parse_units

    service = _service()
    with _guard(service.chain_client, args.rpc_url) as client:
        if args.sol is not None:
            asset, text, decimals = "SOL", args.sol, SOL_DECIMALS
        else:
            mint = service.token_mint(args.mint)
            if mint is None:
                return int(_fail("no grid token mint configured (grid.token_mint): pass --mint"))
            asset, text = "token", args.token
            decimals = _guard(service.balances, client, None, mint).token.decimals
        try:
            amount = parse_units(text, decimals)
        except ValueError as exc:
            return int(_fail(f"amount: {exc}", 2))
        plan = _guard(service.plan_withdrawal, client, asset, args.to, amount, args.mint)
        print(plan.describe(), file=sys.stderr if args.json else sys.stdout)
        if not args.yes:
            if not sys.stdin.isatty():
                return int(_fail("withdraw needs confirmation: repeat with --yes", 2))
            if input("Send? [y/N] ").strip().lower() not in ("y", "yes"):
                return int(_fail("withdrawal cancelled"))
        signature = _guard(service.send_withdrawal, client, plan)
    if args.json:
        _print_json({"signature": signature, "amount": plan.amount, "fee": plan.fee, "to": plan.destination})
    else:
        print(f"sent: {signature}")
    return 0


def run_set_payout(args: argparse.Namespace) -> int:
    service = _service()
    address = _guard(service.set_payout_address, None if args.clear else args.address)
    print(f"earnings will be paid to {address}")
    return 0
