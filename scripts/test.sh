#!/usr/bin/env bash
# The whole test suite, as CI runs it: setup, lint, types, the Qt-import rule, then pytest inside
# a D-Bus session with an unlocked gnome-keyring (a real Secret Service) and Qt offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy (strict, GUI included)"; mypy
echo "== Qt stays in hostapp/gui"; bash scripts/check-qt-imports.sh
echo "== pytest"
# The .deb test builds a PyInstaller bundle (minutes): `make test-package` runs it, and so does CI.
exec dbus-run-session -- bash scripts/with-keyring.sh pytest --deselect tests/integration/installers/test_deb_package.py "$@"
