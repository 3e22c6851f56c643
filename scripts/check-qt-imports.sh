#!/usr/bin/env bash
# The core never imports Qt (docs/architecture.md). ruff's banned-api rule catches `import PySide6`;
# this also catches dynamic imports (importlib, __import__) that a linter cannot see.
set -euo pipefail
cd "$(dirname "$0")/.."
leaks=$(grep -rnE "(^\s*(from|import)\s+(PySide6|PyQt5|PyQt6|shiboken6))|import_module\(['\"](PySide6|PyQt)|__import__\(['\"](PySide6|PyQt)" hostapp --include='*.py' | grep -v '^hostapp/gui/' || true)
if [ -n "$leaks" ]; then
  echo "Qt imported outside hostapp/gui:" >&2; echo "$leaks" >&2; exit 1
fi
echo "ok: no Qt outside hostapp/gui"
