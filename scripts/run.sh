#!/usr/bin/env bash
# `make run`: set up what is missing, then start hostapp on its embedded default (local grid + chain).
# With a desktop session: the tray app (its first-run wizard creates the wallet).
# Without one (a server, an SSH session): the headless node; a wallet is created first if needed,
# interactively, with the seed-phrase backup check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec hostapp gui --show
fi

# Ready means stored and its seed phrase confirmed; an unfinished one (words never confirmed) is
# replaced by `wallet create` on a terminal, which stores nothing until the words are confirmed.
if ! hostapp wallet show --json 2>/dev/null | grep -q '"backup_confirmed": true'; then
  if [ -t 0 ]; then
    echo "run: no wallet yet; creating one (write the seed phrase down, you will be asked for 3 words)"
    hostapp wallet create
  else
    echo "run: no wallet yet and no terminal to confirm its backup: run \`hostapp wallet create\` first" >&2
    exit 1
  fi
fi
exec hostapp node
