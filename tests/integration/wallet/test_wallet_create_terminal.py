"""`hostapp wallet create` typed at a real terminal (a pty) on a machine with no Secret Service
(no D-Bus session: an SSH login, a server), the way `make run` creates the wallet there.

The key is stored only once the words are confirmed: a wrong word is asked again, Ctrl-C at any
prompt leaves no wallet behind, and the next run (and the node's key loading) works."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
from pathlib import Path

import pytest

from hostapp.wallet.seed import from_mnemonic

pytestmark = pytest.mark.keyring

ROOT = Path(__file__).resolve().parents[3]
PASSPHRASE = "correct horse battery"
GUARD_SECONDS = 120  # a hung child fails the test instead of hanging the suite; not a timing claim


class Terminal:
    """A child process on its own pty, as its controlling terminal: getpass hides echo, ^C is SIGINT."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "hostapp", *args], env)
        self.pid, self.fd, self.output = pid, fd, ""

    def expect(self, pattern: str) -> re.Match[str]:
        regex = re.compile(pattern)
        while True:
            found = regex.search(self.output)
            if found:
                self.output = self.output[found.end() :]
                return found
            ready, _, _ = select.select([self.fd], [], [], GUARD_SECONDS)
            chunk = os.read(self.fd, 4096).decode(errors="replace") if ready else ""
            if not chunk:
                raise AssertionError(f"{pattern!r} never came; the terminal showed:\n{self.output}")
            self.output += chunk.replace("\r\n", "\n")

    def send(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())

    def interrupt(self) -> None:
        os.write(self.fd, b"\x03")  # the terminal's Ctrl-C: SIGINT to the foreground process

    def exit_code(self) -> int:
        """Its exit status, once it has closed the terminal (drained, so it never blocks writing)."""
        try:
            while True:
                ready, _, _ = select.select([self.fd], [], [], GUARD_SECONDS)
                if not ready:
                    os.kill(self.pid, 9)
                    raise AssertionError(f"the child did not exit; the terminal showed:\n{self.output}")
                chunk = os.read(self.fd, 4096)
                if not chunk:
                    break
                self.output += chunk.decode(errors="replace").replace("\r\n", "\n")
        except OSError:  # EIO: the child closed the terminal
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)


@pytest.fixture
def no_secret_service(hostapp_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS", "HOSTAPP_WALLET_PASSPHRASE")}
    env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent/hostapp-test-bus"  # no Secret Service answers
    return env


def shown_words(terminal: Terminal) -> list[str]:
    grid = terminal.expect(r"Seed phrase:[^\n]*\n([\s\S]*?)Now check your copy").group(1)
    numbered = {int(n): word for n, word in re.findall(r"(\d+)\. ([a-z]+)", grid)}
    assert sorted(numbered) == list(range(1, 13))
    return [numbered[n] for n in range(1, 13)]


def wallet_files(home: Path) -> list[Path]:
    return [p for p in (home / "config" / "wallet.json", home / "data" / "wallet-secret.json") if p.exists()]


def node_key_loads(home: Path, address: str) -> None:
    """What `hostapp node` does at start (the wallet must be whole and usable), in this process."""
    from hostapp.app import load_context
    from hostapp.wallet.service import WalletService

    context = load_context()
    service = WalletService(context.paths, context.settings, passphrase=lambda _new: PASSPHRASE)
    assert service.keystore().pubkey == address


def create_with_one_wrong_word(env: dict[str, str]) -> tuple[Terminal, list[str]]:
    terminal = Terminal("wallet", "create", env=env)
    words = shown_words(terminal)
    first = int(terminal.expect(r"Word (\d+): ").group(1))
    terminal.send("notaword")
    terminal.expect(rf"word {first} does not match[^\n]*\n")
    terminal.expect(rf"Word {first}: ")  # the same word asked again, nothing stored yet
    terminal.send(words[first - 1])
    for _ in range(2):
        position = int(terminal.expect(r"Word (\d+): ").group(1))
        terminal.send(words[position - 1].upper())  # case does not matter
    return terminal, words


def test_terminal_create_without_secret_service_retries_a_wrong_word_and_asks_the_passphrase_once(
    hostapp_home: Path, no_secret_service: dict[str, str]
) -> None:
    terminal, words = create_with_one_wrong_word(no_secret_service)
    why = terminal.expect(r"No secure OS keyring here \(([^)]*)\)[\s\S]*?gnome-keyring-daemon[^\n]*\n")
    assert why.group(1)  # the reason keyring gave
    terminal.expect(r"Choose a passphrase[^:]*: ")
    terminal.send("short")
    terminal.expect(r"too short")
    terminal.expect(r"Choose a passphrase[^:]*: ")
    terminal.send(PASSPHRASE)
    terminal.expect(r"Repeat the passphrase: ")
    terminal.send(PASSPHRASE)
    ready = terminal.expect(r"wallet (\w+) is ready \(key kept in a file encrypted with your passphrase\)")
    rest = terminal.output
    assert terminal.exit_code() == 0, rest
    assert "Passphrase" not in rest  # asked once (plus its repeat), not again to confirm the words
    address = from_mnemonic(" ".join(words)).pubkey
    assert ready.group(1) == address
    node_key_loads(hostapp_home, address)


def test_ctrl_c_at_any_prompt_leaves_no_wallet_and_the_next_run_works(
    hostapp_home: Path, no_secret_service: dict[str, str]
) -> None:
    # A wallet half-made by an earlier version (words never confirmed) is replaced, not kept.
    import subprocess

    half = subprocess.run(
        [sys.executable, "-m", "hostapp", "wallet", "create"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**no_secret_service, "HOSTAPP_WALLET_PASSPHRASE": PASSPHRASE},
        timeout=GUARD_SECONDS,
        check=True,
    )
    assert "--confirm-words" in half.stdout

    terminal = Terminal("wallet", "create", env=no_secret_service)
    terminal.expect(r"replacing the unfinished wallet")
    shown_words(terminal)
    terminal.expect(r"Word \d+: ")
    terminal.interrupt()
    assert terminal.exit_code() == 130
    terminal, _words = create_with_one_wrong_word(no_secret_service)
    terminal.expect(r"Choose a passphrase[^:]*: ")
    terminal.interrupt()
    assert terminal.exit_code() == 130
    old = (hostapp_home / "config" / "wallet.json").read_text()
    assert '"backup_confirmed": false' in old  # still only the old unfinished one: nothing new half-stored

    terminal, words = create_with_one_wrong_word(no_secret_service)
    terminal.expect(r"Choose a passphrase[^:]*: ")
    terminal.send(PASSPHRASE)
    terminal.expect(r"Repeat the passphrase: ")
    terminal.send(PASSPHRASE)
    terminal.expect(r"is ready")
    assert terminal.exit_code() == 0
    node_key_loads(hostapp_home, from_mnemonic(" ".join(words)).pubkey)


def test_ctrl_c_on_a_fresh_machine_stores_nothing(hostapp_home: Path, no_secret_service: dict[str, str]) -> None:
    terminal = Terminal("wallet", "create", env=no_secret_service)
    shown_words(terminal)
    terminal.expect(r"Word \d+: ")
    terminal.interrupt()
    assert terminal.exit_code() == 130
    assert wallet_files(hostapp_home) == []
