#!/usr/bin/env bash
# The Windows build under Wine: `make windows`, then tests/windows in a fresh Wine prefix
# (--version, doctor --json, wallet in the Credential Locker + a secret scan of the prefix,
# autostart Run value, GetLastInputInfo idle time, the loopback control channel). Not in `make test`:
# it needs wine, mingw-w64 and the Windows build (scripts/build-windows.sh lists the packages).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-windows.sh >/dev/null
exec .venv/bin/pytest -m windows -p no:cacheprovider tests/windows "$@"
