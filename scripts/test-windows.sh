#!/usr/bin/env bash
# The Windows build under Wine: `make windows`, then tests/windows in a fresh Wine prefix: the
# setup.exe installs silently; against the installed program: --version, doctor --json, wallet in the
# Credential Manager + a secret scan of the prefix, autostart Run value, GetLastInputInfo idle time, the
# loopback control channel, a screenshot of the tray app's dashboard (build/windows-screenshots/); then
# the uninstaller runs silently (program gone, wallet/settings/ledger kept). About 4 minutes after the
# build. Not in `make test`: it needs Wine and the Windows build (scripts/build-windows.sh lists the
# packages), plus xvfb, xdotool and imagemagick.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-windows.sh >/dev/null
exec .venv/bin/pytest -m windows -p no:cacheprovider tests/windows "$@"
