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

from hostapp.wallet.backends import place_name

if TYPE_CHECKING:
    from hostapp.earnings.pricing import PriceSource
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
    """The wallet file's passphrase from $HOSTAPP_WALLET_PASSPHRASE or a terminal prompt (None: neither).

    A new one is asked once plus a repeat, again (with the reason) when too short or different."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        return None
    from hostapp.wallet.secrets import MIN_PASSPHRASE_CHARS

    if not new:
        return read_terminal_line("Passphrase for the wallet key file: ", hidden=True)
    from hostapp.wallet.backends import secure_backend

    # Asked only when no secure keyring was found (SecretStore.save): say why, and how to get one.
    print(explain_missing_keyring(secure_backend()[1]), file=sys.stderr)
    while True:  # Ctrl-C leaves: nothing is stored before a passphrase is chosen
        first = read_terminal_line(
            f"Choose a passphrase for the wallet key file (at least {MIN_PASSPHRASE_CHARS} characters): ", hidden=True
        )
        if len(first) < MIN_PASSPHRASE_CHARS:
            print(f"too short: use at least {MIN_PASSPHRASE_CHARS} characters", file=sys.stderr)
            continue
        if read_terminal_line("Repeat the passphrase: ", hidden=True) == first:
            return first
        print("the two passphrases differ: choose it again", file=sys.stderr)


def read_terminal_line(prompt: str, hidden: bool = False) -> str:
    """One line typed at the terminal, without its echo when `hidden`.

    Waits in short select() rounds instead of one blocking read: a Ctrl-C that lands between the
    prompt and the read would otherwise be noticed only after Enter (CPython checks signals on
    EINTR), and the prompt would seem to ignore it."""
    import select
    import termios

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if hidden else None
    if saved is not None:  # echo off before the prompt, and without discarding what was typed ahead
        quiet = list(saved)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
    print(prompt, end="", file=sys.stderr, flush=True)  # stdout may be a pipe (`export > file`)
    try:
        while not select.select([fd], [], [], 0.2)[0]:
            pass
        data = os.read(fd, 4096)  # canonical mode: one line per read
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
            print(file=sys.stderr)
    if not data:
        raise KeyboardInterrupt  # end of input (Ctrl-D): cancel, as Ctrl-C does
    return data.decode(errors="replace").rstrip("\r\n")


def explain_missing_keyring(reason: str) -> str:
    """Why the key goes to a passphrase-encrypted file, and how to have a keyring instead."""
    return (
        f"No secure OS keyring here ({reason}): this is usual over SSH or on a server without a desktop "
        "login, where no Secret Service (GNOME Keyring, KWallet) runs.\n"
        "The wallet key will be kept in a file encrypted with a passphrase you choose now; `hostapp node` "
        f"asks for it when it starts (or reads ${PASSPHRASE_ENV}).\n"
        "To use a keyring instead: install gnome-keyring (e.g. `sudo apt install gnome-keyring`), log in to "
        "the desktop once, or in this shell run `dbus-run-session -- bash` then "
        "`gnome-keyring-daemon --unlock --components=secrets` (type a keyring password, Ctrl-D), and "
        "create the wallet again."
    )


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


def _price_source() -> PriceSource:
    """The token's rate for these outputs (hostapp/earnings/pricing.py); never an error: no rate, no money column."""
    from hostapp.app import load_context
    from hostapp.earnings.pricing import cli_price_source

    context = load_context()
    return cli_price_source(context.settings, context.paths.data)


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
    if sys.stdin.isatty() and not args.json and not args.yes_i_wrote_it_down:
        return create_interactively(service, args.words, args.replace)
    new = _guard(service.create, args.words, args.replace)
    if args.json:
        _print_json({"address": new.pubkey, "mnemonic": new.mnemonic, "confirm_positions": new.confirm_positions})
    else:
        print(f"Address: {new.pubkey}")
        print("Seed phrase (write it down, in order; anyone with it controls the wallet):")
        print(numbered_words(new.mnemonic))
    if args.yes_i_wrote_it_down:
        _guard(service.skip_backup_confirmation)
        if not args.json:
            print("backup check skipped (--yes-i-wrote-it-down); wallet is ready")
        return 0
    positions = ",".join(f"{p}:WORD" for p in new.confirm_positions)
    print(
        f"To finish, confirm your backup: hostapp wallet create --confirm-words '{positions}'",
        file=sys.stderr if args.json else sys.stdout,
    )
    return 0


def numbered_words(phrase: str) -> str:
    """The words numbered, down three columns (four for 24 words), as they are written on paper."""
    words = phrase.split()
    columns = 3 if len(words) <= 12 else 4
    rows = -(-len(words) // columns)
    lines = []
    for row in range(rows):
        cells = [f"{index + 1:>2}. {words[index]:<9}" for index in range(row, len(words), rows)]
        lines.append("  " + "   ".join(cells).rstrip())
    return "\n".join(lines)


def create_interactively(service: WalletService, words: int, replace: bool) -> int:
    """On a terminal: show the numbered words, ask three back (a wrong one is asked again), and only
    then store the key, so an interrupted or failed check leaves no half-made wallet behind."""
    import secrets as random_source

    from hostapp.wallet.seed import from_mnemonic, generate_mnemonic
    from hostapp.wallet.service import CONFIRM_WORDS

    existing = _guard(service.info)
    if existing is not None and existing.backup_confirmed and not replace:
        return int(
            _fail(f"a wallet already exists ({existing.pubkey}): export its backup first, then repeat with --replace")
        )
    if existing is not None and not existing.backup_confirmed:
        # Its words were never confirmed, so it was never usable: nothing to lose in replacing it.
        print(f"replacing the unfinished wallet {existing.pubkey} (its seed phrase was never confirmed)")
    phrase = _guard(generate_mnemonic, words)
    material = from_mnemonic(phrase, source="created")
    print(f"Address: {material.pubkey}")
    print("Seed phrase: write these words down on paper, in order. Anyone with them controls the wallet.")
    print(numbered_words(phrase))
    positions = sorted(random_source.SystemRandom().sample(range(1, words + 1), CONFIRM_WORDS))
    print(f"Now check your copy: type words {', '.join(map(str, positions))} from it (Ctrl-C cancels).")
    expected = phrase.split()
    for position in positions:
        while read_terminal_line(f"Word {position}: ").strip().lower() != expected[position - 1]:
            print(f"word {position} does not match: look at word {position} of your copy and type it again")
    info = _guard(service.import_key, material, replace or existing is not None)
    print(f"backup confirmed; wallet {info.pubkey} is ready (key kept in {place_name(info.backend)})")
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
        print(f"imported wallet {info.pubkey} ({info.source}); key kept in {place_name(info.backend)}")
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
    print(f"Key kept in:    {place_name(info.backend)} ({info.backend})")
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
    from hostapp.earnings.pricing import UNIT_SYMBOL, fiat_minor, fiat_text, rate_text
    from hostapp.wallet.amounts import SOL_DECIMALS, format_units

    service = _service()
    with _guard(service.chain_client, args.rpc_url) as client:
        balances = _guard(service.balances, client, args.address, args.mint)
    token = balances.token
    rate = _price_source().current()
    if args.json:
        _print_json(
            {
                "address": balances.address,
                "lamports": balances.sol,
                "token": None
                if token is None
                else {
                    "mint": balances.mint,
                    "symbol": UNIT_SYMBOL,
                    "amount": token.amount,  # base units
                    "decimals": token.decimals,
                    # minor units of `currency` (cents), rounded half to even; absent without a rate
                    **(
                        {"value_minor_units": fiat_minor(token.amount, token.decimals, rate), "currency": rate.currency}
                        if rate is not None
                        else {}
                    ),
                },
            }
        )
        return 0
    print(f"Address: {balances.address}")
    print(f"SOL:     {format_units(balances.sol, SOL_DECIMALS)}")
    if token is not None:
        money = fiat_text(token.amount, token.decimals, rate)
        print(f"{UNIT_SYMBOL + ':':<8} {format_units(token.amount, token.decimals)}{' ' + money if money else ''}")
        print(f"Mint:    {balances.mint}")
        print(f"Rate:    {rate_text(rate, token.decimals, UNIT_SYMBOL)}")
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
        return 0
    from hostapp.earnings.pricing import UNIT_SYMBOL, fiat_minor, format_fiat
    from hostapp.wallet.amounts import format_units

    rate = _price_source().current()
    value = f"  {'Value (' + rate.currency + ')':>12}" if rate is not None else ""
    print(f"{'Time (local)':<19}  {'Amount (' + UNIT_SYMBOL + ')':>16}{value}  Signature")
    for p in payouts:
        when = (
            datetime.datetime.fromtimestamp(p.block_time).isoformat(sep=" ", timespec="seconds")
            if p.block_time
            else "unknown"
        )
        money = ""
        if rate is not None:
            money = f"  {format_fiat(fiat_minor(p.amount, p.decimals, rate), rate.currency):>12}"
        print(f"{when:<19}  {format_units(p.amount, p.decimals):>16}{money}  {p.signature}")
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
        out = sys.stderr if args.json else sys.stdout
        print(plan.describe(), file=out)
        print(_fee_line(plan, decimals if asset == "token" else None), file=out)
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


def _fee_line(plan: Any, token_decimals: int | None) -> str:
    """The fee (and any rent) in SOL, in grid tokens (when sending them) and in money where a rate is known."""
    from hostapp.earnings.pricing import UNIT_SYMBOL, fee_text

    rate = _price_source().current()
    line = f"Network fee: {fee_text(plan.fee, token_decimals, UNIT_SYMBOL, rate)}"
    if plan.rent:
        line += f"; opening the recipient's account: {fee_text(plan.rent, token_decimals, UNIT_SYMBOL, rate)}"
    return line


def run_set_payout(args: argparse.Namespace) -> int:
    service = _service()
    address = _guard(service.set_payout_address, None if args.clear else args.address)
    print(f"earnings will be paid to {address}")
    return 0
